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
        discard(name)


def discard(name: str) -> None:
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
            discard(name)


def stderr_is_tty() -> bool:
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


def stdout_is_tty() -> bool:
    try:
        return sys.stdout.isatty()
    except (AttributeError, ValueError):
        return False


def terminal_width() -> int | None:
    """The terminal's width when stdout is one, else None (a pipe: no wrapping)."""
    if not stdout_is_tty():
        return None
    import shutil

    return shutil.get_terminal_size((80, 24)).columns


def plain_table(
    headers: list[str], rows: list[list[str]], center: frozenset[int] = frozenset()
) -> str:
    """A table as plain text: columns two spaces apart, no box drawing, no colour (what a
    pipe gets, and what `imcli platforms` shows at any width). Columns in ``center`` are
    centred."""
    widths = [len(h) for h in headers]
    for row in rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))

    def line(cells: list[str]) -> str:
        out = []
        for i, cell in enumerate(cells):
            out.append(cell.center(widths[i]) if i in center else cell.ljust(widths[i]))
        return "  ".join(out).rstrip()

    return "\n".join([line(headers), *(line(r) for r in rows)])
