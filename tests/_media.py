"""Media for the tests: a small PNG and files of it, real clips made by the ffmpeg of
imageio-ffmpeg (the test extra), and what a received file really is (mutagen tells
Ogg/Opus from Ogg/Vorbis).

Each clip is one second long and made once per test session.
"""

from __future__ import annotations

import io
import os
import subprocess
import tempfile
from functools import cache
from pathlib import Path

#: format → ffmpeg output arguments (the input is a 1 s 440 Hz tone, or a test picture)
_AUDIO = {
    "mp3": ("-acodec", "libmp3lame", "-f", "mp3"),
    "wav": ("-acodec", "pcm_s16le", "-f", "wav"),
    "m4a": ("-acodec", "aac", "-f", "ipod"),
    "ogg-vorbis": ("-acodec", "libvorbis", "-f", "ogg"),
    "ogg-opus": ("-acodec", "libopus", "-f", "ogg"),
    "amr": ("-acodec", "libopencore_amrnb", "-ar", "8000", "-ac", "1", "-f", "amr"),
}
_VIDEO = {
    "mp4": ("-c:v", "libx264", "-pix_fmt", "yuv420p", "-f", "mp4"),
    "mov": ("-c:v", "libx264", "-pix_fmt", "yuv420p", "-f", "mov"),
    "webm": ("-c:v", "libvpx", "-f", "webm"),
    "mkv": ("-c:v", "libx264", "-pix_fmt", "yuv420p", "-f", "matroska"),
}
AUDIO_FORMATS = tuple(_AUDIO)
VIDEO_FORMATS = tuple(_VIDEO)


@cache
def ffmpeg() -> str:
    import imageio_ffmpeg

    return str(imageio_ffmpeg.get_ffmpeg_exe())


_BASE = tempfile.gettempdir()  # before any test points tempfile elsewhere


@cache
def _dir() -> Path:
    return Path(tempfile.mkdtemp(prefix="imcli-test-media-", dir=_BASE))


@cache
def clip(fmt: str) -> bytes:
    """One second of audio (or video) in ``fmt``."""
    if fmt in _AUDIO:
        src = ("-f", "lavfi", "-i", "sine=frequency=440:duration=1")
        args = _AUDIO[fmt]
    else:
        src = ("-f", "lavfi", "-i", "testsrc=duration=1:size=64x48:rate=10")
        args = _VIDEO[fmt]
    out = _dir() / f"clip.{fmt}"
    subprocess.run(
        [ffmpeg(), "-nostdin", "-hide_banner", "-loglevel", "error", "-y", *src, *args, str(out)],
        check=True,
        timeout=60,
    )
    return out.read_bytes()


def kind_of(data: bytes) -> str:
    """What a file is, by its content: ogg-opus, ogg-vorbis, mp3, m4a, amr, wav, mp4, mov,
    webm, mkv (mutagen for audio; box and EBML headers for video)."""
    if data.startswith(b"#!AMR\n"):
        return "amr"
    if data[4:8] == b"ftyp" and data[8:12] == b"qt  ":
        return "mov"
    if data.startswith(b"\x1a\x45\xdf\xa3"):
        return "webm" if b"webm" in data[:64] else "mkv"
    import mutagen

    found = mutagen.File(io.BytesIO(data))
    name = type(found).__name__ if found is not None else ""
    names = {
        "OggOpus": "ogg-opus",
        "OggVorbis": "ogg-vorbis",
        "MP3": "mp3",
        "WAVE": "wav",
    }
    if name in names:
        return names[name]
    if name == "MP4":
        has_video = b"vide" in data[:200_000]
        return "mp4" if has_video else "m4a"
    return f"unknown({name or data[:12]!r})"


#: a PNG signature and 1 KiB of every byte value (1032 bytes): the fakes and imcli judge a
#: file by its first bytes, as the real servers do
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4


def media_file(folder: Path, name: str, data: bytes | None = None) -> Path:
    """``folder/name`` holding ``data`` (else 2000 random bytes)."""
    p = folder / name
    p.write_bytes(data if data is not None else os.urandom(2000))
    return p
