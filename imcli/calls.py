"""One API call as an adapter asks for it, and the files of its body: each try opens
them anew; what is left unread tells whether the request was cut short on its way out."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any

from imcli.errors import PlatformError

if TYPE_CHECKING:
    from imcli.media import MediaSource

#: the request extension that carries the :class:`Call` a request was built from
CALL = "imcli.call"


@dataclass
class Call:
    """One API call as an adapter asked for it; each try builds its request from it."""

    method: str
    url: str
    params: Mapping[str, Any] | None
    json: Any
    data: Mapping[str, Any] | None
    files: Callable[[], Mapping[str, Any]] | None
    content: Callable[[], AsyncIterator[bytes]] | None
    headers: Mapping[str, str] | None
    describe: Any  # how --dry-run shows the body (media as descriptions)

    @property
    def streams(self) -> bool:
        """Whether the body is streamed (an upload)."""
        return self.files is not None or self.content is not None

    def body(self, *, encoded: bool = True) -> tuple[dict[str, Any], list[IO[bytes]]]:
        """httpx's arguments for one try (its files opened anew), and the files opened.
        Not ``encoded`` (a dry run): no body at all, nothing opened; the transport
        records the call itself."""
        kwargs: dict[str, Any] = {"params": self.params, "headers": self.headers}
        kwargs["extensions"] = {CALL: self}
        opened: list[IO[bytes]] = []
        if encoded:
            kwargs["json"] = self.json
            kwargs["data"] = self.data
            if self.files is not None:
                made = self.files()
                kwargs["files"] = made
                opened.extend(open_handles(made))
            if self.content is not None:
                kwargs["content"] = self.content()
        return {k: v for k, v in kwargs.items() if v is not None}, opened


def open_handles(files: Mapping[str, Any]) -> list[IO[bytes]]:
    """The open files of a multipart body (closed when the try is over)."""
    out = []
    for v in files.values():
        obj = v[1] if isinstance(v, tuple) and len(v) > 1 else v
        if hasattr(obj, "close"):
            out.append(obj)
    return out


def size_changed(exc: BaseException) -> bool:
    """The body did not match its declared Content-Length: a file grew or shrank while
    it was being sent (h11's, and httpx's, LocalProtocolError)."""
    return type(exc).__name__ == "LocalProtocolError" and "Content-Length" in str(exc)


def changed_while_uploaded(opened: list[IO[bytes]]) -> PlatformError:
    """What was sent is not the file; asking again would race its writer again."""
    return PlatformError(
        f"{_file_names(opened) or 'the file'} changed while it was uploaded (its size is not "
        "what it was when the upload began); not sent"
    )


def _file_names(handles: list[IO[bytes]]) -> str:
    import os

    names = [os.path.basename(str(getattr(fh, "name", ""))) for fh in handles]
    return ", ".join(n for n in names if n)


def unread(handles: list[IO[bytes]]) -> bool:
    """Whether a file of a multipart body still has bytes httpx never read (then the
    request was cut short on its way out: the server cannot have acted on it)."""
    for fh in handles:
        try:
            if fh.read(1):
                return True
        except (OSError, ValueError):
            continue
    return False


async def file_chunks(src: MediaSource, chunk: int = 1 << 16) -> AsyncIterator[bytes]:
    """Stream a media source's bytes (for raw-body uploads)."""
    with src.open() as fh:
        while True:
            block = fh.read(chunk)
            if not block:
                return
            yield block
