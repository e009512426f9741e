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

import heapq
import time
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from imcli.models import Target

T = TypeVar("T")

#: added to a wait for a window to clear, so that float rounding never lands a send a hair
#: inside the platform's period
_EPSILON = 1e-6


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
    """At most ``count`` sends reach the platform in any ``period`` seconds.

    The platform counts arrivals, and a send arrives at some unknown moment between the
    instant it leaves (after :meth:`take` returns) and the instant its answer is read
    (:meth:`settle`). So a send holds its place in the window from :meth:`take` until
    ``period`` seconds after its answer: the send that takes the place over leaves after
    that, so it arrives at least ``period`` after the one before it did, however the
    network or the event loop delayed either. This needs no safety margin on the rate: the
    only cost is the answer's round trip once per ``count`` sends.

    ``smooth`` windows also space sends ``period / count`` apart instead of letting
    ``count`` go at once (a platform may count a burst against the sender even inside its
    limit).
    """

    def __init__(
        self, count: int, period: float, *, smooth: bool = False, clock: Clock | None = None
    ) -> None:
        import asyncio

        self.count = max(1, count)
        self.period = period
        self.interval = period / self.count if smooth else 0.0
        self.clock = clock or default_clock()
        self._busy = 0  # sends taken whose answer is not read yet
        self._answered: list[float] = []  # heap: when the answers of the last sends came
        self._due = 0.0  # the smooth schedule's next slot
        self._lock = asyncio.Lock()
        self._settled = asyncio.Event()

    async def take(self) -> None:
        """Wait for a place in the window and hold it: :meth:`settle` once sent."""
        clock = self.clock
        async with self._lock:
            while True:
                now = clock.now()
                answered = self._answered
                while answered and answered[0] + self.period <= now:
                    heapq.heappop(answered)
                if self._busy + len(answered) < self.count:
                    break
                if answered:  # the oldest answer leaves the window first
                    await clock.sleep(answered[0] + self.period - now + _EPSILON)
                else:  # every place is held by a send in flight: wait for an answer
                    self._settled.clear()
                    await self._settled.wait()
            if self.interval:
                now = clock.now()
                if self._due > now:
                    await clock.sleep(self._due - now)
                    now = clock.now()
                # a send that left less than half an interval late keeps the schedule (the
                # next one goes that much sooner), so that an event loop's small delays do
                # not add up over a long broadcast; after a pause the schedule starts anew
                late = now - self._due
                self._due = (self._due if late < self.interval / 2 else now) + self.interval
            self._busy += 1

    def settle(self, sent: bool = True) -> None:
        """The send that held a place was answered (or failed) by now; ``sent=False``: it
        never left, its place is free at once."""
        self._busy -= 1
        if sent:
            heapq.heappush(self._answered, self.clock.now())
        self._settled.set()

    async def acquire(self) -> None:
        """A place for a send whose answer is not followed: it counts as arrived now."""
        await self.take()
        self.settle()


class Slot:
    """The places one send holds in its windows, until :meth:`done`."""

    def __init__(self) -> None:
        self.windows: list[Window] = []

    def done(self, sent: bool = True) -> None:
        """The send's answer was read (or it failed or was given up) by now; ``sent=False``:
        it never left. Only the first call counts."""
        windows, self.windows = self.windows, []
        for w in windows:
            w.settle(sent)


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

    async def hold(self, target: Target | None) -> Slot:
        """Places for one send in each of its windows, held until the returned slot's
        :meth:`Slot.done` (call it when the send's answer is read, or it failed)."""
        slot = Slot()
        try:
            # the target's own windows first: a place in the shared per-account pace is
            # taken only when the send can go at once, never held while one chat waits
            for lim in self.limits:
                if target is not None and (
                    lim.scope == "chat" or (lim.scope == "group" and target.kind == "group")
                ):
                    w = self._window(lim, str(target))
                    await w.take()
                    slot.windows.append(w)
            for lim in self.limits:
                if lim.scope == "account":
                    w = self._window(lim, "")
                    await w.take()
                    slot.windows.append(w)
        except BaseException:
            slot.done(sent=False)  # interrupted or out of time while waiting: never sent
            raise
        return slot

    async def acquire(self, target: Target | None) -> None:
        """Places for a send whose answer is not followed: it counts as arrived now."""
        (await self.hold(target)).done()
