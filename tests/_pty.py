"""Drive a program on a pseudo-terminal, as a person at a keyboard would (POSIX only).

:class:`Terminal` forks the program with the pty as its controlling terminal (so
``isatty()`` is true and getpass reads from it), writes keystrokes and waits for text.
"""

from __future__ import annotations

import os
import re
import select
import signal
import time
from collections.abc import Mapping, Sequence

_ESCAPES = re.compile(rb"\x1b\[[0-9;?]*[A-Za-z]|\x1b[=>]|\r")


class Terminal:
    def __init__(self, argv: Sequence[str], env: Mapping[str, str], cwd: str | None = None) -> None:
        import pty

        self.output = b""
        pid, fd = pty.fork()
        if pid == 0:  # pragma: no cover - the child
            try:
                if cwd:
                    os.chdir(cwd)
                os.execvpe(argv[0], list(argv), dict(env))
            finally:
                os._exit(127)
        self.pid, self.fd = pid, fd
        self.status: int | None = None

    def send(self, keys: str | bytes) -> None:
        os.write(self.fd, keys.encode() if isinstance(keys, str) else keys)

    def expect(self, text: str | bytes, timeout: float = 20.0) -> str:
        """Wait until ``text`` appears in what was printed since the last expect; return
        that stretch (escape sequences and carriage returns removed)."""
        want = text.encode() if isinstance(text, str) else text
        start = len(self.output)
        deadline = time.monotonic() + timeout
        while True:
            seen = self.output[start:]
            if want in _ESCAPES.sub(b"", seen):
                return self.plain(seen)
            left = deadline - time.monotonic()
            if left <= 0 or not self._read(min(left, 0.2)) and self.status is not None:
                raise AssertionError(f"{want!r} not printed; got {self.plain(seen)!r}")

    def settle(self, quiet: float = 0.5, timeout: float = 10.0) -> str:
        """Read until nothing more is printed for ``quiet`` seconds; what was printed."""
        start = len(self.output)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self._read(quiet):
            pass
        return self.plain(self.output[start:])

    def _read(self, timeout: float) -> bool:
        ready, _, _ = select.select([self.fd], [], [], timeout)
        if not ready:
            self._poll()
            return False
        try:
            chunk = os.read(self.fd, 65536)
        except OSError:  # the child ended and the pty closed
            chunk = b""
        if not chunk:
            self._poll()
            if self.status is None:
                time.sleep(0.05)
            return False
        self.output += chunk
        return True

    def _poll(self) -> None:
        if self.status is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.status = os.waitstatus_to_exitcode(status)

    def wait(self, timeout: float = 20.0) -> int:
        """Read everything until the program ends; its exit status."""
        deadline = time.monotonic() + timeout
        while self.status is None and time.monotonic() < deadline:
            self._read(0.1)
        if self.status is None:
            self.close()
            raise AssertionError(f"still running; printed {self.plain(self.output)!r}")
        while self._read(0):
            pass
        return self.status

    def close(self) -> None:
        if self.status is None:
            try:
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            _, status = os.waitpid(self.pid, 0)
            self.status = os.waitstatus_to_exitcode(status)
        try:
            os.close(self.fd)
        except OSError:
            pass

    @staticmethod
    def plain(data: bytes) -> str:
        return _ESCAPES.sub(b"", data).decode("utf-8", "replace")
