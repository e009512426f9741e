"""Running the command of ``imcli run``: output passed through and kept, signals
forwarded, a time limit enforced. Nothing here pushes; :mod:`imcli.cli.run_job` does.

- Output: CMD's stdout and stderr are pipes, read as data comes (one select loop on
  POSIX, one thread per pipe elsewhere). Every chunk is written at once (unbuffered) to
  imcli's own stdout or stderr, unchanged, and recorded in the order it was read: output
  written at different moments keeps its order; bytes written to both pipes at the same
  instant cannot be ordered by anyone (stdout's are taken first). A closed or full
  stdout/stderr stops the pass-through of that stream, never the command or the record.
- The record: the last ``tail_lines`` lines in memory (each kept to ``LINE_KEEP`` bytes;
  a carriage return starts the line again, as on a terminal, so progress bars keep their
  last state), and with ``log_limit`` the whole output in a temporary file (0600) of at
  most that many bytes: past the limit the oldest bytes are dropped (a ring) and
  :attr:`Outcome.dropped` says how many. A temporary file never outlives imcli: the ring
  has no name from the moment it is opened (POSIX), and the copy in order that is
  uploaded is deleted when the push is done, and at exit whatever happens.
- Signals: SIGINT, SIGTERM and SIGHUP received while CMD runs are forwarded to it, and
  imcli keeps waiting for it. One that imcli was started ignoring (``nohup``) stays
  ignored, by CMD too. A SIGINT is not forwarded when imcli is the terminal's
  foreground process group: the terminal sent it to CMD (same group) already, and a second
  one would cut short a graceful shutdown.
- Process group: where imcli is not the foreground of a terminal (cron, CI, a service),
  CMD gets a process group of its own and every signal goes to that group, so that what
  CMD started (a script's children) stops with it, as a shell's job control does. In the
  foreground of a terminal CMD stays in imcli's group, so that Ctrl-C and reads from
  the terminal work as they would without imcli.
- ``max_runtime``: past it CMD gets SIGTERM, and SIGKILL ``grace`` seconds later.
- A command that cannot be started: 127 when it does not exist, 126 when it is not
  executable (the shell's statuses).
- When CMD exits, what it left running may still hold the pipes: the record waits
  ``DRAIN`` seconds for their end, then stops listening.
"""

from __future__ import annotations

import atexit
import collections
import contextlib
import os
import selectors
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from typing import IO, Any

LINE_KEEP = 4096  # bytes of one line kept for the tail
DRAIN = 0.5  # seconds to wait for the pipes' end once CMD has exited
FORWARDED = tuple(
    getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name)
)

_temp_files: set[str] = set()


def _cleanup() -> None:
    for path in list(_temp_files):
        forget(path)


atexit.register(_cleanup)


def forget(path: str) -> None:
    """Delete a temporary file of this module (once)."""
    _temp_files.discard(path)
    try:
        os.unlink(path)
    except OSError:
        pass


def _temp_path(prefix: str) -> tuple[int, str]:
    fd, path = tempfile.mkstemp(prefix=prefix)  # mode 0600
    _temp_files.add(path)
    return fd, path


class RingLog:
    """The whole output in a file of at most ``limit`` bytes; the oldest bytes go first."""

    def __init__(self, limit: int) -> None:
        self.limit = max(1, limit)
        fd, self.path = _temp_path("imcli-run-")
        self._fh: IO[bytes] = os.fdopen(fd, "w+b")
        if os.name == "posix":  # unnamed at once: it cannot outlive imcli, even a SIGKILL
            forget(self.path)
        self.pos = 0  # where the next byte goes
        self.total = 0  # bytes written in all

    def write(self, data: bytes) -> None:
        self.total += len(data)
        if len(data) >= self.limit:  # only its end can stay
            data = data[-self.limit :]
            self._fh.seek(0)
            self._fh.write(data)
            self.pos = len(data) % self.limit
            return
        first = min(len(data), self.limit - self.pos)
        self._fh.seek(self.pos)
        self._fh.write(data[:first])
        if first < len(data):
            self._fh.seek(0)
            self._fh.write(data[first:])
        self.pos = (self.pos + len(data)) % self.limit

    @property
    def dropped(self) -> int:
        return max(0, self.total - self.limit)

    def finish(self, header: bytes = b"") -> str | None:
        """The output in order, in a new temporary file (its path; None when empty). When
        bytes were dropped, the file starts at the first whole line after the cut, below
        ``header``. The ring file is deleted."""
        try:
            self._fh.flush()
            if self.total == 0:
                return None
            fd, path = _temp_path("imcli-log-")
            with os.fdopen(fd, "wb") as out:
                if self.total <= self.limit:
                    self._copy(0, self.total, out)
                    return path
                out.write(header)
                # in order, the kept bytes are ring[pos:] + ring[:pos]; the first of them
                # is inside a line that was cut: start at the next whole line
                head = self._read(self.pos, min(self.limit, self.pos + LINE_KEEP))
                if len(head) < LINE_KEEP:
                    head += self._read(0, min(self.pos, LINE_KEEP - len(head)))
                nl = head.find(b"\n")
                skip = nl + 1 if nl >= 0 and nl + 1 < self.limit else 0
                first = self.pos + skip
                if first < self.limit:
                    self._copy(first, self.limit, out)
                    self._copy(0, self.pos, out)
                else:
                    self._copy(first - self.limit, self.pos, out)
            return path
        finally:
            self._fh.close()
            forget(self.path)

    def discard(self) -> None:
        try:
            self._fh.close()
        finally:
            forget(self.path)

    def _read(self, start: int, end: int) -> bytes:
        self._fh.seek(start)
        return self._fh.read(max(0, end - start))

    def _copy(self, start: int, end: int, out: IO[bytes]) -> None:
        self._fh.seek(start)
        left = end - start
        while left > 0:
            chunk = self._fh.read(min(left, 1 << 16))
            if not chunk:
                break
            out.write(chunk)
            left -= len(chunk)


class Tail:
    """The last ``n`` lines of the output, each at most ``LINE_KEEP`` bytes."""

    def __init__(self, n: int) -> None:
        self.lines: collections.deque[bytes] = collections.deque(maxlen=max(0, n))
        self.count = 0  # lines seen (a last line without a newline counts)
        self._line = bytearray()
        self._cut = False  # the current line is longer than LINE_KEEP

    def feed(self, data: bytes) -> None:
        start = 0
        while True:
            nl = data.find(b"\n", start)
            if nl < 0:
                self._add(data[start:])
                return
            self._add(data[start:nl])
            self._end_line()
            start = nl + 1

    def _add(self, piece: bytes) -> None:
        if not piece:
            return
        cr = piece.rfind(b"\r", 0, len(piece) - 1)  # a \r before the end restarts the line
        if cr >= 0:
            self._line.clear()
            self._cut = False
            piece = piece[cr + 1 :]
        elif self._line.endswith(b"\r"):
            self._line.clear()
            self._cut = False
        room = LINE_KEEP - len(self._line)
        if len(piece) > room:
            piece = piece[: max(0, room)]
            self._cut = True
        self._line += piece

    def _end_line(self) -> None:
        line = bytes(self._line)
        if line.endswith(b"\r"):
            line = line[:-1]
        if self._cut:
            line += "…".encode()
        self.lines.append(line)
        self.count += 1
        self._line.clear()
        self._cut = False

    def close(self) -> None:
        if self._line or self._cut:
            self._end_line()


@dataclass
class Outcome:
    """How CMD ended, and what it printed."""

    argv: list[str]
    started: bool = True
    start_error: str | None = None  # why it could not be started
    returncode: int | None = None  # its exit status, when it exited
    signal: int | None = None  # the signal that killed it
    forwarded: int | None = None  # the first signal imcli received while it ran
    passed_on: bool = False  # imcli sent it on (not when the terminal had sent it to CMD)
    timed_out: bool = False  # --max-runtime ran out
    killed: bool = False  # SIGKILL was sent after the grace period
    seconds: float = 0.0
    tail: list[bytes] = field(default_factory=list)
    lines: int = 0
    total_bytes: int = 0
    log_path: str | None = None  # the whole output (its end), for --attach-log
    dropped: int = 0  # bytes of the output that did not fit in the log file
    left_running: bool = False  # the pipes were still open DRAIN s after CMD exited

    @property
    def exit_status(self) -> int:
        """The shell's convention: the status, or 128 + the signal's number."""
        if not self.started:
            return self.returncode if self.returncode is not None else 127
        if self.signal is not None:
            return 128 + self.signal
        return self.returncode or 0


def signal_name(signum: int) -> str:
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"


def _keyboard_reaches_child() -> bool:
    """Is imcli in the foreground of a terminal? Then the terminal's SIGINT reached CMD too."""
    try:
        fd = os.open("/dev/tty", os.O_RDONLY | getattr(os, "O_NOCTTY", 0))
    except OSError:
        return False
    try:
        return os.tcgetpgrp(fd) == os.getpgrp()
    except OSError:
        return False
    finally:
        os.close(fd)


class _Sink:
    """One of imcli's own streams, as bytes; it stops quietly when it breaks."""

    def __init__(self, stream: Any) -> None:
        self.stream = stream
        self.broken = stream is None

    def write(self, data: bytes) -> None:
        if self.broken:
            return
        try:
            buf = getattr(self.stream, "buffer", None)
            if buf is None:  # a text-only stream (never the real process)
                self.stream.write(data.decode("utf-8", "replace"))
                self.stream.flush()
            else:
                buf.write(data)
                buf.flush()
        except (OSError, ValueError):
            self.broken = True


class _Reader:
    """Reads CMD's pipes as data comes and hands each chunk to ``record`` with its sink."""

    lock: Any = contextlib.nullcontext()

    @property
    def done(self) -> bool:  # both pipes have ended
        raise NotImplementedError

    def wait(self, timeout: float) -> None:  # record what comes within ``timeout`` s
        raise NotImplementedError

    def stop(self) -> None:  # record nothing more
        raise NotImplementedError


class _SelectReader(_Reader):
    """POSIX: one loop in the main thread; when both pipes have data, stdout's goes first
    (the order in which a script usually wrote it)."""

    def __init__(self, pipes: list[tuple[IO[bytes], _Sink]], record: Any) -> None:
        self.record = record
        self.sel = selectors.DefaultSelector()
        for order, (pipe, sink) in enumerate(pipes):
            self.sel.register(pipe, selectors.EVENT_READ, (order, sink))

    @property
    def done(self) -> bool:
        return not self.sel.get_map()

    def wait(self, timeout: float) -> None:
        if self.done:
            time.sleep(timeout)
            return
        for key, _ in sorted(self.sel.select(timeout), key=lambda e: e[0].data[0]):
            try:
                data = os.read(key.fd, 1 << 16)
            except OSError:
                data = b""
            if data:
                self.record(data, key.data[1])
            else:
                self.sel.unregister(key.fileobj)

    def stop(self) -> None:
        self.sel.close()


class _ThreadReader(_Reader):
    """Elsewhere (Windows pipes cannot be selected): one thread per pipe, one lock."""

    def __init__(self, pipes: list[tuple[IO[bytes], _Sink]], record: Any) -> None:
        self.lock = threading.Lock()
        self.stopped = False
        self.threads = [
            threading.Thread(target=self._pump, args=(pipe, sink), daemon=True)
            for pipe, sink in pipes
        ]
        self.record = record
        for t in self.threads:
            t.start()

    def _pump(self, pipe: IO[bytes], sink: _Sink) -> None:
        while True:
            try:
                data = os.read(pipe.fileno(), 1 << 16)
            except OSError:
                data = b""
            if not data:
                return
            with self.lock:
                if not self.stopped:
                    self.record(data, sink)

    @property
    def done(self) -> bool:
        return not any(t.is_alive() for t in self.threads)

    def wait(self, timeout: float) -> None:
        alive = [t for t in self.threads if t.is_alive()]
        if alive:
            alive[0].join(timeout)
        else:
            time.sleep(timeout)

    def stop(self) -> None:
        self.stopped = True


def run(
    argv: list[str],
    *,
    tail_lines: int,
    log_limit: int | None,
    max_runtime: float | None,
    grace: float,
) -> Outcome:
    """Run ``argv`` to its end (see the module doc); never raises for CMD's sake."""
    job = _Run(argv, tail_lines, log_limit)
    sinks = {"stdout": _Sink(sys.stdout), "stderr": _Sink(sys.stderr)}
    _flush_own_output()
    start = time.monotonic()
    try:
        job.forward_signals()
        proc = job.start()
        if proc is None:
            return job.outcome
        assert proc.stdout is not None and proc.stderr is not None
        pipes = [(proc.stdout, sinks["stdout"]), (proc.stderr, sinks["stderr"])]
        reader: _Reader = (
            _SelectReader(pipes, job.record)
            if os.name == "posix"
            else _ThreadReader(pipes, job.record)
        )
        _supervise(proc, reader, job.outcome, start, max_runtime, grace, job.own_group)
        job.collect(proc, reader)
        return job.outcome
    finally:
        job.clean_up()


def _flush_own_output() -> None:
    """What imcli printed before CMD's output goes first."""
    for stream in (sys.stdout, sys.stderr):
        try:
            if stream is not None:
                stream.flush()
        except (OSError, ValueError):
            pass


class _Run:
    """One run of CMD: its process, what it printed (tail and log), the signals imcli
    passes on to it, and what is undone at the end."""

    def __init__(self, argv: list[str], tail_lines: int, log_limit: int | None) -> None:
        self.argv = list(argv)
        self.outcome = Outcome(argv=list(argv))
        self.tail = Tail(tail_lines)
        self.ring: RingLog | None = RingLog(log_limit) if log_limit else None
        self.proc: subprocess.Popen[bytes] | None = None
        self.own_group = False
        self.previous: dict[int, Any] = {}

    def on_signal(self, signum: int, frame: Any) -> None:
        outcome, proc = self.outcome, self.proc
        if outcome.forwarded is None:
            outcome.forwarded = signum
        if proc is None or proc.returncode is not None:
            return
        if not self.own_group and signum == signal.SIGINT and _keyboard_reaches_child():
            return
        if _send(proc, signum, self.own_group):
            outcome.passed_on = True

    def forward_signals(self) -> None:
        for sig in FORWARDED:
            try:
                if signal.getsignal(sig) == signal.SIG_IGN:
                    continue  # ignored (nohup): CMD inherits that
                self.previous[sig] = signal.signal(sig, self.on_signal)
            except (ValueError, OSError):  # not the main thread
                pass

    def start(self) -> subprocess.Popen[bytes] | None:
        """CMD started (in its own process group where the keyboard does not reach it
        anyway), or None with the outcome saying why it could not be."""
        try:
            self.own_group = hasattr(os, "setpgid") and not _keyboard_reaches_child()
            self.proc = subprocess.Popen(
                self.argv,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                preexec_fn=os.setpgrp if self.own_group else None,  # noqa: PLW1509
            )
        except OSError as exc:
            self.outcome.started = False
            self.outcome.start_error = _start_error(exc)
            self.outcome.returncode = 127 if isinstance(exc, FileNotFoundError) else 126
            return None
        return self.proc

    def record(self, data: bytes, sink: _Sink) -> None:
        sink.write(data)
        self.tail.feed(data)
        if self.ring is not None:
            self.ring.write(data)
        self.outcome.total_bytes += len(data)

    def collect(self, proc: subprocess.Popen[bytes], reader: _Reader) -> None:
        """CMD has ended: its status, its tail and its log into the outcome."""
        outcome = self.outcome
        code = proc.returncode
        if code is not None and code < 0:
            outcome.signal = -code
        else:
            outcome.returncode = code
        with reader.lock:  # a pipe still open (a process CMD left running): stop listening
            outcome.left_running = not reader.done
            reader.stop()
            self.tail.close()
            outcome.tail = list(self.tail.lines)
            outcome.lines = self.tail.count
            ring = self.ring
            if ring is not None:
                outcome.dropped = ring.dropped
                header = (
                    f"[imcli: the output was {ring.total} bytes; its first {ring.dropped} "
                    f"bytes were dropped to keep the log under {ring.limit} bytes]\n"
                ).encode()
                outcome.log_path = ring.finish(header)
                self.ring = None

    def clean_up(self) -> None:
        """A log not handed over is deleted, imcli's signal handlers put back, CMD's
        pipes closed (unless a process it left running still holds them)."""
        if self.ring is not None:
            self.ring.discard()
        for sig, handler in self.previous.items():
            try:
                signal.signal(sig, handler)
            except (ValueError, OSError, TypeError):
                pass
        if self.proc is not None:
            for pipe in (self.proc.stdout, self.proc.stderr):
                if pipe is not None and not self.outcome.left_running:
                    try:
                        pipe.close()
                    except OSError:
                        pass


def _supervise(
    proc: subprocess.Popen[bytes],
    reader: _Reader,
    outcome: Outcome,
    start: float,
    max_runtime: float | None,
    grace: float,
    own_group: bool,
) -> None:
    """Read CMD's output until it exits (then at most DRAIN s more); past
    ``max_runtime`` send SIGTERM, and SIGKILL ``grace`` s later."""
    kill_at: float | None = None
    exited_at: float | None = None
    while True:
        now = time.monotonic()
        if exited_at is None and proc.poll() is not None:
            exited_at = now
            outcome.seconds = now - start
        if exited_at is not None:
            if reader.done or now - exited_at >= DRAIN:
                break
            reader.wait(min(0.05, exited_at + DRAIN - now))
            continue
        waits = [0.05]  # how soon CMD's exit is noticed when its pipes stay open
        if max_runtime is not None and not outcome.timed_out:
            if now - start >= max_runtime:
                outcome.timed_out = True
                _send(proc, signal.SIGTERM, own_group)
                kill_at = now + max(0.0, grace)
            else:
                waits.append(start + max_runtime - now)
        if kill_at is not None and not outcome.killed:
            if now >= kill_at:
                outcome.killed = True
                _send(proc, getattr(signal, "SIGKILL", signal.SIGTERM), own_group)
            else:
                waits.append(kill_at - now)
        reader.wait(max(0.0, min(waits)))


def _send(proc: subprocess.Popen[bytes], signum: int, group: bool) -> bool:
    """Signal CMD (its whole process group when it has its own); True if sent."""
    if proc.returncode is not None:
        return False
    try:
        if group:
            os.killpg(proc.pid, signum)
        else:
            proc.send_signal(signum)
    except OSError:
        return False
    return True


def _start_error(exc: OSError) -> str:
    if isinstance(exc, FileNotFoundError):
        return "command not found"
    if isinstance(exc, PermissionError):
        return "permission denied (not executable)"
    return exc.strerror or type(exc).__name__
