"""The shared HTTP layer: rate limits, retries, the time budget, proxies, redaction."""

from __future__ import annotations

import asyncio
import socket
import threading
import time

import pytest

from imcli import _redact
from imcli.errors import AccountOffline, ImcliError, MaybeDeliveredError, RetryableError
from imcli.http import Budget, HttpClient, json_reply
from imcli.models import Target
from imcli.ratelimit import Limit, RateLimiter, Window
from tests.conftest import TG_TOKEN, now
from tests.fakes.base import FakeServer, Recorded, Reply
from tests.fakes.telegram import FakeTelegram


class Echo(FakeServer):
    def handle(self, req: Recorded) -> Reply:
        return Reply(200, json={"ok": True, "path": req.path})


def parse_ok(resp):
    data = json_reply(resp)
    if resp.status_code == 429:
        raise RetryableError("slow down", retry_after=float(resp.headers.get("retry-after", 0)))
    return data


def run(coro):
    return asyncio.run(coro)


# -- rate limits -------------------------------------------------------------------------------


def _window_stamps(clock) -> list[float]:
    async def go():
        w = Window(5, 0.2, clock=clock)
        stamps = []
        for _ in range(16):
            await w.acquire()
            stamps.append(clock.now())
        return stamps

    return run(go())


def test_window_never_allows_more_than_count_in_any_period(clock):
    stamps = _window_stamps(clock)
    for i in range(len(stamps) - 5):
        assert stamps[i + 5] - stamps[i] >= 0.2
    assert stamps[-1] - stamps[0] < 0.2 * 3 * 1.2  # and no slower than it must be
    assert clock.slept >= 0.2 * 3 * 0.9  # the waits were the clock's, not real sleeps


@pytest.mark.real_clock
def test_window_keeps_its_limit_on_the_system_clock():
    from imcli.ratelimit import SYSTEM_CLOCK

    stamps = _window_stamps(SYSTEM_CLOCK)
    for i in range(len(stamps) - 5):
        assert stamps[i + 5] - stamps[i] >= 0.2
    assert stamps[-1] - stamps[0] < 0.2 * 3 * 1.2


def test_a_place_is_held_until_the_answer_and_freed_a_period_after_it(clock):
    """The platform counts arrivals, somewhere between a send leaving and its answer:
    the send that takes a place over leaves a whole period after the answer of the one
    that held it, never a period after that one merely left."""

    async def go():
        w = Window(2, 1.0, clock=clock)
        t0 = clock.now()
        await w.take()
        await w.take()  # two in flight: the window is full
        third = asyncio.ensure_future(w.take())
        await asyncio.sleep(0.05)  # real time: no answer yet, so it must wait for one
        assert not third.done()
        await clock.sleep(0.5)  # the first answer comes half a second after it left
        w.settle()
        await third
        took = clock.now() - t0
        w.settle(sent=False)  # the second never left: its place is free at once
        await w.take()
        return took, clock.now() - t0

    took, fourth = run(go())
    assert 1.5 <= took < 1.6  # the answer's time + the period
    assert fourth < 1.6  # not held back a period by a send that never left


def test_rate_zero_removes_every_limit_and_rate_replaces_the_account_limit():
    limits = (Limit(30, 1.0, "account"), Limit(1, 1.0, "chat"))
    assert RateLimiter(limits, 0).limits == ()
    assert RateLimiter(limits, None).limits == limits
    custom = RateLimiter(limits, 5).limits
    assert Limit(5, 1.0, "account") in custom and Limit(1, 1.0, "chat") in custom
    slow = RateLimiter(limits, 0.5).limits
    assert Limit(1, 2.0, "account") in slow


def test_per_chat_limit_spaces_the_parts_sent_to_one_chat(clock):
    async def go():
        rl = RateLimiter((Limit(1, 0.2, "chat"),), None)
        t = Target("user", "1")
        other = Target("user", "2")
        t0 = clock.now()
        await rl.acquire(t)
        await rl.acquire(other)  # another chat is not held back
        mid = clock.now() - t0
        await rl.acquire(t)
        return mid, clock.now() - t0

    mid, total = run(go())
    assert mid < 0.05 and total >= 0.2


def test_group_limit_applies_only_to_groups(clock):
    async def go():
        rl = RateLimiter((Limit(1, 0.3, "group"),), None)
        t0 = clock.now()
        for _ in range(3):
            await rl.acquire(Target("user", "1"))
        users = clock.now() - t0
        await rl.acquire(Target("group", "-1"))
        await rl.acquire(Target("group", "-1"))
        return users, clock.now() - t0

    users, total = run(go())
    assert users < 0.05 and total >= 0.3


@pytest.mark.real_clock  # the fake counts arrivals on the system clock
def test_fan_out_to_telegram_provokes_no_429(cli, write_profile):
    with FakeTelegram(enforce_rate=True, enforce_chat_rate=True) as tg:
        write_profile(
            f'[accounts.bot]\nplatform = "telegram"\ntoken = "{TG_TOKEN}"\nbase_url = "{tg.api_url}"\n'
        )
        targets = [a for i in range(45) for a in ("-u", str(5000 + i))]
        t0 = time.monotonic()
        r = cli("push", "text", "-p", "tg", *targets, "hi")
        elapsed = time.monotonic() - t0
        assert (r.code, r.stdout) == (0, "45\n"), r.stderr
        assert tg.too_many == 0
        assert 1.0 <= elapsed < 4.0  # paced at 30/s: about 1.5 s; unpaced it would be 429s


def _tg_fan_out(cli, write_profile, tg, n: int) -> tuple[float, object]:
    write_profile(
        f'[accounts.bot]\nplatform = "telegram"\ntoken = "{TG_TOKEN}"\nbase_url = "{tg.api_url}"\n'
    )
    targets = [a for i in range(n) for a in ("-u", str(7000 + i))]
    started = now()
    r = cli("push", "text", "-p", "tg", *targets, "hi", "--timeout", "120s")
    return now() - started, r


def test_a_fan_out_at_telegrams_limit_provokes_no_429(cli, write_profile, clock):
    """300 chats at 30/s, counted by the fake on the skip-ahead clock as Telegram counts
    them (any 1 s window of arrivals): no 429, and no 31 arrivals within a second. (The
    pace itself is measured on the system clock by bench row 7: on this clock every wait
    skipped while a request is in flight adds to that request's round trip, which the
    limiter waits on once per 30 sends.)"""
    with FakeTelegram(enforce_rate=True, enforce_chat_rate=True, clock=clock.now) as tg:
        elapsed, r = _tg_fan_out(cli, write_profile, tg, 300)
        assert (r.code, r.stdout) == (0, "300\n"), r.stderr
        assert tg.too_many == 0
        arrived = sorted(c.arrived for c in tg.calls("sendMessage"))
        assert all(b - a >= 1.0 for a, b in zip(arrived, arrived[30:], strict=False))
        # a loose bound: on this clock the waits of other sends skipped while a request is
        # in flight lengthen its round trip (the Window tests above hold the exact pace)
        assert 300 / 30 - 1 <= elapsed <= 300 / 30 * 2.5, elapsed


def test_a_fan_out_provokes_no_429_however_the_network_delays_arrivals(cli, write_profile, clock):
    """Each request reaches the fake after a random delay of up to 150 ms (a congested
    network, a busy event loop): a pacer that leaves a margin on the rate gets 429s when a
    send is held back more than the margin while a later one is not; a place held until
    the answer is read cannot."""
    import random

    rng = random.Random(18)

    def jitter(req):
        time.sleep(rng.random() * 0.15)  # before the fake stamps the arrival

    with FakeTelegram(enforce_rate=True, clock=clock.now) as tg:
        tg.before = jitter
        elapsed, r = _tg_fan_out(cli, write_profile, tg, 150)
        assert (r.code, r.stdout) == (0, "150\n"), r.stderr
        assert tg.too_many == 0


# -- retries -----------------------------------------------------------------------------------


def test_non_send_requests_are_retried_after_a_timeout():
    with Echo() as srv:
        srv.queue("/slow", Reply(200, json={"ok": True}, delay=1.0))

        async def go():
            http = HttpClient(platform="t", budget=Budget(10))
            try:
                # the first answer is too slow for a 0.5 s budget slice? use the whole budget
                return await http.request("GET", srv.url + "/slow", parse=parse_ok)
            finally:
                await http.aclose()

        assert run(go()) == {"ok": True}


def test_a_send_that_times_out_is_not_resent():
    with Echo() as srv:
        srv.queue("/send", Reply(200, json={"ok": True}, delay=2.0))

        async def go():
            http = HttpClient(platform="t", budget=Budget(0.5))
            try:
                await http.request("POST", srv.url + "/send", json={}, parse=parse_ok, send=True)
            finally:
                await http.aclose()

        with pytest.raises(MaybeDeliveredError):
            run(go())
        assert len(srv.calls("/send")) == 1


def test_a_send_is_retried_after_429_within_the_budget():
    with Echo() as srv:
        srv.queue("/send", Reply(429, json={}, headers={"Retry-After": "0.2"}))

        async def go():
            http = HttpClient(platform="t", budget=Budget(5))
            try:
                return await http.request(
                    "POST", srv.url + "/send", json={}, parse=parse_ok, send=True
                )
            finally:
                await http.aclose()

        assert run(go())["ok"] is True
        assert len(srv.calls("/send")) == 2


def test_retry_after_is_waited_on_the_clock_not_slept_through(clock):
    with Echo() as srv:
        srv.queue("/send", Reply(429, json={}, headers={"Retry-After": "3"}))

        async def go():
            http = HttpClient(platform="t", budget=Budget(5))
            try:
                return await http.request(
                    "POST", srv.url + "/send", json={}, parse=parse_ok, send=True
                )
            finally:
                await http.aclose()

        t0 = time.monotonic()
        assert run(go())["ok"] is True
        first, second = srv.calls("/send")
        assert second.arrived - first.arrived >= 3.0  # in the clock's time
        assert clock.slept > 2.9 and time.monotonic() - t0 < 2.5  # skipped, not slept


def test_a_send_held_by_the_rate_limit_past_the_budget_is_not_sent(clock):
    with Echo() as srv:

        async def go():
            http = HttpClient(
                platform="t", budget=Budget(1.5), limiter=RateLimiter((Limit(1, 10, "chat"),), None)
            )
            to = Target("user", "1")
            try:
                await http.request(
                    "POST", srv.url + "/send", json={}, parse=parse_ok, send=True, target=to
                )
                await http.request(
                    "POST", srv.url + "/send", json={}, parse=parse_ok, send=True, target=to
                )
            finally:
                await http.aclose()

        with pytest.raises(ImcliError) as info:
            run(go())
        assert str(info.value) == (
            "the --timeout budget ran out while waiting for the rate limit; not sent"
        )
        assert len(srv.calls("/send")) == 1
        assert clock.slept >= 1.0  # waited until the budget was gone, on the clock


def test_a_turn_taken_for_another_user_of_a_request_waits_within_the_budget(clock):
    """WeCom sends one request to many users and each user's limit counts: the slot taken
    for a user other than the request's first waits within the budget, as a send does."""

    async def go():
        http = HttpClient(
            platform="t", budget=Budget(1.5), limiter=RateLimiter((Limit(1, 60, "chat"),), None)
        )
        other = Target("user", "2")
        try:
            await http.take_turn(other)
            await http.take_turn(other)  # the next slot is 60 s away: past the budget
        finally:
            await http.aclose()

    with pytest.raises(ImcliError) as info:
        run(go())
    assert str(info.value) == (
        "the --timeout budget ran out while waiting for the rate limit; not sent"
    )
    assert 1.0 <= clock.slept < 2.0  # waited until the budget was gone, not the 60 s


def test_retry_after_beyond_the_budget_fails_instead_of_waiting():
    with Echo() as srv:
        srv.queue("/send", Reply(429, json={}, headers={"Retry-After": "30"}))

        async def go():
            http = HttpClient(platform="t", budget=Budget(1))
            try:
                await http.request("POST", srv.url + "/send", json={}, parse=parse_ok, send=True)
            finally:
                await http.aclose()

        t0 = now()
        with pytest.raises(RetryableError) as info:
            run(go())
        assert now() - t0 < 5  # not the 30 s Retry-After
        assert str(info.value) == (
            "slow down (not retried: the time budget (--timeout) ends sooner)"
        )
        assert len(srv.calls("/send")) == 1


def test_a_retry_cut_short_by_the_budget_keeps_the_real_reason():
    """The retry after a 429 waits for the per-chat limit, past the budget: the error is
    the 429's, not "ran out while waiting for the rate limit"."""
    with Echo() as srv:
        srv.queue("/send", Reply(429, json={}, headers={"Retry-After": "0"}))

        async def go():
            http = HttpClient(
                platform="t",
                budget=Budget(1.5),
                limiter=RateLimiter((Limit(1, 10, "chat"),), None),
            )
            try:
                await http.request(
                    "POST", srv.url + "/send", json={}, parse=parse_ok, send=True,
                    target=Target("user", "1"),
                )  # fmt: skip
            finally:
                await http.aclose()

        t0 = now()
        with pytest.raises(RetryableError) as info:
            run(go())
        assert now() - t0 < 4
        assert str(info.value) == "slow down (not retried: the time budget (--timeout) ends sooner)"
        assert len(srv.calls("/send")) == 1


def test_a_retryable_streak_says_how_many_tries_were_made():
    with Echo() as srv:
        for _ in range(20):
            srv.queue("/send", Reply(429, json={}, headers={"Retry-After": "0"}))

        async def go():
            http = HttpClient(platform="t", budget=Budget(10))
            try:
                await http.request("POST", srv.url + "/send", json={}, parse=parse_ok, send=True)
            finally:
                await http.aclose()

        with pytest.raises(RetryableError) as info:
            run(go())
        assert str(info.value) == "slow down (gave up after 9 tries)"
        assert len(srv.calls("/send")) == 9


def test_refused_connections_make_the_account_unreachable():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()

    async def go():
        http = HttpClient(platform="t", budget=Budget(5))
        try:
            await http.request(
                "POST", f"http://127.0.0.1:{port}/x", json={}, parse=parse_ok, send=True
            )
        finally:
            await http.aclose()

    with pytest.raises(AccountOffline) as info:
        run(go())
    assert info.value.reason == "unreachable"
    assert str(info.value).startswith(f"cannot connect to 127.0.0.1:{port}: ")
    assert str(info.value).endswith(" (gave up after 3 tries)")


def test_a_connection_never_made_frees_its_rate_limit_place_at_once(clock):
    """A send whose connection failed never left: the chat's place (one send per 10 s
    here) is free for the next try and the next send at once, not held for a period."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()

    with Echo() as srv:

        async def go():
            limiter = RateLimiter((Limit(1, 10, "chat"),), None, clock=clock)
            http = HttpClient(platform="t", budget=Budget(60, clock=clock), limiter=limiter)
            to = Target("user", "1")
            try:
                with pytest.raises(AccountOffline):
                    await http.request(
                        "POST", f"http://127.0.0.1:{port}/x", json={}, parse=parse_ok,
                        send=True, target=to,
                    )  # fmt: skip
                refused_after = clock.slept
                await http.request(
                    "POST", srv.url + "/send", json={}, parse=parse_ok, send=True, target=to
                )
                return refused_after, clock.slept
            finally:
                await http.aclose()

        refused_after, total = run(go())
    assert refused_after < 2.0  # three tries with short backoffs, no 10 s waits between
    assert total < 2.0  # the send after them went at once
    assert len(srv.calls("/send")) == 1


def test_a_dead_proxy_is_named_not_the_api_behind_it():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()

    async def go():
        proxy = f"http://user:pr0xy-pa55word@127.0.0.1:{port}"
        http = HttpClient(platform="t", budget=Budget(5), proxy=proxy)
        try:
            await http.request("GET", "http://api.example.invalid/x", parse=parse_ok)
        finally:
            await http.aclose()

    with pytest.raises(AccountOffline) as info:
        run(go())
    text = str(info.value)
    assert text.startswith(
        f"cannot connect to api.example.invalid through the proxy 127.0.0.1:{port}: "
    ), text
    assert "pr0xy-pa55word" not in text and "user:" not in text


def test_a_budget_gone_before_the_first_send_does_not_blame_the_rate_limit():
    with Echo() as srv:

        async def go():
            budget = Budget(0.001)
            time.sleep(0.01)
            http = HttpClient(platform="t", budget=budget, limiter=RateLimiter((), None))
            try:
                await http.request("POST", srv.url + "/send", json={}, parse=parse_ok, send=True)
            finally:
                await http.aclose()

        with pytest.raises(ImcliError) as info:
            run(go())
        assert str(info.value) == "the --timeout budget ran out before this request could be made"
        assert srv.calls("/send") == []


# -- proxies -----------------------------------------------------------------------------------


class Proxy:
    """A tiny HTTP forward proxy that records the requests it carried."""

    def __init__(self) -> None:
        self.seen: list[str] = []
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            data = conn.recv(65536)
            self.seen.append(data.split(b"\r\n", 1)[0].decode())
            body = b'{"ok": true, "via": "proxy"}'
            conn.sendall(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
                + str(len(body)).encode()
                + b"\r\nConnection: close\r\n\r\n"
                + body
            )
            conn.close()


def test_the_account_proxy_is_used_for_remote_hosts_and_never_for_loopback():
    proxy = Proxy()
    with Echo() as srv:

        async def go():
            http = HttpClient(platform="t", budget=Budget(5), proxy=proxy.url)
            try:
                remote = await http.request("GET", "http://api.example.invalid/x", parse=parse_ok)
                local = await http.request("GET", srv.url + "/y", parse=parse_ok)
                return remote, local
            finally:
                await http.aclose()

        remote, local = run(go())
    assert remote == {"ok": True, "via": "proxy"}
    assert local == {"ok": True, "path": "/y"}
    assert proxy.seen == ["GET http://api.example.invalid/x HTTP/1.1"]


def test_environment_proxy_is_honoured_but_not_for_loopback(monkeypatch, cli, tg_profile, telegram):
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # a dead proxy
    monkeypatch.setenv("http_proxy", "http://127.0.0.1:9")
    r = cli("push", "text", "-p", "tg", "-u", "1", "via loopback, no proxy")
    assert (r.code, r.stdout) == (0, "1\n"), r.stderr


def test_bad_proxy_url_is_a_config_error(cli, write_profile, telegram):
    write_profile(
        f'[accounts.bot]\nplatform = "telegram"\ntoken = "{TG_TOKEN}"\n'
        f'base_url = "{telegram.api_url}"\nproxy = "gopher://nowhere:70"\n'
    )
    r = cli("push", "text", "-p", "tg", "-u", "1", "hi")
    assert (r.code, r.stdout) == (3, "0\n")
    assert "proxy" in r.stderr


def test_socks5_proxy_support_is_installed():
    async def go():
        http = HttpClient(platform="t", budget=Budget(1), proxy="socks5://127.0.0.1:1080")
        try:
            http.client()  # needs httpx[socks]; building the client is enough
        finally:
            await http.aclose()

    run(go())


# -- redaction ---------------------------------------------------------------------------------


def test_exception_messages_are_redacted():
    _redact.add_secret("s3cr3t-value-123")
    exc = ImcliError("failed with s3cr3t-value-123 in the URL")
    assert "s3cr3t" not in str(exc) and "***" in str(exc)


def test_url_encoded_secrets_are_redacted_too():
    _redact.add_secret("a/b+c=d secret")
    assert _redact.redact("token=a%2Fb%2Bc%3Dd%20secret") == "token=***"


def test_any_loopback_api_address_bypasses_the_proxy():
    proxy = Proxy()
    srv = Echo()
    srv.host = "127.0.0.2"
    try:
        srv.start()
    except OSError:
        pytest.skip("127.0.0.2 is not a loopback address here")
    try:
        url = srv.url

        async def go():
            http = HttpClient(platform="t", budget=Budget(5), proxy=proxy.url, base_url=url)
            try:
                return await http.request("GET", url + "/z", parse=parse_ok)
            finally:
                await http.aclose()

        assert run(go()) == {"ok": True, "path": "/z"}
        assert proxy.seen == []
    finally:
        srv.stop()


# -- --dry-run: a transport under the same request path ---------------------------------------


def test_a_dry_run_answers_from_the_transport_and_records_the_call_masked():
    from imcli.dryrun import DryRun

    secret = "Dry-Run-Secret-0123"
    _redact.add_secret(secret)
    plan: list = []
    lines: list[str] = []
    logged: list[str] = []
    dry = DryRun(plan, lines.append)
    dry.reply = lambda method, url: {"ok": True, "asked": f"{method} {url}"}

    def never_opened():
        raise AssertionError("a dry run opens no file")

    async def go():
        http = HttpClient(
            platform="t", budget=Budget(0.001), transport=dry, verbose=logged.append,
            limiter=RateLimiter((Limit(1, 3600, "chat"),), None),
        )  # fmt: skip
        await asyncio.sleep(0.01)  # the budget is over: a dry run is not timed
        try:
            one = await http.request(
                "POST", "https://api.example/send", parse=json_reply, send=True,
                target=Target("user", "1"), params={"key": secret}, json={"token": secret, "n": 1},
            )  # fmt: skip
            # the same chat again at once: no rate-limit wait (nothing is sent)
            two = await http.request(
                "POST", "https://api.example/upload", parse=json_reply, send=True,
                target=Target("user", "1"), files=never_opened, describe={"file": b"12345"},
            )  # fmt: skip
        finally:
            await http.aclose()
        assert http.dry_run
        return one, two

    one, two = run(go())
    assert one == {"ok": True, "asked": "POST https://api.example/send"}
    assert two["asked"] == "POST https://api.example/upload"
    assert plan == [
        {"method": "POST", "url": "https://api.example/send?key=***",
         "body": {"token": "***", "n": 1}},
        {"method": "POST", "url": "https://api.example/upload", "body": {"file": "<5 bytes>"}},
    ]  # fmt: skip
    assert lines == [
        'POST https://api.example/send?key=*** {"token": "***", "n": 1}',
        'POST https://api.example/upload {"file": "<5 bytes>"}',
    ]
    assert logged == []  # --verbose shows no request lines for what is not sent
