"""What a media file is, from its bytes: the one signature table, and durations.

Format names used across imcli (and in each platform's accepted formats):
images ``png`` ``jpeg`` ``gif`` ``webp`` ``bmp``; audio ``ogg-opus`` ``ogg-vorbis``
``ogg`` (another codec) ``mp3`` ``m4a`` ``aac`` ``wav`` ``flac`` ``amr`` ``amr-wb``
``silk``; video ``mp4`` ``mov`` ``webm`` ``mkv`` ``avi``; others ``pdf`` ``zip``.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from imcli.media import MediaSource

#: format → (MIME type, file extension)
FORMATS: dict[str, tuple[str, str]] = {
    "png": ("image/png", ".png"),
    "jpeg": ("image/jpeg", ".jpg"),
    "gif": ("image/gif", ".gif"),
    "webp": ("image/webp", ".webp"),
    "bmp": ("image/bmp", ".bmp"),
    "pdf": ("application/pdf", ".pdf"),
    "zip": ("application/zip", ".zip"),
    "ogg-opus": ("audio/ogg", ".ogg"),
    "ogg-vorbis": ("audio/ogg", ".ogg"),
    "ogg": ("audio/ogg", ".ogg"),
    "mp3": ("audio/mpeg", ".mp3"),
    "m4a": ("audio/mp4", ".m4a"),
    "aac": ("audio/aac", ".aac"),
    "wav": ("audio/wav", ".wav"),
    "flac": ("audio/flac", ".flac"),
    "amr": ("audio/amr", ".amr"),
    "amr-wb": ("audio/amr-wb", ".awb"),
    "silk": ("audio/silk", ".silk"),
    "mp4": ("video/mp4", ".mp4"),
    "mov": ("video/quicktime", ".mov"),
    "webm": ("video/webm", ".webm"),
    "mkv": ("video/x-matroska", ".mkv"),
    "avi": ("video/x-msvideo", ".avi"),
}

#: the MIME types imcli maps back to an extension (a download's Content-Type)
MIME_EXTENSIONS: dict[str, str] = {
    "image/jpeg": "jpg",
    "image/png": "png",
    "image/gif": "gif",
    "image/bmp": "bmp",
    "image/webp": "webp",
    "audio/amr": "amr",
    "audio/mpeg": "mp3",
    "audio/mp3": "mp3",
    "audio/ogg": "ogg",
    "audio/opus": "opus",
    "audio/mp4": "m4a",
    "audio/x-m4a": "m4a",
    "audio/wav": "wav",
    "audio/x-wav": "wav",
    "video/mp4": "mp4",
    "video/quicktime": "mov",
    "video/webm": "webm",
}

#: what people call the formats in messages
LABELS: dict[str, str] = {
    "ogg-opus": "Ogg/Opus",
    "ogg-vorbis": "Ogg/Vorbis",
    "ogg": "Ogg",
    "m4a": "M4A",
    "amr-wb": "AMR-WB",
    "jpeg": "JPG",
}

AUDIO = frozenset(
    {"ogg-opus", "ogg-vorbis", "ogg", "mp3", "m4a", "aac", "wav", "flac", "amr", "amr-wb", "silk"}
)
VIDEO = frozenset({"mp4", "mov", "webm", "mkv", "avi"})


def label(fmt: str | None) -> str:
    if fmt is None:
        return "of an unknown format"
    return LABELS.get(fmt, fmt.upper())


def _bmp(head: bytes) -> str | None:
    """BMP: "BM", the file size, then four reserved bytes that are zero."""
    return "bmp" if len(head) > 14 and head[6:10] == b"\0\0\0\0" else None


def _ogg(head: bytes) -> str:
    """Ogg by its codec: the first page holds the codec's identification header
    (RFC 7845 §5.1: "OpusHead"; Vorbis I spec §4.2.1: "\\x01vorbis")."""
    first = head[:256]
    if b"OpusHead" in first:
        return "ogg-opus"
    if b"\x01vorbis" in first:
        return "ogg-vorbis"
    return "ogg"


#: RIFF form type (bytes 8-12) → format
_RIFF_FORMS: dict[bytes, str] = {b"WAVE": "wav", b"WEBP": "webp", b"AVI ": "avi"}


def _riff(head: bytes) -> str | None:
    return _RIFF_FORMS.get(head[8:12])


def _iso_media(head: bytes) -> str:
    """An ISO base media file ("ftyp" box) by its major brand: QuickTime, M4A, else MP4."""
    brand = head[8:12]
    if brand == b"qt  ":
        return "mov"
    if brand in (b"M4A ", b"M4B ", b"M4P "):
        return "m4a"
    return "mp4"


def _matroska(head: bytes) -> str:
    """EBML: Matroska, or WebM by its DocType."""
    return "webm" if b"webm" in head[:64] else "mkv"


def _mpeg_audio(head: bytes) -> str | None:
    """A bare MPEG audio frame (its 11-bit sync): ADTS AAC has layer 00, MP3 01-11."""
    if len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0:
        layer = (head[1] >> 1) & 0x3
        return "aac" if layer == 0 else "mp3"
    return None


#: (offset, the bytes there, the format or what tells it from the rest of the head),
#: checked in order; a teller answering None lets the next signatures try
_SIGNATURES: tuple[tuple[int, bytes, str | Callable[[bytes], str | None]], ...] = (
    (0, b"\x89PNG\r\n\x1a\n", "png"),
    (0, b"\xff\xd8\xff", "jpeg"),
    (0, b"GIF8", "gif"),
    (0, b"BM", _bmp),
    (0, b"%PDF", "pdf"),
    (0, b"PK\x03\x04", "zip"),
    (0, b"OggS", _ogg),
    (0, b"#!AMR-WB\n", "amr-wb"),
    (0, b"#!AMR\n", "amr"),
    (0, b"#!SILK_V3", "silk"),
    (0, b"\x02#!SILK_V3", "silk"),
    (0, b"fLaC", "flac"),
    (0, b"RIFF", _riff),
    (4, b"ftyp", _iso_media),
    (0, b"\x1a\x45\xdf\xa3", _matroska),
    (0, b"ID3", "mp3"),
    (0, b"", _mpeg_audio),
)


def detect(head: bytes) -> str | None:
    """The format of a file from its first bytes (512 are plenty), None when unknown."""
    for offset, magic, fmt in _SIGNATURES:
        if head.startswith(magic, offset):
            found = fmt if isinstance(fmt, str) else fmt(head)
            if found is not None:
                return found
    return None


def sniff(head: bytes) -> tuple[str | None, str]:
    """(mime, extension) from a file's first bytes."""
    fmt = detect(head)
    if fmt is None:
        return None, ""
    return FORMATS[fmt]


#: extension → format, for content no signature recognises (judged by its name then)
_BY_EXTENSION: dict[str, str] = {
    "jpg": "jpeg", "jpeg": "jpeg", "png": "png", "gif": "gif", "webp": "webp", "bmp": "bmp",
    "mp3": "mp3", "amr": "amr", "m4a": "m4a", "aac": "aac", "wav": "wav", "flac": "flac",
    "ogg": "ogg", "oga": "ogg", "opus": "ogg", "silk": "silk", "slk": "silk",
    "mp4": "mp4", "mov": "mov", "webm": "webm", "mkv": "mkv", "avi": "avi",
    "pdf": "pdf", "zip": "zip",
}  # fmt: skip


def format_from_name(filename: str, mime: str | None = None) -> str | None:
    ext = os.path.splitext(filename)[1].lower().lstrip(".")
    if not ext and mime:
        ext = MIME_EXTENSIONS.get(mime.lower(), "")
    return _BY_EXTENSION.get(ext)


def format_of(src: MediaSource) -> str | None:
    """The format of a local (or in-memory) source by its content; by its name when no
    signature matches; None for a URL or when neither tells.

    An audio-only MP4 pushed as a voice is M4A."""
    if src.is_url:
        return None
    fmt = detect(src.head(512)) or format_from_name(src.filename, src.mime)
    if fmt == "mp4" and src.kind == "voice":
        return "m4a"
    return fmt


def extension_for(src: MediaSource) -> str:
    """The file name to upload ``src`` under: its own, with the extension of its content
    when the name's does not say it (platforms that judge a format by the name)."""
    name = src.filename or src.kind
    fmt = format_of(src)
    if fmt is None or fmt not in FORMATS:
        return name
    stem, ext = os.path.splitext(name)
    if _BY_EXTENSION.get(ext.lower().lstrip(".")) == ("ogg" if fmt.startswith("ogg") else fmt):
        return name
    if fmt == "m4a" and ext.lower() == ".mp4":
        return name
    return (stem or src.kind) + FORMATS[fmt][1]


# -- durations ---------------------------------------------------------------------------


def duration_ms(src: MediaSource) -> int | None:
    """Length of a voice (Ogg/Opus) or a video (MP4/MOV) in ms; None when unknown."""
    if src.kind == "voice":
        return opus_duration_ms(src)
    if src.kind == "video":
        return mp4_duration_ms(src)
    return None


def opus_duration_ms(src: MediaSource) -> int | None:
    """Length of an Ogg/Opus file from its last page's granule position (48 kHz)."""
    if src.path is None:
        return None
    try:
        with open(src.path, "rb") as fh:
            head = fh.read(256)
            at = head.find(b"OpusHead")
            if at < 0:
                return None
            pre_skip = int.from_bytes(head[at + 10 : at + 12], "little")
            size = fh.seek(0, os.SEEK_END)
            fh.seek(max(0, size - 65536))
            tail = fh.read()
    except OSError:
        return None
    last = tail.rfind(b"OggS")
    if last < 0 or last + 14 > len(tail):
        return None
    granule = int.from_bytes(tail[last + 6 : last + 14], "little", signed=True)
    if granule <= pre_skip:
        return None
    return (granule - pre_skip) * 1000 // 48000


def mp4_duration_ms(src: MediaSource) -> int | None:
    """Length of an MP4/MOV file from its ``moov/mvhd`` box (top-level boxes skipped)."""
    if src.path is None:
        return None
    try:
        with open(src.path, "rb") as fh:
            size = fh.seek(0, os.SEEK_END)
            pos = 0
            while pos + 8 <= size:
                fh.seek(pos)
                header = fh.read(16)
                box_len = int.from_bytes(header[:4], "big")
                kind = header[4:8]
                head_len = 8
                if box_len == 1:
                    box_len, head_len = int.from_bytes(header[8:16], "big"), 16
                elif box_len == 0:
                    box_len = size - pos
                if box_len < head_len:
                    return None
                if kind == b"moov":
                    fh.seek(pos + head_len)
                    moov = fh.read(min(box_len - head_len, 1 << 20))
                    return _mvhd_ms(moov)
                pos += box_len
    except OSError:
        return None
    return None


def _mvhd_ms(moov: bytes) -> int | None:
    pos = 0
    while pos + 8 <= len(moov):
        box_len = int.from_bytes(moov[pos : pos + 4], "big")
        if moov[pos + 4 : pos + 8] == b"mvhd":
            body = moov[pos + 8 :]
            if body[:1] == b"\x01":
                scale = int.from_bytes(body[20:24], "big")
                length = int.from_bytes(body[24:32], "big")
            else:
                scale = int.from_bytes(body[12:16], "big")
                length = int.from_bytes(body[16:20], "big")
            return length * 1000 // scale if scale else None
        if box_len < 8:
            return None
        pos += box_len
    return None
