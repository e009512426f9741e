"""``wait_for`` that never loses a cancellation.

Before Python 3.12, ``asyncio.wait_for`` returns the inner result when the task waiting
in it is cancelled at the moment the inner awaitable completes (CPython issue gh-86296):
the cancellation is lost. A fan-out worker that loses the cancellation of SIGINT/SIGTERM
goes on sending to the targets after it. Here a cancellation always wins, and a timeout
raises ``asyncio.TimeoutError``; every wait with a time limit in imcli goes through it.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable
from typing import TypeVar

T = TypeVar("T")


async def wait_for(aw: Awaitable[T], timeout: float) -> T:
    """``aw``, or ``asyncio.TimeoutError`` once ``timeout`` seconds have passed; a
    cancellation of the waiting task is never turned into a result."""
    if sys.version_info >= (3, 12):  # its wait_for is built on asyncio.timeout
        return await asyncio.wait_for(aw, timeout)
    if sys.version_info >= (3, 11):
        async with asyncio.timeout(max(0.0, timeout)):
            return await aw
    return await _wait_for_310(aw, timeout)


async def _wait_for_310(aw: Awaitable[T], timeout: float) -> T:
    """Python 3.10: the awaitable as a task, cancelled by a timer. Awaiting a task never
    swallows the cancellation of the waiter: cancelled while (or just after) the task
    finishes, the waiter raises CancelledError, and the task is cancelled with it."""
    loop = asyncio.get_running_loop()
    inner = asyncio.ensure_future(aw)
    expired = False

    def expire() -> None:
        nonlocal expired
        if not inner.done():
            expired = True
            inner.cancel()

    timer = loop.call_later(max(0.0, timeout), expire)
    try:
        return await inner
    except asyncio.CancelledError:
        if expired and inner.cancelled():
            raise asyncio.TimeoutError from None
        raise
    finally:
        timer.cancel()
