"""Media the tests send: small files that start with a real signature (the fakes and
imcli's sniffing judge a file by its first bytes, as the real servers do)."""

from __future__ import annotations

#: a PNG signature and 1 KiB of every byte value (1032 bytes)
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
