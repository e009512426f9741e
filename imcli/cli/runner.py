"""Running the async core from the CLI: SIGINT/SIGTERM stop promptly and keep the count.

No typer here: the push fast path runs without it."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from imcli.cli import output
from imcli.errors import Interrupted
from imcli.models import PushRequest, PushResult, Target, TargetResult

T = TypeVar("T")


class Stopped(Exception):
    """The push was interrupted; the count sent so far is printed. Exit with ``exit_code``."""

    def __init__(self, exit_code: int) -> None:
        super().__init__(exit_code)
        self.exit_code = exit_code


def run_interruptibly(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro``; on SIGINT/SIGTERM cancel it and raise :class:`Interrupted`."""
    loop = asyncio.new_event_loop()
    got: list[int] = []
    task = loop.create_task(coro)

    def stop(signum: int) -> None:
        got.append(signum)
        task.cancel()

    installed = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop, sig)
            installed.append(sig)
        except (NotImplementedError, RuntimeError, ValueError):  # not the main thread / Windows
            pass
    try:
        return loop.run_until_complete(task)
    except asyncio.CancelledError:
        _settle(loop)
        raise Interrupted(got[0] if got else signal.SIGINT) from None
    except KeyboardInterrupt:
        task.cancel()
        try:
            loop.run_until_complete(task)
        except BaseException:  # noqa: BLE001
            pass
        raise Interrupted(signal.SIGINT) from None
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)
        try:
            loop.run_until_complete(loop.shutdown_asyncgens())
        finally:
            loop.close()


def _settle(loop: asyncio.AbstractEventLoop) -> None:
    """Cancel and wait for every task still running after an interrupt (a fan-out's
    sends must not go on after the count is taken): each records what it knows -- a send
    in flight as "may have been delivered" -- before the result is read."""
    pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
    if not pending:
        return
    for t in pending:
        t.cancel()
    try:  # a task that ignores its cancellation must not keep the process: 2 s at most
        loop.run_until_complete(asyncio.wait(pending, timeout=2.0))
    except BaseException:  # noqa: BLE001 - a second signal: the count is still printed
        pass


def run_push_interruptibly(
    req: PushRequest,
    *,
    verbose: int,
    dry_run: bool,
    json_out: bool = False,
    on_interrupt: Callable[[list[TargetResult]], None] | None = None,
    on_result: Callable[[TargetResult], None] | None = None,
) -> PushResult:
    from imcli.core import run_push

    results: dict[Target, TargetResult] = {}
    log = (lambda line: output.err(line)) if verbose else None
    dry = (lambda line: output.err(f"dry-run: {line}")) if dry_run else None
    try:
        return run_interruptibly(
            run_push(req, verbose=log, dry_log=dry, results_out=results, on_result=on_result)
        )
    except Interrupted as exc:
        # the count is what surely arrived; sends in flight at the interrupt may have
        # been delivered too: both numbers, never one passed off as the other
        for t in req.targets:
            results.setdefault(t, TargetResult(target=t))
        partial = PushResult(platform=req.platform or "", results=list(results.values()))
        if on_interrupt is not None:
            on_interrupt(partial.results)
        line = f"interrupted; {partial.sent} of {len(results)} target(s) sent"
        if partial.uncertain:
            line += f", {partial.uncertain} more may have been delivered"
        output.error(line)
        if json_out:
            import json

            for r in partial.results:
                if not r.ok and not r.error:
                    r.error = "interrupted"
            output.out(json.dumps(partial.to_json(), ensure_ascii=False))
        else:
            output.out(str(partial.sent))
        output.flush()
        raise Stopped(exc.exit_code) from None
