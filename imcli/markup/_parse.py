"""The CommonMark parser shared by the renderer and the splitter.

markdown-it-py is imported only when a text is parsed, so that importing :mod:`imcli.markup`
costs only the standard library.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from markdown_it import MarkdownIt
    from markdown_it.tree import SyntaxTreeNode


@functools.lru_cache(maxsize=1)
def parser() -> MarkdownIt:
    """CommonMark with tables and strikethrough (GFM's two extensions chat users write)."""
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark").enable(["table", "strikethrough"])


def tree(md: str, env: dict[str, Any] | None = None) -> SyntaxTreeNode:
    """The syntax tree of *md*; *env* receives the reference definitions."""
    from markdown_it.tree import SyntaxTreeNode

    return SyntaxTreeNode(parser().parse(md, {} if env is None else env))
