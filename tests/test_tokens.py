"""TokenAuth: one token per push, a failure remembered, a rejected token renewed once."""

from __future__ import annotations

import asyncio

import pytest

from imcli.errors import AccountOffline, PlatformError
from imcli.tokens import TokenAuth


class Platform:
    """Hands out t1, t2, …; a call is refused while its token is in ``rejected``."""

    def __init__(self, fail: PlatformError | None = None) -> None:
        self.fetches: list[str | None] = []
        self.calls: list[str] = []
        self.rejected: set[str] = set()
        self.fail = fail

    async def fetch(self, stale: str | None) -> tuple[str, float]:
        self.fetches.append(stale)
        await asyncio.sleep(0)
        if self.fail is not None:
            raise self.fail
        return f"t{len(self.fetches)}-of-a-test", 7200.0

    async def call(self, token: str) -> str:
        self.calls.append(token)
        await asyncio.sleep(0)
        if token in self.rejected:
            raise PlatformError("token expired", code=42001)
        return "sent"


def auth_for(platform: Platform) -> TokenAuth:
    return TokenAuth(lambda: "test-key", platform.fetch, cache=False)


def rejected(exc: PlatformError) -> bool:
    return exc.code == 42001


def test_concurrent_targets_share_one_fetch():
    platform = Platform()
    auth = auth_for(platform)

    async def go():
        return await asyncio.gather(*(auth.call(platform.call, rejected) for _ in range(10)))

    assert asyncio.run(go()) == ["sent"] * 10
    assert platform.fetches == [None]


def test_a_rejected_token_is_renewed_once_for_every_target():
    platform = Platform()
    auth = auth_for(platform)

    async def go():
        first = await auth.token()
        platform.rejected.add(first)
        return await asyncio.gather(*(auth.call(platform.call, rejected) for _ in range(5)))

    assert asyncio.run(go()) == ["sent"] * 5
    assert platform.fetches == [None, "t1-of-a-test"]  # one renewal, naming the stale token


def test_a_second_rejection_is_raised_not_renewed_again():
    platform = Platform()
    auth = auth_for(platform)

    async def go():
        platform.rejected.update({"t1-of-a-test", "t2-of-a-test", "t3-of-a-test"})
        await auth.call(platform.call, rejected)

    with pytest.raises(PlatformError) as info:
        asyncio.run(go())
    assert info.value.code == 42001
    assert len(platform.fetches) == 2 and len(platform.calls) == 2


def test_a_failed_fetch_is_remembered_for_the_other_targets():
    platform = Platform(fail=AccountOffline("invalid credential (40001)", reason="credentials"))
    auth = auth_for(platform)

    async def go():
        return await asyncio.gather(
            *(auth.call(platform.call, rejected) for _ in range(4)), return_exceptions=True
        )

    errors = asyncio.run(go())
    assert all(isinstance(e, AccountOffline) for e in errors)
    assert platform.fetches == [None] and platform.calls == []


def test_an_error_that_is_not_a_rejected_token_is_not_retried():
    platform = Platform()
    auth = auth_for(platform)

    async def call(token: str) -> str:
        platform.calls.append(token)
        raise PlatformError("no such user", code=40003)

    with pytest.raises(PlatformError):
        asyncio.run(auth.call(call, rejected))
    assert platform.fetches == [None] and len(platform.calls) == 1
