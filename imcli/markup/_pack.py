"""Packing a push's texts into messages: the one packer every adapter uses, driven by
the platform's limits and measures (adapters do not split text themselves)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TypeVar

from imcli.markup._split import split_source


def pack(
    texts: list[tuple[str, bool]],
    *,
    limit: int,
    measure: Callable[[str], int],
    plain: Callable[[str], str],
    markdown: Callable[[str], str],
) -> list[str]:
    """Texts as messages of at most ``limit`` (as ``measure`` counts), each cut at its
    source's line boundaries (never inside a code block) and packed greedily, joined by
    a blank line; markdown items rendered with ``markdown``, the others with ``plain``."""
    out: list[str] = []
    for text, md in texts:
        if not text or not text.strip():
            continue
        for piece in split_source(
            text, markdown=md, render=markdown if md else plain, limit=limit, measure=measure
        ):
            if out and measure(out[-1] + "\n\n" + piece) <= limit:
                out[-1] += "\n\n" + piece
            else:
                out.append(piece)
    return [p for p in out if p.strip()]


def pack_titled(
    title: str | None,
    texts: list[tuple[str, bool]],
    *,
    heading: Callable[[str], str],
    limit: int,
    measure: Callable[[str], int],
    plain: Callable[[str], str],
    markdown: Callable[[str], str],
) -> list[str]:
    """:func:`pack` with the title as ``heading(title)`` on the first message; a title
    alone is the text, and one that would take over half a message is a message of its
    own (as a plain line) before the texts."""
    texts = [(t, md) for t, md in texts if t and t.strip()]
    head = ""
    if title and title.strip():
        if not texts:
            texts = [(title.strip(), False)]
        else:
            head = heading(title.strip())
            if measure(head) > limit // 2:  # it would leave no room for the text
                texts, head = [(title.strip(), False), *texts], ""
    chunks = pack(
        texts, limit=limit - measure(head), measure=measure, plain=plain, markdown=markdown
    )
    if chunks and head:
        chunks[0] = head + chunks[0]
    return chunks


T = TypeVar("T")


def pack_groups(items: Iterable[T], fits: Callable[[int, list[T]], bool]) -> list[list[T]]:
    """``items`` in order, in groups packed greedily: an item joins the group being filled
    while ``fits(n, group)`` holds for the group with it (``n``: the group's index, the
    first may carry a title); a group holds at least one item."""
    groups: list[list[T]] = []
    current: list[T] = []
    for item in items:
        if current and not fits(len(groups), [*current, item]):
            groups.append(current)
            current = []
        current.append(item)
    if current:
        groups.append(current)
    return groups


def keep(text: str) -> str:
    return text
