"""Writing to stdout and stderr: stdout carries only results, every line is redacted,
and a platform's text is never interpreted as markup."""

from __future__ import annotations

import sys

from imcli import _redact


def _printable(line: str) -> str:
    """A lone surrogate (argv bytes that were not UTF-8) written as ``\\udcff``: a UTF-8
    stream would refuse it."""
    try:
        line.encode("utf-8")
    except UnicodeEncodeError:
        return line.encode("utf-8", "backslashreplace").decode("utf-8")
    return line


def out(line: str) -> None:
    sys.stdout.write(_printable(_redact.redact(line)) + "\n")


def err(line: str) -> None:
    sys.stderr.write(_printable(_redact.redact(line)) + "\n")
    sys.stderr.flush()


def one_line(text: str) -> str:
    """A platform's text on one line (it may carry newlines of its own)."""
    return " ".join(text.split())


def error(message: str) -> None:
    """One error line: ``imcli: <message>``."""
    err(f"imcli: {one_line(message)}")


def flush() -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
