"""Rate limiting: the platforms' declared limits, the sliding windows that keep them, and
the clock every wait of the HTTP layer goes through.

A platform declares its limits as data (:class:`Limit`, on its spec); one
:class:`RateLimiter` per account turns them into :class:`Window`\\ s, per account, per chat
and per group. This module is cheap to import (no asyncio until a window is made): the
platform specs, which ``imcli platforms`` and completion read, refer to :class:`Limit`.

Every wait (a rate-limit slot, a retry's backoff, the ``--timeout`` budget) reads and
sleeps through a :class:`Clock`. The default is the system's monotonic clock; a test can
give another one (:func:`set_default_clock`, or the ``clock`` argument of each class) so
that it never sleeps through a real rate-limit window.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from imcli.models import Target

T = TypeVar("T")


@dataclass(frozen=True)
class Limit:
    """At most ``count`` sends per ``period`` seconds, per ``scope``.

    scope: ``account`` (per bot/app), ``chat`` (per target) or ``group`` (group targets only).
    """

    count: int
    period: float
    scope: str = "account"


class Clock:
    """Monotonic seconds, and the waits measured in them (the system's clock)."""

    def now(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        import asyncio

        await asyncio.sleep(seconds)

    async def wait_for(self, aw: Awaitable[T], timeout: float) -> T:
        """``aw``, or ``asyncio.TimeoutError`` once ``timeout`` seconds have passed (a
        cancellation of the waiting task is never lost)."""
        from imcli._async import wait_for

        return await wait_for(aw, timeout)


SYSTEM_CLOCK = Clock()
_default: Clock = SYSTEM_CLOCK


def default_clock() -> Clock:
    """The clock a limiter, budget or HTTP client made without one uses."""
    return _default


def set_default_clock(clock: Clock | None) -> Clock:
    """Make ``clock`` (None: the system's) the default; returns the previous one."""
    global _default
    previous, _default = _default, clock or SYSTEM_CLOCK
    return previous


class Window:
    """At most ``count`` acquisitions in any ``period`` seconds (sliding window).

    ``smooth`` windows also space acquisitions evenly (``period / count`` apart) instead
    of letting a burst of ``count`` go at once: a burst leaves the client at once but
    reaches the server spread out, and the platform counts arrivals. A small margin
    keeps arrival times, not just departures, inside the platform's window.
    """

    MARGIN = 1.08
    CATCH_UP = 0.05

    def __init__(
        self, count: int, period: float, *, smooth: bool = False, clock: Clock | None = None
    ) -> None:
        import asyncio

        self.count = max(1, count)
        self.period = period * self.MARGIN + 0.01
        self.interval = period * self.MARGIN / self.count if smooth else 0.0
        self.clock = clock or default_clock()
        self._times: deque[float] = deque()
        self._next = 0.0
        self._lock = asyncio.Lock()

    async def acquire(self) -> None:
        clock = self.clock
        async with self._lock:
            if self.interval:
                now = clock.now()
                if self._next > now:
                    await clock.sleep(self._next - now)
                # from when this send really leaves: a late event loop must not let the
                # sends it held back go out in a burst to catch up. It may make up 5 % of
                # an interval per send (still under the platform's rate), so that small
                # delays do not add up over a 10,000-target broadcast
                left = clock.now()
                self._next = max(
                    self._next + self.interval, left + self.interval * (1 - self.CATCH_UP)
                )
            while True:
                now = clock.now()
                while self._times and self._times[0] <= now - self.period:
                    self._times.popleft()
                if len(self._times) < self.count:
                    self._times.append(now)
                    return
                await clock.sleep(self._times[0] + self.period - now)


class RateLimiter:
    """The platform's limits for one account: per account, per chat, per group.

    ``rate`` (the account's ``rate`` field) replaces the per-account limit: 0 removes every
    limit, a fraction is one send per ``1 / rate`` seconds.
    """

    def __init__(
        self, limits: tuple[Limit, ...], rate: float | None, *, clock: Clock | None = None
    ) -> None:
        if rate is not None:
            if rate <= 0:
                limits = ()
            else:
                count, period = (int(rate), int(rate) / rate) if rate >= 1 else (1, 1 / rate)
                limits = (Limit(count, period, "account"),) + tuple(
                    lim for lim in limits if lim.scope != "account"
                )
        self.limits = limits
        self.clock = clock or default_clock()
        self._windows: dict[tuple[str, str], Window] = {}

    def _window(self, lim: Limit, key: str) -> Window:
        k = (f"{lim.scope}/{lim.count}/{lim.period}", key)
        w = self._windows.get(k)
        if w is None:
            w = self._windows[k] = Window(
                lim.count, lim.period, smooth=lim.scope == "account", clock=self.clock
            )
        return w

    async def acquire(self, target: Target | None) -> None:
        # the target's own windows first: a slot of the shared per-account pace is taken
        # only when the send can go at once, never held while one chat waits its turn
        for lim in self.limits:
            if target is not None and (
                lim.scope == "chat" or (lim.scope == "group" and target.kind == "group")
            ):
                await self._window(lim, str(target)).acquire()
        for lim in self.limits:
            if lim.scope == "account":
                await self._window(lim, "").acquire()
