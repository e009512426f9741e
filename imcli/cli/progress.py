"""A progress bar for a large fan-out: on stderr, only on a terminal, only past
:data:`THRESHOLD` targets (sent / failed / rate / ETA). In a pipe nothing is drawn."""

from __future__ import annotations

import time
from typing import Any

from imcli.cli import output
from imcli.models import Target, TargetResult

#: a fan-out to more targets than this shows the bar
THRESHOLD = 20


class FanOut:
    """``with FanOut(n) as bar:`` then ``bar.done(result)`` per finished target (a target
    handed to a second account is counted once, with its last outcome)."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.outcome: dict[Target, bool] = {}
        self.started = time.monotonic()
        self._progress: Any = None
        self._task: Any = None

    def __enter__(self) -> FanOut:
        if self.total <= THRESHOLD or not output.stderr_is_tty():
            return self
        import sys

        from rich.console import Console
        from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

        console = Console(file=sys.stderr, highlight=False)
        self._progress = Progress(
            TextColumn("{task.completed}/{task.total}"),
            BarColumn(),
            TextColumn("{task.fields[sent]} sent, {task.fields[failed]} failed"),
            TextColumn("{task.fields[rate]}/s"),
            TimeRemainingColumn(),
            console=console,
            transient=True,
            redirect_stdout=False,
            redirect_stderr=False,
        )
        self._progress.start()
        self._task = self._progress.add_task("push", total=self.total, sent=0, failed=0, rate="-")
        return self

    def done(self, r: TargetResult) -> None:
        self.outcome[r.target] = r.ok
        if self._progress is None:
            return
        sent = sum(self.outcome.values())
        elapsed = max(1e-6, time.monotonic() - self.started)
        self._progress.update(
            self._task,
            completed=len(self.outcome),
            sent=sent,
            failed=len(self.outcome) - sent,
            rate=f"{len(self.outcome) / elapsed:.1f}",
        )

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._progress is not None:
            try:
                self._progress.stop()
            except (OSError, ValueError):  # a closed terminal never fails the push
                pass
            self._progress = None
