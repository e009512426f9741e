"""CommonMark rendered from markdown-it-py's token tree (never with regular expressions on
the source) as Telegram HTML, Slack ``mrkdwn`` or plain text."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from imcli.markup._parse import parser, tree

if TYPE_CHECKING:  # pragma: no cover
    from markdown_it.tree import SyntaxTreeNode

HR_LINE = "———"
BULLET = "•"

# --------------------------------------------------------------------------- escaping


def escape_html(s: str) -> str:
    """Escape ``&``, ``<``, ``>`` and ``"`` for Telegram's HTML parse mode."""
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def _escape_slack(s: str) -> str:
    """Slack's "Escaping text": only ``&``, ``<`` and ``>`` are control characters."""
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


# --------------------------------------------------------------------------- links


def _scheme(url: str) -> str:
    head, sep, _ = url.partition(":")
    if not sep or not head or not head[0].isalpha():
        return ""
    if not all(c.isalnum() or c in "+-." for c in head):
        return ""
    return head.lower()


def _has_bad_chars(url: str) -> bool:
    return any(c.isspace() or ord(c) < 0x20 or ord(c) == 0x7F for c in url)


def _is_web_url(url: str) -> bool:
    scheme = _scheme(url)
    if _has_bad_chars(url):
        return False
    if scheme in ("http", "https"):
        rest = url[len(scheme) + 1 :]
        return rest.startswith("//") and len(rest) > 2 and rest[2] not in "/?#"
    return False


# --------------------------------------------------------------------------- rendering


@dataclass
class _Ctx:
    """Inline context: which formats are open around the current node."""

    link: bool = False
    strong: bool = False
    em: bool = False
    strike: bool = False
    quote: int = 0  # blockquote depth

    def but(self, **kw: Any) -> _Ctx:
        values = {**self.__dict__, **kw}
        return _Ctx(**values)


def _prefix_lines(text: str, first: str, rest: str) -> str:
    lines = text.split("\n")
    out = []
    for n, line in enumerate(lines):
        pre = first if n == 0 else rest
        out.append(pre + line if line else pre.rstrip())
    return "\n".join(out)


def _plain_inline(node: SyntaxTreeNode) -> str:
    """The bare text of an inline subtree (for alt texts and link labels)."""
    parts: list[str] = []
    for child in node.children:
        t = child.type
        if t in ("text", "code_inline", "html_inline"):
            parts.append(child.content)
        elif t in ("softbreak", "hardbreak"):
            parts.append("\n")
        else:
            parts.append(_plain_inline(child))
    return "".join(parts)


class _Renderer:
    """Block layout shared by the three flavours; subclasses do inline formatting."""

    block_sep = "\n\n"

    def render(self, md: str) -> str:
        root = tree(md)
        return self.blocks(root.children, _Ctx(), self.block_sep).strip("\n")

    # -- blocks -------------------------------------------------------------------

    def blocks(self, nodes: list[SyntaxTreeNode], ctx: _Ctx, sep: str) -> str:
        out = [self.block(n, ctx) for n in nodes]
        return sep.join(b for b in out if b.strip())

    def block(self, node: SyntaxTreeNode, ctx: _Ctx) -> str:
        t = node.type
        if t == "paragraph":
            return self.inline_children(node, ctx)
        if t == "heading":
            return self.heading(self.inline_children(node, ctx.but(strong=True)))
        if t in ("bullet_list", "ordered_list"):
            return self.list_(node, ctx)
        if t == "blockquote":
            return self.blockquote(node, ctx)
        if t == "fence":
            lang = (node.info or "").strip().split(maxsplit=1)
            return self.code_block(node.content, lang[0] if lang else "")
        if t == "code_block":
            return self.code_block(node.content, "")
        if t == "html_block":
            return self.text(node.content.rstrip("\n"))
        if t == "hr":
            return HR_LINE
        if t == "table":
            return self.table(node, ctx)
        if t == "inline":
            return self.inline(node, ctx)
        # anything unknown: render its children as blocks
        return self.blocks(node.children, ctx, self.block_sep)

    def inline_children(self, node: SyntaxTreeNode, ctx: _Ctx) -> str:
        return "".join(self.inline(c, ctx) for c in node.children)

    def heading(self, inner: str) -> str:
        return self.strong(inner)

    def list_(self, node: SyntaxTreeNode, ctx: _Ctx) -> str:
        ordered = node.type == "ordered_list"
        try:
            number = int(node.attrs.get("start", 1)) if ordered else 1
        except (TypeError, ValueError):
            number = 1
        delim = node.markup if node.markup in (".", ")") else "."
        items = []
        for item in node.children:
            marker = f"{number}{delim} " if ordered else f"{BULLET} "
            number += 1
            body = self.blocks(item.children, ctx, "\n")
            items.append(_prefix_lines(body, marker, " " * len(marker)))
        return "\n".join(items)

    def blockquote(self, node: SyntaxTreeNode, ctx: _Ctx) -> str:
        inner = self.blocks(node.children, ctx.but(quote=ctx.quote + 1), "\n")
        if ctx.quote or not inner.strip():
            return inner
        return self.quote(inner)

    def table(self, node: SyntaxTreeNode, ctx: _Ctx) -> str:
        rows: list[str] = []
        for section in node.children:
            head = section.type == "thead"
            cell_ctx = ctx.but(strong=True) if head else ctx
            for tr in section.children:
                row = " | ".join(self.inline_children(cell, cell_ctx) for cell in tr.children)
                rows.append(self.strong(row) if head and row.strip() else row)
        return "\n".join(rows)

    # -- inline -------------------------------------------------------------------

    def inline(self, node: SyntaxTreeNode, ctx: _Ctx) -> str:
        t = node.type
        if t == "inline":
            return self.inline_children(node, ctx)
        if t == "text":
            return self.text(node.content)
        if t in ("softbreak", "hardbreak"):
            return "\n"
        if t == "code_inline":
            return self.code_inline(node.content, ctx)
        if t == "html_inline":
            return self.text(node.content)
        if t == "strong":
            inner = self.inline_children(node, ctx.but(strong=True))
            return inner if ctx.strong else self.strong(inner)
        if t == "em":
            inner = self.inline_children(node, ctx.but(em=True))
            return inner if ctx.em else self.em(inner)
        if t == "s":
            inner = self.inline_children(node, ctx.but(strike=True))
            return inner if ctx.strike else self.strike(inner)
        if t == "link":
            return self.link(node, ctx)
        if t == "image":
            return self.image(node, ctx)
        return self.inline_children(node, ctx)

    def text(self, s: str) -> str:
        raise NotImplementedError

    def strong(self, inner: str) -> str:
        return inner

    def em(self, inner: str) -> str:
        return inner

    def strike(self, inner: str) -> str:
        return inner

    def code_inline(self, code: str, ctx: _Ctx) -> str:
        return self.text(code)

    def code_block(self, code: str, lang: str) -> str:
        raise NotImplementedError

    def quote(self, inner: str) -> str:
        raise NotImplementedError

    def link(self, node: SyntaxTreeNode, ctx: _Ctx) -> str:
        raise NotImplementedError

    def image(self, node: SyntaxTreeNode, ctx: _Ctx) -> str:
        raise NotImplementedError


def _href(node: SyntaxTreeNode, attr: str = "href") -> str:
    value = node.attrs.get(attr, "")
    return value if isinstance(value, str) else str(value)


_LANG_OK = re.compile(r"[A-Za-z0-9_+#.\-]+")


class _TelegramRenderer(_Renderer):
    def text(self, s: str) -> str:
        return escape_html(s)

    def strong(self, inner: str) -> str:
        return f"<b>{inner}</b>" if inner else ""

    def em(self, inner: str) -> str:
        return f"<i>{inner}</i>" if inner else ""

    def strike(self, inner: str) -> str:
        return f"<s>{inner}</s>" if inner else ""

    def code_inline(self, code: str, ctx: _Ctx) -> str:
        if ctx.link or not code:  # a link can't contain a code entity
            return escape_html(code)
        return f"<code>{escape_html(code)}</code>"

    def code_block(self, code: str, lang: str) -> str:
        code = code.rstrip("\n")
        if not code.strip():
            return ""
        lang = "".join(_LANG_OK.findall(lang))
        if lang:
            return (
                f'<pre><code class="language-{escape_html(lang)}">{escape_html(code)}</code></pre>'
            )
        return f"<pre>{escape_html(code)}</pre>"

    def quote(self, inner: str) -> str:
        return f"<blockquote>{inner}</blockquote>"

    def link(self, node: SyntaxTreeNode, ctx: _Ctx) -> str:
        url = _href(node)
        inner = self.inline_children(node, ctx.but(link=True))
        if ctx.link or not _telegram_url_ok(url):
            return inner
        if not inner.strip():
            inner = escape_html(url)
        return f'<a href="{escape_html(url)}">{inner}</a>'

    def image(self, node: SyntaxTreeNode, ctx: _Ctx) -> str:
        url = _href(node, "src")
        alt = _plain_inline(node) or "image"
        if ctx.link or not _telegram_url_ok(url):
            return escape_html(alt)
        return f'<a href="{escape_html(url)}">{escape_html(alt)}</a>'


def _telegram_url_ok(url: str) -> bool:
    if _is_web_url(url):
        return True
    return _scheme(url) == "tg" and not _has_bad_chars(url) and len(url) > 5


class _SlackRenderer(_Renderer):
    def text(self, s: str) -> str:
        return _escape_slack(s)

    def strong(self, inner: str) -> str:
        return f"*{inner}*" if inner.strip() else inner

    def em(self, inner: str) -> str:
        return f"_{inner}_" if inner.strip() else inner

    def strike(self, inner: str) -> str:
        return f"~{inner}~" if inner.strip() else inner

    def code_inline(self, code: str, ctx: _Ctx) -> str:
        if ctx.link or not code.strip():
            return _escape_slack(code)
        return f"`{_escape_slack(code)}`"

    def code_block(self, code: str, lang: str) -> str:
        code = code.rstrip("\n")
        if not code.strip():
            return ""
        return f"```\n{_escape_slack(code)}\n```"

    def quote(self, inner: str) -> str:
        return _prefix_lines(inner, "> ", "> ")

    def _label(self, text: str) -> str:
        # The label may hold neither a newline nor a "|" (which would end the URL part).
        return " ".join(_escape_slack(text).split()).replace("|", "¦")

    def link(self, node: SyntaxTreeNode, ctx: _Ctx) -> str:
        url = _href(node)
        if ctx.link or not _slack_url_ok(url):
            return self.inline_children(node, ctx.but(link=True))
        label = self._label(_plain_inline(node))
        if not label or label == _escape_slack(url) or "mailto:" + label == url:
            return f"<{_escape_slack(url)}>"
        return f"<{_escape_slack(url)}|{label}>"

    def image(self, node: SyntaxTreeNode, ctx: _Ctx) -> str:
        url = _href(node, "src")
        alt = _plain_inline(node) or "image"
        if ctx.link or not _slack_url_ok(url):
            return _escape_slack(alt)
        return f"<{_escape_slack(url)}|{self._label(alt)}>"


def _slack_url_ok(url: str) -> bool:
    if _is_web_url(url):
        return True
    return _scheme(url) == "mailto" and not _has_bad_chars(url) and "@" in url


class _PlainRenderer(_Renderer):
    def text(self, s: str) -> str:
        return s

    def code_block(self, code: str, lang: str) -> str:
        return code.rstrip("\n")

    def quote(self, inner: str) -> str:
        return _prefix_lines(inner, "│ ", "│ ")

    def link(self, node: SyntaxTreeNode, ctx: _Ctx) -> str:
        inner = self.inline_children(node, ctx.but(link=True))
        url = _href(node)
        if ctx.link or not url or _has_bad_chars(url):
            return inner
        shown = _display_url(url)
        if _scheme(shown) == "mailto":
            shown = shown[len("mailto:") :]
        if not inner.strip():
            return shown
        if inner in (shown, url):
            return inner
        return f"{inner} ({shown})"

    def image(self, node: SyntaxTreeNode, ctx: _Ctx) -> str:
        url = _href(node, "src")
        alt = _plain_inline(node)
        if ctx.link or not url or _has_bad_chars(url):
            return alt
        url = _display_url(url)
        return f"{alt} ({url})" if alt.strip() else url


def _display_url(url: str) -> str:
    """The URL as a reader would type it (percent-escapes of non-ASCII decoded)."""
    try:
        return str(parser().normalizeLinkText(url))
    except Exception:  # pragma: no cover - a malformed escape: show it as it is
        return url


def to_telegram_html(md: str) -> str:
    """Render CommonMark as Telegram HTML (``parse_mode=HTML``).

    Only ``b``, ``i``, ``s``, ``code``, ``pre`` (``<pre><code class="language-x">`` for a
    fenced block with an info string), ``a href`` and ``blockquote`` are produced, always
    balanced and properly nested; every character of text is escaped (``& < > "``), raw
    HTML in the source shows as text. Headings become bold lines, list items
    ``• item`` / ``1. item`` lines (nested ones indented), images links to the image,
    rules a ``———`` line, table rows lines of `` | ``-separated cells. Links whose URL is
    not absolute ``http(s)://`` (or ``tg://``) keep only their text.
    """
    return _TelegramRenderer().render(md)


def to_slack_mrkdwn(md: str) -> str:
    """Render CommonMark as Slack ``mrkdwn`` (``*bold*``, ``_italic_``, ``~strike~``,
    `` `code` ``, fenced blocks, ``<url|text>``, ``• `` lists, ``> `` quotes), with
    ``&``, ``<`` and ``>`` of the text escaped as Slack asks."""
    return _SlackRenderer().render(md)


def to_plain_text(md: str) -> str:
    """Render CommonMark as readable plain text: no markup characters, links as
    ``text (url)``, lists as ``• item`` lines, headings on their own lines, code blocks as
    their content, quotes prefixed with ``│ ``."""
    return _PlainRenderer().render(md)
