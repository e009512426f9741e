"""OncePerPush: what every target of a push reuses is worked out once, per key."""

from __future__ import annotations

import asyncio

import pytest

from imcli.errors import PlatformError, UsageError
from imcli.platforms.base import OncePerPush


def test_one_key_is_computed_once_for_every_concurrent_asker():
    memo: OncePerPush[str, str] = OncePerPush()
    runs: list[str] = []

    async def compute() -> str:
        runs.append("x")
        await asyncio.sleep(0.01)
        return "media-1"

    async def go():
        return await asyncio.gather(*(memo.get("a.png", compute) for _ in range(8)))

    assert asyncio.run(go()) == ["media-1"] * 8
    assert runs == ["x"]
    assert memo.values() == ["media-1"]


def test_different_keys_do_not_wait_on_each_other():
    memo: OncePerPush[str, str] = OncePerPush()
    both_started = asyncio.Event

    async def go():
        started = both_started()
        running: list[str] = []

        def compute(key: str):
            async def run() -> str:
                running.append(key)
                if len(running) == 2:
                    started.set()
                # the second key starts while the first is still being computed
                await asyncio.wait_for(started.wait(), 2)
                return key

            return run

        return await asyncio.gather(memo.get("a", compute("a")), memo.get("b", compute("b")))

    assert asyncio.run(go()) == ["a", "b"]


def test_a_remembered_failure_is_raised_to_later_askers_without_trying_again():
    memo: OncePerPush[str, str] = OncePerPush(remember_errors=True)
    tries: list[int] = []

    async def fail() -> str:
        tries.append(1)
        raise PlatformError("upload failed: HTTP 500")

    async def go():
        return await asyncio.gather(
            *(memo.get("a", fail) for _ in range(3)), return_exceptions=True
        )

    errors = asyncio.run(go())
    assert all(isinstance(e, PlatformError) for e in errors) and tries == [1]
    assert memo.values() == []


def test_without_remember_errors_the_next_asker_tries_again():
    memo: OncePerPush[str, str] = OncePerPush()
    tries: list[int] = []

    async def flaky() -> str:
        tries.append(1)
        if len(tries) == 1:
            raise PlatformError("connection lost")
        return "D024BE91L"

    async def go():
        with pytest.raises(PlatformError):
            await memo.get("U1", flaky)
        return await memo.get("U1", flaky)

    assert asyncio.run(go()) == "D024BE91L" and len(tries) == 2


def test_a_usage_error_is_never_remembered():
    memo: OncePerPush[str, str] = OncePerPush(remember_errors=True)
    tries: list[int] = []

    async def refuse() -> str:
        tries.append(1)
        raise UsageError("image too large")

    async def go():
        for _ in range(2):
            with pytest.raises(UsageError):
                await memo.get("a", refuse)

    asyncio.run(go())
    assert len(tries) == 2
