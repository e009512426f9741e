"""Splitting of long texts into rendered chunks that each fit a platform's limit, and the
measures (UTF-16 units, UTF-8 bytes, Telegram's visible length) that limits are counted in."""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from imcli.markup._parse import parser, tree

if TYPE_CHECKING:  # pragma: no cover
    from markdown_it.tree import SyntaxTreeNode

# --------------------------------------------------------------------------- measures


def utf16_len(s: str) -> int:
    """Length in UTF-16 code units (how Telegram counts message length and offsets)."""
    return len(s.encode("utf-16-le", "surrogatepass")) // 2


def utf8_len(s: str) -> int:
    """Length in UTF-8 bytes (how WeCom counts its 2048-byte text limit)."""
    return len(s.encode("utf-8", "surrogatepass"))


_TAG_RE = re.compile(r"<[^<>]*>")


def telegram_visible_len(html_text: str) -> int:
    """Length, in UTF-16 units, of the text Telegram shows for *html_text*.

    Tags are dropped and entities decoded: Telegram's 4096-character limit applies to the
    text after entity parsing. Meant for output of :func:`to_telegram_html` (where every
    ``<`` of the text is escaped, so every ``<`` starts a tag).
    """
    return utf16_len(html.unescape(_TAG_RE.sub("", html_text)))


# --------------------------------------------------------------------------- splitting


@dataclass(eq=False)
class _Group:
    """Lines that must wrap every piece of a split block (a fence, a table header)."""

    prefix: str
    suffix: str


@dataclass(eq=False)
class _Atom:
    """A run of source text that is packed into chunks as a whole."""

    text: str
    top: int  # index of the top-level block it comes from
    cont: bool  # starts after the first line of its top-level block
    lines: list[str] = field(default_factory=list)  # set while it is whole source lines
    node: SyntaxTreeNode | None = None  # the block it covers, while it can be refined
    group: _Group | None = None
    code: bool = False  # an indented code block's line
    start: int = 0  # number of its first source line, while it has a node


def _split_lines(text: str) -> list[str]:
    parts = text.split("\n")
    lines = [p + "\n" for p in parts[:-1]]
    if parts[-1]:
        lines.append(parts[-1])
    return lines


def _indent_width(line: str) -> int:
    return len(line) - len(line.lstrip(" \t"))


def _dedent(text: str, k: int) -> str:
    if k <= 0:
        return text
    out = []
    for line in _split_lines(text):
        out.append(line[min(k, _indent_width(line)) :])
    return "".join(out)


def _md_label_escape(s: str) -> str:
    return "".join("\\" + c if c in '\\"&' else c for c in s)


class _Splitter:
    def __init__(
        self,
        source: str,
        markdown: bool,
        render: Callable[[str], str],
        limit: int,
        measure: Callable[[str], int],
    ) -> None:
        self.render = render
        self.limit = limit
        self.measure = measure
        self.markdown = markdown
        self.refs: dict[str, Any] = {}
        self.source = re.sub(r"\r\n?", "\n", source)
        self.lines = _split_lines(self.source)
        self.atoms = self._top_atoms()

    # -- atoms ----------------------------------------------------------------------

    def _top_atoms(self) -> list[_Atom]:
        lines = self.lines
        if not self.markdown:
            return [_Atom(line, n, False, [line]) for n, line in enumerate(lines)]
        env: dict[str, Any] = {}
        root = tree(self.source, env)
        self.refs = dict(env.get("references") or {})
        blocks = [c for c in root.children if c.map]
        if not blocks:
            return [_Atom("".join(lines), 0, False, list(lines))] if lines else []
        starts = [0] + [b.map[0] for b in blocks[1:]] + [len(lines)]  # type: ignore[index]
        atoms = []
        for n, b in enumerate(blocks):
            seg = lines[starts[n] : starts[n + 1]]
            if seg:
                atoms.append(_Atom("".join(seg), n, False, seg, b, start=starts[n]))
        return atoms

    def _line_atoms(
        self, atom: _Atom, lines: list[str], first_cont: bool, **kw: Any
    ) -> list[_Atom]:
        return [
            _Atom(line, atom.top, first_cont if n == 0 else True, [line], **kw)
            for n, line in enumerate(lines)
        ]

    def _refine(self, atom: _Atom) -> list[_Atom] | None:
        """Split an atom that is too long alone into smaller atoms (or None)."""
        node = atom.node
        lines = atom.lines
        if node is not None and node.map is not None and lines:
            a = max(0, min(node.map[0] - atom.start, len(lines)))  # the node inside atom
            b = max(a, min(node.map[1] - atom.start, len(lines)))
            head = self._line_atoms(atom, lines[:a], atom.cont) if a else []
            tail = self._line_atoms(atom, lines[b:], True) if b < len(lines) else []
            body_cont = atom.cont or a > 0
            body = self._refine_node(atom, node, lines[a:b], body_cont)
            if body is not None:
                return head + body + tail
        if atom.lines and len(atom.lines) > 1:
            return self._line_atoms(atom, atom.lines, atom.cont, group=atom.group, code=atom.code)
        return self._hard_split(atom)

    def _refine_node(
        self, atom: _Atom, node: SyntaxTreeNode, lines: list[str], cont: bool
    ) -> list[_Atom] | None:
        if not lines:
            return []
        t = node.type
        if t == "fence":
            return self._group_atoms(atom, node, lines, cont)
        if t == "table" and len(lines) > 2:
            group = _Group("".join(lines[:2]), "")
            if self._fits_group_empty(group, atom):
                return self._line_atoms(atom, lines[2:], cont, group=group)
            return None
        if t == "code_block":
            return self._line_atoms(atom, lines, cont, code=True)
        kids = [c for c in node.children if c.map is not None and c.type != "inline"]
        if t in ("bullet_list", "ordered_list", "list_item", "blockquote") and kids:
            start = node.map[0]  # type: ignore[index]
            cuts = [0] + [k.map[0] - start for k in kids[1:]] + [len(lines)]  # type: ignore[index]
            out: list[_Atom] = []
            for n, kid in enumerate(kids):
                seg = lines[cuts[n] : cuts[n + 1]]
                if not seg:
                    continue
                sub_cont = cont or n > 0
                out.append(_Atom("".join(seg), atom.top, sub_cont, seg, kid, start=start + cuts[n]))
            return out
        return None

    def _group_atoms(
        self, atom: _Atom, node: SyntaxTreeNode, lines: list[str], cont: bool
    ) -> list[_Atom] | None:
        # closed: opening line, content lines, closing line; unclosed: no closing line
        closed = len(_split_lines(node.content)) == len(lines) - 2
        body = lines[1:-1] if closed else lines[1:]
        if not body:
            return None
        opening = lines[0] if lines[0].endswith("\n") else lines[0] + "\n"
        if closed:
            closing = lines[-1]
        else:
            markup = node.markup or "```"
            pos = opening.find(markup)
            lead = opening[: max(pos, 0)]
            lead = "".join(c if c in " \t>" else " " for c in lead)
            closing = lead + markup + "\n"
        group = _Group(opening, closing)
        if not self._fits_group_empty(group, atom):
            return None
        return self._line_atoms(atom, body, cont, group=group)

    def _fits_group_empty(self, group: _Group, atom: _Atom) -> bool:
        probe = _Atom("", atom.top, True, [], group=group)
        return self._fits([probe])[0]

    #: a remainder longer than this many limits is cut again at once, without rendering
    #: it whole first (which made a line of megabytes take quadratic time)
    FAR_TOO_LONG = 16

    def _hard_split(self, atom: _Atom) -> list[_Atom] | None:
        """Cut a single line that is too long alone: the longest prefix that fits, and the
        rest; a rest far too long is cut the same way right away (each piece is still
        measured, so every chunk fits; only a rendering that shrinks the source sixteen
        times over could have packed more into one chunk)."""
        pieces: list[_Atom] = []
        while True:
            cut = self._cut_once(atom)
            if cut is None:
                return pieces + [atom] if pieces else None
            first, atom = cut
            pieces.append(first)
            if len(atom.text) <= self.FAR_TOO_LONG * self.limit:
                return pieces + [atom]

    def _cut_once(self, atom: _Atom) -> tuple[_Atom, _Atom] | None:
        s = atom.text
        n = len(s)
        if n < 2:
            return None

        def size(p: int) -> int:  # the measured size of the rendered prefix s[:p]
            piece = _Atom(s[:p], atom.top, atom.cont, group=atom.group, code=atom.code)
            return self.measure(self.render(self._build([piece])))

        # The longest prefix that fits: s[:lo] fits (or lo == 0), s[:hi] does not. The
        # probes follow the measured sizes (rendering may shrink the source many times
        # over, e.g. links whose URLs are not counted), with a bisection whenever a probe
        # did not halve the bracket, so the search is never slower than bisecting.
        lo, hi, size_lo, size_hi = 0, n, 0, -1
        probe = min(n - 1, self.limit)
        while hi - lo > 1:
            before = hi - lo
            m = size(probe)
            if m <= self.limit:
                lo, size_lo = probe, m
            else:
                hi, size_hi = probe, m
            if hi - lo <= 1:
                break
            if size_hi < 0:  # no probe failed yet: extrapolate, at most 8 times as far
                probe = min(lo * 8, lo * self.limit // max(size_lo, 1))
            elif hi - lo > before // 2:  # the last probe gained too little: bisect
                probe = (lo + hi) // 2
            else:  # interpolate between the sizes of the bracket's ends
                probe = lo + (hi - lo) * (self.limit - size_lo) // max(size_hi - size_lo, 1)
            probe = min(max(probe, lo + 1), hi - 1)
        cut = lo
        while cut > 0 and not _is_boundary(s, cut):
            cut -= 1
        if cut == 0:
            if lo == 0:  # not even one character fits
                return None
            cut = lo  # one user-perceived character is longer than the limit: cut it
        # prefer to cut after whitespace in the second half of the piece
        for k in range(cut - 1, cut // 2, -1):
            if s[k].isspace() and _is_boundary(s, k + 1):
                cut = k + 1
                break
        first = _Atom(s[:cut], atom.top, atom.cont, group=atom.group, code=atom.code)
        rest = _Atom(s[cut:], atom.top, True, group=atom.group, code=atom.code)
        return first, rest

    # -- chunks ---------------------------------------------------------------------

    def _build(self, atoms: list[_Atom]) -> str:
        segs: list[tuple[int, str]] = []
        k = 0
        while k < len(atoms):
            a = atoms[k]
            if a.group is None:
                segs.append((a.top, a.text))
                k += 1
                continue
            g = a.group
            body = []
            while k < len(atoms) and atoms[k].group is g:
                body.append(atoms[k].text)
                k += 1
            text = "".join(body)
            if text and not text.endswith("\n"):
                text += "\n"
            segs.append((a.top, g.prefix + text + g.suffix))
        first = atoms[0]
        if first.cont and self.markdown:
            head = "".join(t for top, t in segs if top == first.top)
            rest = "".join(t for top, t in segs if top != first.top)
            k_indent = 0
            for line in _split_lines(head):
                if line.strip():
                    k_indent = _indent_width(line)
                    break
            code_first = next((a.code for a in atoms if a.text.strip()), False)
            if code_first:
                k_indent = max(0, k_indent - 4)
            src = _dedent(head, k_indent) + rest
        else:
            src = "".join(t for _, t in segs)
        # drop blank lines at the cut points
        lines = _split_lines(src)
        while lines and not lines[0].strip():
            lines.pop(0)
        src = "".join(lines).rstrip()
        if self.refs and src:
            src = self._with_refs(src)
        return src

    def _with_refs(self, src: str) -> str:
        """Append the definitions of the reference links that *src* uses but whose
        definition is in another chunk, so that ``[text][label]`` still renders as a link."""
        flat = " ".join(src.split()).lower().upper()
        wanted = [label for label in self.refs if f"[{label}]" in flat]
        if not wanted:
            return src
        env: dict[str, Any] = {}
        parser().parse(src, env)
        own = env.get("references") or {}
        defs = []
        for label in wanted:
            ref = self.refs[label]
            if label in own or not isinstance(ref, dict):
                continue
            href = str(ref.get("href", "")).replace("\\", "%5C").replace("&", "\\&")
            line = f"[{label}]: <{href}>"
            title = ref.get("title")
            if title:
                line += f' "{_md_label_escape(str(title))}"'
            defs.append(line)
        if not defs:
            return src
        full = src + "\n\n" + "\n".join(defs)
        # If the chunk ends in a block that would swallow the definitions (an unclosed
        # fence or HTML block), leave them out.
        n = len(_split_lines(src))
        for token in parser().parse(full, {}):
            if token.level == 0 and token.map and token.map[1] > n:
                return src
        return full

    def _fits(self, atoms: list[_Atom]) -> tuple[bool, str]:
        rendered = self.render(self._build(atoms))
        return self.measure(rendered) <= self.limit, rendered

    def chunks(self) -> Iterator[str]:
        atoms = self.atoms
        i = 0
        while i < len(atoms):
            ok, rendered = self._fits(atoms[i : i + 1])
            if not ok:
                sub = self._refine(atoms[i])
                if not sub:
                    raise ValueError(
                        f"limit {self.limit} is too small for the text {atoms[i].text[:20]!r}"
                    )
                atoms[i : i + 1] = sub
                continue
            end, best = i + 1, rendered
            while True:
                end, best = self._extend(i, end, best)
                if end >= len(atoms):
                    break
                # The next atom does not fit beside the chunk. If it is too long even
                # alone, it will be cut anyway: cut it now and fill this chunk first.
                nxt = atoms[end]
                if self._fits([nxt])[0]:
                    break
                sub = self._refine(nxt)
                if not sub:
                    break
                atoms[end : end + 1] = sub
            if best.strip():
                yield best
            i = end

    def _extend(self, i: int, lo: int, best: str) -> tuple[int, str]:
        """The largest ``end >= lo`` whose chunk ``atoms[i:end]`` fits, and its rendering.

        ``atoms[i:lo]`` is known to fit (rendered as *best*). Gallops from a first guess
        (as many atoms as the limit would hold in source characters), then bisects.
        """
        atoms = self.atoms
        n = len(atoms)
        hi = n + 1  # atoms[i:hi] is not known to fit
        size, guess = 0, i
        while guess < n and size + len(atoms[guess].text) <= self.limit:
            size += len(atoms[guess].text)
            guess += 1
        step = 1
        probe = max(guess, lo + 1)
        while probe <= n:
            ok, rendered = self._fits(atoms[i:probe])
            if not ok:
                hi = probe
                break
            lo, best = probe, rendered
            probe = lo + step
            step *= 2
        hi = min(hi, n + 1)
        while hi - lo > 1:
            mid = (lo + hi) // 2
            ok, rendered = self._fits(atoms[i:mid])
            if ok:
                lo, best = mid, rendered
            else:
                hi = mid
        return lo, best


def _is_boundary(s: str, i: int) -> bool:
    """May *s* be cut before index *i* without splitting a user-perceived character?"""
    if i <= 0 or i >= len(s):
        return True
    c, p = s[i], s[i - 1]
    oc, op = ord(c), ord(p)
    if p == "\r" and c == "\n":
        return False
    if 0xDC00 <= oc <= 0xDFFF and 0xD800 <= op <= 0xDBFF:
        return False
    if c == "\u200d" or p == "\u200d":
        return False
    if unicodedata.category(c) in ("Mn", "Mc", "Me"):
        return False
    if 0x1F3FB <= oc <= 0x1F3FF or 0xE0020 <= oc <= 0xE007F or 0xFE00 <= oc <= 0xFE0F:
        return False
    if 0x1160 <= oc <= 0x11FF and 0x1100 <= op <= 0x11FF:  # Hangul jamo V/T after L/V
        return False
    if 0x1F1E6 <= oc <= 0x1F1FF and 0x1F1E6 <= op <= 0x1F1FF:
        run = 0
        j = i - 1
        while j >= 0 and 0x1F1E6 <= ord(s[j]) <= 0x1F1FF:
            run += 1
            j -= 1
        return run % 2 == 0
    return True


def split_source(
    source: str,
    *,
    markdown: bool,
    render: Callable[[str], str],
    limit: int,
    measure: Callable[[str], int],
) -> list[str]:
    """Split *source* into rendered chunks with ``measure(chunk) <= limit`` each.

    The source is cut at its line boundaries and each part rendered with *render*;
    consecutive parts are packed greedily into as few chunks as fit. With
    ``markdown=True`` the cuts fall between top-level CommonMark blocks; a block that is
    too long alone is cut between its child blocks (list items, quoted blocks), then
    between its lines. A fenced code block is never cut unless it alone is too long; then
    it becomes several complete fenced blocks (a table likewise repeats its header). A
    single line longer than the limit is cut between characters (never inside a
    surrogate pair or a combining sequence), after whitespace where possible.

    Nothing is lost: the chunks hold all of the source's text, in order, except for
    whitespace at the cut points. An empty source gives ``[]``; chunks that render to
    whitespace only are dropped. ``ValueError`` when the limit cannot hold even one
    character.
    """
    if limit < 1:
        raise ValueError("limit must be at least 1")
    if not source or not source.strip():
        return []
    return list(_Splitter(source, markdown, render, limit, measure).chunks())
