"""Converting media with ffmpeg: the one place imcli runs it.

ffmpeg is found on PATH, else in the optional extra ``imcli[media]`` (imageio-ffmpeg,
which ships a static ffmpeg build). A conversion reads the source file and writes a new
temporary file (removed when the push ends, or at exit), as a subprocess bounded by the
push's ``--timeout``; it is killed when the time runs out.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from imcli.errors import PlatformError, UsageError

if TYPE_CHECKING:
    from imcli.media import MediaSource

#: target format → (ffmpeg output arguments, file extension, MIME type)
TARGETS: dict[str, tuple[tuple[str, ...], str, str]] = {
    # Opus in Ogg, mono: what Telegram plays as a voice and Lark takes as ``opus``
    "ogg-opus": (
        ("-vn", "-acodec", "libopus", "-ac", "1", "-ar", "16000", "-b:a", "32k", "-f", "ogg"),
        ".ogg",
        "audio/ogg",
    ),
    # AMR-NB (8 kHz mono, 12.2 kbit/s): WeCom voice, and QQ voice without server ffmpeg
    "amr": (
        ("-vn", "-acodec", "libopencore_amrnb", "-ac", "1", "-ar", "8000", "-b:a", "12.2k",
         "-f", "amr"),
        ".amr",
        "audio/amr",
    ),
    "mp3": (
        ("-vn", "-acodec", "libmp3lame", "-ac", "1", "-ar", "44100", "-b:a", "64k", "-f", "mp3"),
        ".mp3",
        "audio/mpeg",
    ),
    # H.264 + AAC in MP4, moov first: what every MP4-only platform plays
    "mp4": (
        ("-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p",
         "-vf", "scale=trunc(iw/2)*2:trunc(ih/2)*2", "-c:a", "aac", "-b:a", "96k",
         "-movflags", "+faststart", "-f", "mp4"),
        ".mp4",
        "video/mp4",
    ),
}  # fmt: skip


def ffmpeg_path() -> str | None:
    """ffmpeg on PATH, else the one the ``imcli[media]`` extra installs, else None."""
    import shutil

    found = shutil.which("ffmpeg")
    if found:
        return found
    try:
        import imageio_ffmpeg  # the optional extra imcli[media]
    except ImportError:
        return None
    try:
        path = imageio_ffmpeg.get_ffmpeg_exe()
    except Exception:  # its binary missing for this platform
        return None
    return str(path) if path and os.path.exists(path) else None


async def convert(
    src: MediaSource, target: str, *, timeout: float, platform: str, temps: list[str]
) -> MediaSource:
    """``src`` (a local file or bytes) converted to ``target`` in a temporary file.

    The new file's path is appended to ``temps`` (the caller removes it when the push
    ends). ffmpeg's failure is exit 2 (the content cannot be sent); running out of
    time is a failed push."""
    import asyncio
    from dataclasses import replace
    from pathlib import Path

    from imcli import media
    from imcli._async import wait_for

    ffmpeg = ffmpeg_path()
    if ffmpeg is None:
        raise UsageError(f"{platform}: install ffmpeg to convert {src.filename or src.spec}")
    args, ext, mime = TARGETS[target]
    name = src.filename or src.spec
    source_path = str(src.path) if src.path is not None else _bytes_on_disk(src, temps)
    fd, target_path = media.temp_file("imcli-conv-", ext)
    os.close(fd)
    temps.append(target_path)
    proc = await asyncio.create_subprocess_exec(
        ffmpeg, "-nostdin", "-hide_banner", "-loglevel", "error", "-y",
        "-i", source_path, *args, target_path,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        _, err = await wait_for(proc.communicate(), max(0.1, timeout))
    except (asyncio.TimeoutError, asyncio.CancelledError) as exc:
        proc.kill()
        await proc.wait()
        if isinstance(exc, asyncio.CancelledError):
            raise
        raise PlatformError(
            f"not sent: the --timeout budget ran out while ffmpeg converted {name}"
        ) from None
    if proc.returncode != 0:
        lines = err.decode("utf-8", "replace").strip().splitlines()
        why = lines[-1] if lines else f"exit status {proc.returncode}"
        raise UsageError(f"{platform}: ffmpeg could not convert {name}: {why}")
    stem = os.path.splitext(src.filename or src.kind)[0] or src.kind
    path = Path(target_path)
    return replace(
        src, origin="file", path=path, data=None, url=src.url, filename=stem + ext,
        mime=mime, size=path.stat().st_size,
    )  # fmt: skip


def _bytes_on_disk(src: MediaSource, temps: list[str]) -> str:
    """A source given as bytes (base64://, data:) written to a temporary file: ffmpeg
    reads a file."""
    import shutil

    from imcli import media

    fd, path = media.temp_file("imcli-conv-in-")
    temps.append(path)
    with os.fdopen(fd, "wb") as out, src.open() as fh:
        shutil.copyfileobj(fh, out, media.CHUNK)
    return path
