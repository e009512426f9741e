"""Warnings on stderr, once each, always redacted (the library and the CLI share it)."""

from __future__ import annotations

import sys

from imcli import _redact

_seen: set[str] = set()


def warn(message: str) -> None:
    message = _redact.redact(message)
    if message in _seen:
        return
    _seen.add(message)
    print(f"imcli: {message}", file=sys.stderr)
