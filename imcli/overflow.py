"""Overflow: a text that would take more than ``max_parts`` messages is not sprayed into
a chat.

* Where the platform takes files, the push becomes the first part, ending with a line
  saying the rest is attached, and the whole text as a UTF-8 file (``message.txt``, or
  ``message.md`` for markdown) in the same push: the target counts as sent when both
  arrived.
* Where it takes none (WeChat), the text is cut to ``max_parts`` messages with a closing
  line saying how much was cut, and a note says so on stderr.

Never more than ``max_parts`` messages per target. ``max_parts`` 0 means no limit.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from imcli.errors import ConfigError, UsageError
from imcli.models import Item, Message

if TYPE_CHECKING:
    from imcli.platforms.base import Adapter, PlatformSpec

DEFAULT_MAX_PARTS = 10


def max_parts(given: int | None, settings: dict[str, Any], where: str) -> int:
    """``--max-parts``, else ``[settings] max_parts``, else 10; 0 = no limit."""
    if given is not None:
        if given < 0:
            raise UsageError("--max-parts must be 0 (no limit) or more")
        return given
    value = settings.get("max_parts", DEFAULT_MAX_PARTS)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ConfigError(
            f"profile {where}: settings.max_parts must be a whole number, 0 for no limit"
        )
    return value


def apply(
    message: Message, adapter: Adapter, spec: PlatformSpec, limit: int
) -> tuple[Message, str | None]:
    """The message to send instead of ``message`` when it would take more than ``limit``
    messages, and a note for stderr (or None)."""
    if message.kind != "text" or not limit or not (message.text or "").strip():
        return message, None
    count = adapter.text_messages(message)
    if count <= limit:
        return message, None
    text = message.text or ""
    name = "message.md" if message.markdown else "message.txt"
    takes_files = spec.kind_status("mixed") is None and spec.kind_status("file") is None
    if takes_files:
        notice = f"\n\n(the text is too long for {limit} messages: all of it is attached as {name})"
        first = _longest_prefix(
            text, notice, lambda t: adapter.text_messages(_with(message, t)), 1, count
        )
        return _attached(message, first + notice, name), None
    lines = len(text.splitlines())

    def closing(kept: str) -> str:
        cut = lines - len(kept.splitlines())
        return f"\n\n[… {cut} more line(s) not sent: the text is longer than {limit} messages]"

    kept = _longest_prefix(
        text, None, lambda t: adapter.text_messages(_with(message, t + closing(t))), limit, count
    )
    note = (
        f"{spec.name}: the text would take {count} messages; cut to {limit} "
        f"(--max-parts), {lines - len(kept.splitlines())} line(s) not sent"
    )
    return _with(message, kept + closing(kept)), note


def _with(message: Message, text: str) -> Message:
    return Message(
        kind="text", title=message.title, text=text, markdown=message.markdown, extra=message.extra
    )


def _attached(message: Message, first: str, name: str) -> Message:
    from imcli.media import MediaSource

    whole = message.text or ""
    if message.title and message.title.strip():
        whole = f"{message.title.strip()}\n\n{whole}"
    data = whole.encode("utf-8")
    mime = "text/markdown" if message.markdown else "text/plain"
    src = MediaSource(
        origin="bytes", spec=name, kind="file", data=data, filename=name, mime=mime, size=len(data)
    )
    items = [
        Item(type="markdown" if message.markdown else "text", text=first),
        Item(type="file", media=src),
    ]
    return Message(kind="mixed", title=message.title, items=items, extra=message.extra)


#: the longest prefix ever tried: no platform's message holds more than this
_MAX_PREFIX = 400_000


def _longest_prefix(
    text: str, notice: str | None, count: Callable[[str], int], limit: int, total: int
) -> str:
    """The longest prefix of ``text`` cut at a line end (or, when not even one line
    fits, inside the first line) for which ``count(prefix [+ notice])`` is at most
    ``limit``. The whole text takes ``total`` messages: a prefix that fits is about
    ``limit`` messages' worth of it, so much longer ones are not tried."""
    suffix = notice or ""
    span = min(_MAX_PREFIX * max(1, limit), 2 * len(text) * (limit + 1) // max(1, total) + 4096)
    lines = text[:span].splitlines(keepends=True)

    def fits(prefix: str) -> bool:
        return count(prefix.rstrip("\n") + suffix) <= limit

    lo, hi = 0, len(lines)  # lines[:lo] fits; find the largest
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if fits("".join(lines[:mid])):
            lo = mid
        else:
            hi = mid - 1
    if lo:
        return "".join(lines[:lo]).rstrip("\n")
    first = lines[0] if lines else ""
    a, b = 0, len(first)
    while a < b:
        mid = (a + b + 1) // 2
        if fits(first[:mid]):
            a = mid
        else:
            b = mid - 1
    return first[:a]
