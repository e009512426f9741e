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


def _write(name: str, line: str) -> None:
    """Write one line; a closed, full or broken stream loses the line and nothing else:
    the exit status reflects delivery, not the terminal (``>&-``, ``>/dev/full``,
    ``| true``). The stream is then replaced by /dev/null so that the exit-time flush
    cannot fail either."""
    stream = getattr(sys, name)
    try:
        stream.write(_printable(_redact.redact(line)) + "\n")
        stream.flush()
    except (OSError, ValueError, AttributeError):  # AttributeError: fd closed, stream None
        _discard(name)


def _discard(name: str) -> None:
    import os

    try:
        setattr(sys, name, open(os.devnull, "w", encoding="utf-8"))  # noqa: SIM115
    except OSError:
        pass


def out(line: str) -> None:
    _write("stdout", line)


def err(line: str) -> None:
    _write("stderr", line)


def one_line(text: str) -> str:
    """A platform's text on one line (it may carry newlines of its own)."""
    return " ".join(text.split())


def error(message: str) -> None:
    """One error line: ``imcli: <message>``."""
    err(f"imcli: {one_line(message)}")


def flush() -> None:
    for name in ("stdout", "stderr"):
        try:
            getattr(sys, name).flush()
        except (OSError, ValueError, AttributeError):
            _discard(name)


def stderr_is_tty() -> bool:
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False
