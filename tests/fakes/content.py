"""What an uploaded file is by its bytes, for fakes whose servers look at the content.

Names are extensions as the platforms' docs list formats (jpg, png, gif, amr, mp3, mp4,
...); None when no signature matches (the fake then goes by the name alone).
"""

from __future__ import annotations


def media_format(data: bytes | None) -> str | None:
    if not data:
        return None
    signatures = (
        (b"\x89PNG\r\n\x1a\n", "png"),
        (b"\xff\xd8\xff", "jpg"),
        (b"GIF8", "gif"),
        (b"#!AMR\n", "amr"),
        (b"#!AMR-WB\n", "awb"),
        (b"ID3", "mp3"),
        (b"OggS", "ogg"),
        (b"fLaC", "flac"),
        (b"\x1a\x45\xdf\xa3", "mkv"),
    )
    for magic, name in signatures:
        if data.startswith(magic):
            return name
    if data[:4] == b"RIFF":
        return {b"WAVE": "wav", b"WEBP": "webp", b"AVI ": "avi"}.get(data[8:12])
    if data[4:8] == b"ftyp":
        return "mov" if data[8:12] == b"qt  " else ("m4a" if data[8:11] == b"M4A" else "mp4")
    if len(data) > 1 and data[0] == 0xFF and data[1] & 0xE0 == 0xE0:
        return "mp3" if (data[1] >> 1) & 0x3 else "aac"
    return None
