"""Media the tests send: small files that start with a real signature (the fakes and
imcli's sniffing judge a file by its first bytes, as the real servers do)."""

from __future__ import annotations

import os
from pathlib import Path

#: a PNG signature and 1 KiB of every byte value (1032 bytes)
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4


def media_file(folder: Path, name: str, data: bytes | None = None) -> Path:
    """``folder/name`` holding ``data`` (else 2000 random bytes)."""
    p = folder / name
    p.write_bytes(data if data is not None else os.urandom(2000))
    return p
