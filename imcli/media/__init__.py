"""Media sources: URL, path, ``~``, ``file://``, ``base64://``, ``data:`` URI, ``-`` (stdin).

Local files are never read into memory: adapters ``open()`` them and the HTTP layer
streams them. Standard input is spooled to a temporary file in chunks, and URLs that
must be uploaded are downloaded the same way (size-capped), so memory use does not grow
with the media's size.

The package holds all media knowledge: :mod:`imcli.media.probe` tells formats from
content (the one signature table, Ogg/MP4 durations), :mod:`imcli.media.convert` runs
ffmpeg. Platforms only declare which formats they take (``PlatformSpec.formats``).
"""

from __future__ import annotations

import atexit
import base64
import binascii
import ipaddress
import os
import re
import sys
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from imcli.errors import PlatformError, UsageError
from imcli.media.probe import sniff

__all__ = ["MediaSource", "guess_mime", "is_private_url", "parse", "sniff"]

if TYPE_CHECKING:
    from imcli.http import HttpClient

CHUNK = 1 << 16
_temp_files: list[str] = []


def _cleanup() -> None:
    for p in _temp_files:
        try:
            os.unlink(p)
        except OSError:
            pass


atexit.register(_cleanup)


def temp_file(prefix: str, suffix: str = "") -> tuple[int, str]:
    """A new temporary file (its descriptor and path), removed at exit at the latest:
    temporary files never outlive the process."""
    fd, path = tempfile.mkstemp(prefix=prefix, suffix=suffix)
    _temp_files.append(path)
    return fd, path


_DEFAULT_NAME = {"image": "image", "voice": "voice", "video": "video", "file": "file"}


def guess_mime(filename: str) -> str | None:
    import mimetypes

    ext = os.path.splitext(filename)[1].lower()
    extra = {".opus": "audio/opus", ".amr": "audio/amr", ".ogg": "audio/ogg", ".oga": "audio/ogg"}
    if ext in extra:
        return extra[ext]
    return mimetypes.guess_type(filename, strict=False)[0]


@dataclass
class MediaSource:
    """One media item. ``origin`` is ``url``, ``file`` or ``bytes``."""

    origin: str
    spec: str  # what the user wrote (shown in messages; a base64 payload is abbreviated)
    kind: str = "file"  # image | voice | video | file
    url: str | None = None
    path: Path | None = None
    data: bytes | None = None
    filename: str = ""
    mime: str | None = None
    size: int | None = None  # bytes; None for a URL not yet downloaded
    #: ``-``: standard input, read (capped at the platform's limit) once the push knows
    #: its platform and account: see :func:`fill_stdin`
    stdin: bool = False
    named: bool = False  # the user gave the file name (--filename)

    # -- reading -----------------------------------------------------------------
    def open(self) -> IO[bytes]:
        if self.path is not None:
            try:
                return open(self.path, "rb")
            except OSError as exc:  # it was there when the push began: gone, or unreadable
                name = self.filename or self.spec
                raise UsageError(f"{self.kind}: {name}: cannot read it ({exc.strerror})") from None
        if self.data is not None:
            import io

            return io.BytesIO(self.data)
        if self.stdin:
            raise UsageError("standard input must be read before it can be sent")
        raise UsageError(f"{self.spec}: a URL must be downloaded before it can be read")

    def head(self, n: int = 64) -> bytes:
        if self.origin == "url" or (self.stdin and self.path is None):
            return b""
        with self.open() as fh:
            try:
                return fh.read(n)
            except OSError as exc:  # e.g. EIO from /proc/self/mem
                name = self.filename or self.spec
                raise UsageError(f"{self.kind}: {name}: cannot read it ({exc.strerror})") from None

    @property
    def is_url(self) -> bool:
        return self.origin == "url"

    @property
    def extension(self) -> str:
        return os.path.splitext(self.filename)[1].lower().lstrip(".")

    def describe(self) -> str:
        size = f", {self.size} bytes" if self.size is not None else ""
        return f"{self.filename or self.spec} ({self.mime or 'unknown type'}{size})"

    def check_size(self, limit: int, platform: str, what: str | None = None) -> None:
        """Refuse (exit 2) a source over ``limit`` bytes, naming the limit."""
        if self.size is not None and self.size > limit:
            raise UsageError(
                f"{platform}: {what or self.kind} {self.filename or self.spec} is "
                f"{_human(self.size)}, over the {_human(limit)} limit"
            )
        if self.size == 0:
            raise UsageError(f"{platform}: {self.filename or self.spec} is empty")

    async def download(self, http: HttpClient, limit: int, platform: str) -> MediaSource:
        """Stream a URL into a temporary file (at most ``limit`` bytes); a file source."""
        if not self.is_url:
            return self
        assert self.url is not None
        fd, tmp = temp_file("imcli-dl-")
        total = 0
        mime = self.mime
        try:
            with os.fdopen(fd, "wb") as out:
                async with http.stream_get(self.url) as resp:
                    if resp.status_code >= 400:
                        # media imcli must download and cannot is bad input (exit 2)
                        raise UsageError(
                            f"{self.kind}: cannot download {self.spec}: HTTP {resp.status_code}"
                        )
                    length = resp.headers.get("content-length")
                    if length and length.isdigit() and int(length) > limit:
                        raise UsageError(
                            f"{platform}: {self.spec} is {_human(int(length))}, over the "
                            f"{_human(limit)} limit"
                        )
                    ctype = resp.headers.get("content-type", "").split(";")[0].strip()
                    if ctype and ctype != "application/octet-stream" and not mime:
                        mime = ctype
                    async for chunk in resp.aiter_bytes(CHUNK):
                        total += len(chunk)
                        if total > limit:
                            raise UsageError(
                                f"{platform}: {self.spec} is over the {_human(limit)} limit"
                            )
                        out.write(chunk)
        except PlatformError as exc:  # refused, unreachable, cut off: bad input too
            forget(tmp)
            raise UsageError(f"{self.kind}: {exc.message}") from None
        except BaseException:
            forget(tmp)
            raise
        src = replace(self, origin="file", path=Path(tmp), url=self.url, size=total, mime=mime)
        try:
            check_kind(src)
        except UsageError:
            forget(tmp)
            raise
        if not src.mime or not os.path.splitext(src.filename)[1]:
            smime, ext = sniff(src.head())
            src.mime = src.mime or smime
            if not os.path.splitext(src.filename)[1] and ext:
                src.filename += ext
        return src


def forget(tmp: str) -> None:
    """Remove a temporary file imcli made (a download, a conversion); gone already is fine."""
    try:
        os.unlink(tmp)
    except OSError:
        pass


def _human(n: int) -> str:
    if n >= 1 << 20:
        v = n / (1 << 20)
        return f"{v:.0f} MB" if v == int(v) else f"{v:.1f} MB"
    if n >= 1 << 10:
        return f"{n / 1024:.0f} KB"
    return f"{n} bytes"


#: the most ever read from standard input, where a platform sets no limit of its own
STDIN_CAP = 2 << 30


async def fill_stdin(sources: list[MediaSource], limit: int | None, platform: str) -> None:
    """Read standard input (``-``) into a private temporary file, at most ``limit``
    bytes: past the limit it is exit 2 at once, not after spooling all of it
    (``push file - < /dev/zero``). The read yields to the event loop, so SIGINT/SIGTERM
    stop it; the file is removed on any failure or interrupt, and at exit."""
    for src in sources:
        if not src.stdin or src.path is not None:
            continue
        cap = STDIN_CAP if limit is None else limit
        fd, tmp = temp_file("imcli-stdin-")
        try:
            with os.fdopen(fd, "wb") as out:
                total = 0
                async for chunk in _stdin_chunks():
                    total += len(chunk)
                    if total > cap:
                        raise UsageError(
                            f"{platform}: {src.kind} from standard input is over the "
                            f"{_human(cap)} limit"
                        )
                    out.write(chunk)
        except BaseException:
            forget(tmp)
            raise
        src.path, src.size = Path(tmp), total
        _name_and_type(src, src.kind, src.named)


def _wake(ready: Any) -> None:
    if not ready.done():
        ready.set_result(None)


async def _stdin_chunks() -> Any:
    """Standard input in blocks, never blocking the event loop (a pipe is waited for
    with the loop's reader; a file or a test's stream is read a block per turn)."""
    import asyncio
    import stat

    stream = sys.stdin.buffer
    try:
        fd = stream.fileno()
        mode = os.fstat(fd).st_mode
    except (AttributeError, OSError, ValueError):
        fd, mode = -1, 0
    if fd < 0 or stat.S_ISREG(mode):
        while True:
            chunk = stream.read(CHUNK) if fd < 0 else os.read(fd, CHUNK)
            if not chunk:
                return
            yield chunk
            await asyncio.sleep(0)
    loop = asyncio.get_running_loop()
    was_blocking = os.get_blocking(fd)
    os.set_blocking(fd, False)
    try:
        while True:
            try:
                chunk = os.read(fd, CHUNK)
            except BlockingIOError:
                ready: asyncio.Future[None] = loop.create_future()
                loop.add_reader(fd, _wake, ready)
                try:
                    await ready
                finally:
                    loop.remove_reader(fd)
                continue
            if not chunk:
                return
            yield chunk
            await asyncio.sleep(0)
    finally:
        os.set_blocking(fd, was_blocking)


def parse(
    spec: str,
    kind: str,
    *,
    filename: str | None = None,
    mime: str | None = None,
    base_dir: Path | None = None,
) -> MediaSource:
    """Turn what the user wrote into a MediaSource; unreadable sources are exit 2."""
    if not isinstance(spec, str) or not spec.strip():
        raise UsageError(f"{kind}: the media source is empty")
    spec = spec.strip()
    shown = spec if len(spec) <= 60 else spec[:40] + "…"
    src = _source(spec, kind, shown, bool(filename), base_dir)
    if filename:
        src.filename = filename
    if mime:
        src.mime = check_mime(mime)
    if not src.stdin:
        _name_and_type(src, kind, bool(filename))
    return src


def _source(spec: str, kind: str, shown: str, named: bool, base_dir: Path | None) -> MediaSource:
    """The source by the form it is written in: a URL, base64://, data:, - (stdin, read
    later, capped at the limit of the platform it goes to: fill_stdin) or a local file."""
    low = spec.lower()
    if low.startswith(("http://", "https://")):
        return _url_source(spec, kind, shown)
    if low.startswith("base64://"):
        data = _b64(spec[len("base64://") :], kind, shown)
        return MediaSource(origin="bytes", spec="base64://…", kind=kind, data=data, size=len(data))
    if low.startswith("data:"):
        return _data_uri_source(spec, kind, shown)
    if spec == "-":
        return MediaSource(origin="file", spec="-", kind=kind, stdin=True, named=named)
    return _file_source(_local_path(spec, kind, shown), kind, shown, base_dir)


def _url_source(spec: str, kind: str, shown: str) -> MediaSource:
    """An http(s):// URL, downloaded when it is sent; its name is the path's last part."""
    try:
        parts = urlsplit(spec)
    except ValueError:  # e.g. "http://[::1"
        raise UsageError(f"{kind}: {shown}: not a valid URL") from None
    if not parts.netloc:
        raise UsageError(f"{kind}: {shown}: not a valid URL")
    name = unquote(os.path.basename(parts.path)) or ""
    url = parts.scheme + spec[len(parts.scheme) :]  # HTTP://… as http://…
    return MediaSource(origin="url", spec=shown, kind=kind, url=url, filename=name)


def _data_uri_source(spec: str, kind: str, shown: str) -> MediaSource:
    """A ``data:<mime>;base64,…`` URI (the only kind of data: URI accepted)."""
    header, sep, payload = spec[5:].partition(",")
    if not sep or ";base64" not in header.lower():
        raise UsageError(f"{kind}: {shown}: only data:<mime>;base64,… URIs are supported")
    data = _b64(payload, kind, shown)
    dmime = header.split(";")[0].strip() or None
    return MediaSource(
        origin="bytes", spec="data:…", kind=kind, data=data, size=len(data), mime=dmime
    )


def _local_path(spec: str, kind: str, shown: str) -> str:
    """The path a ``file://`` URI or a plain path names; any other scheme is refused
    (unless a file of that very name exists)."""
    low = spec.lower()
    if low.startswith("file://"):
        try:
            parts = urlsplit(spec)
        except ValueError:
            raise UsageError(f"{kind}: {shown}: not a valid file:// URI") from None
        if parts.netloc not in ("", "localhost"):
            raise UsageError(f"{kind}: {shown}: file:// URIs must name a local file")
        return unquote(parts.path)
    scheme = low.split("://", 1)[0] if "://" in low else ""
    if scheme.isascii() and scheme.isalnum() and not os.path.lexists(spec):
        raise UsageError(
            f"{kind}: {shown}: {scheme}:// is not supported; give an http(s):// URL, "
            "a path, file://, base64://, data: or - for stdin"
        )
    return spec


def _file_source(raw_path: str, kind: str, shown: str, base_dir: Path | None) -> MediaSource:
    """A readable regular file (a relative path is taken from *base_dir*, else the
    current directory)."""
    if "\0" in raw_path:
        raise UsageError(f"{kind}: {shown}: a path cannot contain a NUL byte")
    try:
        path = Path(raw_path).expanduser()
    except RuntimeError:  # ~user of no such user
        raise UsageError(f"{kind}: {shown}: no such user's home directory") from None
    if not path.is_absolute():
        path = (base_dir or Path.cwd()) / path
    try:
        st = path.stat()
    except FileNotFoundError:
        raise UsageError(f"{kind}: {shown}: no such file") from None
    except OSError as exc:
        raise UsageError(f"{kind}: {shown}: cannot read it ({exc.strerror})") from None
    if not path.is_file():
        raise UsageError(f"{kind}: {shown}: not a regular file")
    if not os.access(path, os.R_OK):
        raise UsageError(f"{kind}: {shown}: cannot read it (permission denied)")
    # a name that is not UTF-8 (bytes from the file system) cannot go into a request
    name = path.name.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    return MediaSource(
        origin="file", spec=shown, kind=kind, path=path, filename=name, size=st.st_size
    )


def _name_and_type(src: MediaSource, kind: str, named: bool) -> None:
    """The file name and MIME type, from what was given, else sniffed from the bytes;
    then the content is checked against its kind."""
    filename = src.filename if named else None
    if not src.mime and src.filename:
        src.mime = guess_mime(src.filename)
    if src.origin != "url" and (not src.mime or not os.path.splitext(src.filename)[1]):
        smime, ext = sniff(src.head())
        src.mime = src.mime or smime
        if not src.filename:
            src.filename = _DEFAULT_NAME.get(kind, "file") + (ext or ".bin")
        elif not os.path.splitext(src.filename)[1] and ext and not filename:
            src.filename += ext
    if not src.filename:
        src.filename = _DEFAULT_NAME.get(kind, "file")
    if src.origin != "url":
        check_kind(src)


# -- is the content of its kind? (generic checks; platform formats are the adapters') --

_MIME_SHAPE = re.compile(r"[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*")
#: ISO-BMFF brands of still images (HEIC, AVIF): "ftyp" alone does not mean a video
_IMAGE_BRANDS = (b"heic", b"heix", b"mif1", b"msf1", b"avif", b"avis")


def check_mime(mime: str) -> str:
    """``--mime`` (or a mime_type option) must look like ``type/subtype``."""
    value = mime.strip()
    if not _MIME_SHAPE.fullmatch(value.split(";")[0].strip()):
        raise UsageError(f"--mime {mime!r}: give a MIME type such as image/png or audio/ogg")
    return value


def _looks_like_text(head: bytes) -> bool:
    """Text (CSV, HTML, JSON, a log) rather than binary media: no NUL byte, valid UTF-8
    (a character cut at the end allowed), and no control characters but white space."""
    if not head or b"\0" in head:
        return False
    for cut in range(4):
        try:
            text = head[: len(head) - cut].decode("utf-8")
            break
        except UnicodeDecodeError:
            continue
    else:
        return False
    return all(c.isprintable() or c in "\t\r\n\f" for c in text)


def content_kind(src: MediaSource) -> str | None:
    """What the content is, coarsely: "image", "audio", "video", "text", "document"
    or None (not recognised)."""
    head = src.head(512)
    if head[4:8] == b"ftyp":
        return "image" if head[8:12] in _IMAGE_BRANDS else "video"
    mime, _ = sniff(head)
    if mime and head[:1] == b"\xff" and mime.startswith("audio/"):
        mime = None  # an MPEG/ADTS frame sync is a weak signature: not enough to refuse
    if mime:
        top = mime.split("/")[0]
        return top if top in ("image", "audio", "video") else "document"
    if _looks_like_text(head):
        return "text"
    return None


def check_kind(src: MediaSource) -> None:
    """Refuse (exit 2) content that is not of its kind: a CSV or an HTML page as an
    image, text as voice or video, a PDF as an image. Unrecognised binary content
    passes (the platform has the last word); a `file` takes anything."""
    if src.kind == "file" or src.size == 0:
        return
    found = content_kind(src)
    name = src.filename or src.spec
    if found == "text":
        what = "an HTML page" if _is_html(src) else "text"
        raise UsageError(f"{src.kind}: {name} is {what}, not {_kind_noun(src.kind)}")
    if src.kind == "image" and found in ("audio", "video", "document"):
        raise UsageError(f"image: {name} is not an image ({src.mime or found})")


def _is_html(src: MediaSource) -> bool:
    head = src.head(512).lstrip().lower()
    return head.startswith((b"<!doctype html", b"<html")) or (src.mime or "").endswith("html")


def _kind_noun(kind: str) -> str:
    return {"image": "an image", "voice": "audio", "video": "a video"}.get(kind, kind)


def _b64(payload: str, kind: str, shown: str) -> bytes:
    try:
        payload = "".join(payload.split())
        return base64.b64decode(payload + "=" * (-len(payload) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise UsageError(f"{kind}: {shown}: invalid base64 data") from None


def is_private_url(url: str) -> bool:
    """True when a public platform server could not fetch this URL (intranet, loopback)."""
    host = (urlsplit(url).hostname or "").lower()
    if not host:
        return True
    if host in ("localhost",) or host.endswith((".local", ".lan", ".internal", ".localhost")):
        return True
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return "." not in host
    return ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_reserved
