"""Reading an API's answer: its JSON, the start of a page that is not JSON, its
Retry-After header, and the most imcli reads of it."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from imcli import _redact
from imcli.errors import PlatformError, RetryableError

if TYPE_CHECKING:
    import httpx

MAX_REPLY = 4 << 20  # bytes of an API answer read at most: a bigger one is refused, not buffered


class ReplyTooLarge(Exception):
    """An API answer longer than MAX_REPLY (read no further)."""

    def __init__(self, status: int) -> None:
        super().__init__(f"{MAX_REPLY >> 20} MiB")
        self.status = status


class NotJSON(PlatformError):
    """An answer that is not JSON (a proxy's HTML page, a truncated body)."""


def snippet(resp: httpx.Response) -> tuple[str, bool]:
    """The start of a non-JSON answer on one line, and whether it is an HTML page (then
    its title, e.g. a proxy's "502 Bad Gateway", stands for it)."""

    # masked before anything is cut: a secret across the cut must not leave half of it
    text = _redact.redact(resp.text)[:2000]
    match = re.search(r"<title[^>]*>(.*?)</title>", text, re.I | re.S)
    title = " ".join(match.group(1).split()) if match else ""
    if title:
        code = str(resp.status_code)
        title = title[len(code) :].strip() if title.startswith(code + " ") else title
        return title[:200], True
    return " ".join(text.split())[:200], False


def json_reply(resp: httpx.Response) -> Any:
    """The JSON body of a response, or a PlatformError naming the status."""
    try:
        return resp.json()
    except ValueError:
        start, html = snippet(resp)
        start = start or resp.reason_phrase
        if resp.status_code == 429 or resp.status_code >= 500:
            raise RetryableError(
                f"HTTP {resp.status_code}: {start}" + (" (an HTML page)" if html else ""),
                retry_after=retry_after_header(resp),
                status=resp.status_code,
            ) from None
        what = "an HTML page, not a JSON answer" if html else "not a JSON answer"
        raise NotJSON(
            f"HTTP {resp.status_code}: {start} ({what})", status=resp.status_code
        ) from None


def retry_after_header(resp: httpx.Response, name: str = "retry-after") -> float | None:
    value = resp.headers.get(name)
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None
