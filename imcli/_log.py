"""Warnings on stderr, once each, always redacted (the library and the CLI share it)."""

from __future__ import annotations

import sys
from collections.abc import Callable

from imcli import _redact

_seen: set[str] = set()
_sink: Callable[[str], None] | None = None


def set_sink(sink: Callable[[str], None] | None) -> None:
    global _sink
    _sink = sink


def warn(message: str) -> None:
    message = _redact.redact(message)
    if message in _seen:
        return
    _seen.add(message)
    if _sink is not None:
        _sink(message)
    else:
        stream = sys.stderr
        if stream is None:  # `2>&-`: print(file=None) would write to stdout
            return
        try:
            print(f"imcli: {message}", file=stream)
        except (OSError, ValueError):
            pass  # a full or broken stderr must not fail the command
