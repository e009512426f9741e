"""A clock for the tests that skips the waits instead of sleeping through them.

Its time is the real monotonic time plus every wait skipped so far: a sleep of ``d``
seconds moves the clock forward to its end at once (the other tasks get a turn, as in a
real sleep; waits that overlap in time skip only once). Real time still counts, so a fake server's delays and real timeouts
behave as they do with the system clock.

:meth:`VirtualClock.wait_for` keeps ``asyncio.wait_for``'s promise in the clock's time:
a sleep that would end after the deadline moves the clock to the deadline and raises
``asyncio.TimeoutError`` from inside the wait, as the cancelled wait would.

The fake servers stamp arrivals and keep their rate windows with :data:`tests.fakes.base`'s
clock, which the ``clock`` fixture points at the same virtual clock.

:func:`departures` records when imcli hands each request to httpx, for the tests that
check a pace on the system clock (``real_clock``).
"""

from __future__ import annotations

import asyncio
import contextvars
import threading
import time
from collections.abc import Awaitable
from typing import Any, TypeVar

import pytest

from imcli._async import wait_for
from imcli.ratelimit import Clock

T = TypeVar("T")

_deadline: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "virtual_deadline", default=None
)


class VirtualClock(Clock):
    def __init__(self) -> None:
        self._skipped = 0.0
        self._lock = threading.Lock()  # the fake servers read it from their threads
        self.slept = 0.0  # seconds of waiting skipped, for the tests that assert it

    def now(self) -> float:
        with self._lock:
            return time.monotonic() + self._skipped

    def advance_to(self, when: float) -> None:
        """Move the clock forward to ``when`` (never back: concurrent waits overlap, as
        they do in real time)."""
        with self._lock:
            jump = when - (time.monotonic() + self._skipped)
            if jump > 0:
                self._skipped += jump
                self.slept += jump

    async def sleep(self, seconds: float) -> None:
        wake = self.now() + max(0.0, seconds)
        deadline = _deadline.get()
        if deadline is not None and wake > deadline:
            self.advance_to(deadline)
            await asyncio.sleep(0)
            raise asyncio.TimeoutError
        self.advance_to(wake)
        await asyncio.sleep(0)

    async def wait_for(self, aw: Awaitable[T], timeout: float) -> T:
        deadline = self.now() + timeout
        outer = _deadline.get()
        _deadline.set(deadline if outer is None else min(deadline, outer))
        try:
            # the real wait_for too: real time passes as well (a server that never answers);
            # imcli's, which never loses a cancellation
            return await wait_for(aw, max(0.0, deadline - self.now()))
        finally:
            _deadline.set(outer)


def departures(monkeypatch: pytest.MonkeyPatch) -> list[tuple[float, str]]:
    """(time, URL) of every request as imcli hands it to httpx, on the system clock.

    The pace of concurrent sends is read here rather than from the fakes' arrival times:
    a fake stamps a request when its thread gets to it, which on a loaded machine can be
    half a second after it left (the fakes run in this process, behind the same GIL),
    and only for some of the requests."""
    import httpx

    sent: list[tuple[float, str]] = []
    send = httpx.AsyncClient.send

    async def stamped(self: Any, request: Any, **kw: Any) -> Any:
        sent.append((time.monotonic(), str(request.url)))
        return await send(self, request, **kw)

    monkeypatch.setattr(httpx.AsyncClient, "send", stamped)
    return sent
