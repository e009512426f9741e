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
    stream = sys.stderr
    if stream is None:  # `2>&-`: print(file=None) would write to stdout
        return
    try:
        print(f"imcli: {message}", file=stream)
    except (OSError, ValueError):
        pass  # a full or broken stderr must not fail the command
