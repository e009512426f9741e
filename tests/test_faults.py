"""Faults: misbehaving servers on 127.0.0.1, for every platform.

A :class:`~tests.fakes.faulty.FaultyProxy` sits in front of each platform's well-behaved
fake; the account's ``base_url`` points at the proxy. A push goes to a good target and a
bad one; the proxy misbehaves only for requests that carry the bad target's id (or, for
the token platforms, for the first token request) and forwards everything else, so the
good target is really delivered. Every push must end within its ``--timeout`` (plus a
margin for a loaded CI machine), report the bad target failed with one clear line, exit
1, and still send and count the good one. A request answered with a definite error is
never repeated (the proxy counts the requests).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.conftest import TG_TOKEN, now
from tests.fakes import faulty
from tests.fakes.base import FakeServer
from tests.fakes.faulty import NGINX_413, NGINX_502, FaultyProxy
from tests.fakes.lark import FakeLark
from tests.fakes.onebot import FakeOneBot
from tests.fakes.slack import FakeSlack
from tests.fakes.telegram import FakeTelegram
from tests.fakes.wechat import FakeWeChat
from tests.fakes.wecom import FakeWeCom

TIMEOUT_MS = 1200  # the push's --timeout in the faults that use up the budget
MARGIN = 2.5  # seconds on top of it: CI is a loaded 2-core machine

SLACK_TOKEN = "xoxb-1111-2222-FAULTslacktoken"
LARK_ID, LARK_SECRET = "cli_fault_app", "lark-FAULT-secret-0123"
WECOM_CORP, WECOM_SECRET, WECOM_AGENT = "wwfault0123456789", "wecom-FAULT-secret", 1000002
WX_APP, WX_SECRET = "wxfault0123456789", "wechat-FAULT-secret"
QQ_TOKEN = "onebot-FAULT-access-token"


def _json(obj: Any) -> bytes:
    return json.dumps(obj).encode()


def target_name(args: list[str]) -> str:
    """``-u 1`` → ``user:1`` (as --json and stderr name a target)."""
    return ("user:" if args[0] == "-u" else "group:") + args[1]


@dataclass
class Platform:
    name: str
    make: Callable[[], FakeServer]
    account: Callable[[str], str]  # profile text for a base_url
    good: list[str]  # CLI target arguments
    bad: list[str]
    marker: bytes  # what only the bad target's requests carry
    delivered: Callable[[Any], list[str]]  # the target ids the upstream fake delivered to
    too_many: faulty.Fault  # the platform's own "slow down" answer
    secrets: tuple[str, ...]
    token_path: str | None = None  # the token endpoint of the token platforms
    #: the i-th of several more bad targets (CLI arguments), where each target has
    #: requests of its own (WeCom sends every named user in one request: None)
    more_bad: Callable[[int], list[str]] | None = None
    #: the platform's own definite refusal of a send, and the words it must be reported with
    refused: tuple[int, dict[str, Any], str] = (400, {}, "")

    @property
    def bad_target(self) -> str:
        return target_name(self.bad)

    @property
    def good_targets(self) -> list[str]:
        return [
            ("user:" if flag == "-u" else "group:") + value
            for flag, value in zip(self.good[::2], self.good[1::2], strict=True)
        ]


PLATFORMS = [
    Platform(
        "telegram",
        lambda: FakeTelegram(),
        lambda url: (
            f'[accounts.bot]\nplatform = "telegram"\ntoken = "{TG_TOKEN}"\n'
            f'base_url = "{url}"\nrate = 0\n'
        ),
        ["-u", "111"],
        ["-u", "7770777"],
        b"7770777",
        lambda fake: [str(m.chat_id) for m in fake.sent_messages()],
        faulty.respond(
            429,
            _json(
                {
                    "ok": False,
                    "error_code": 429,
                    "description": "Too Many Requests: retry after 1",
                    "parameters": {"retry_after": 1},
                }
            ),
            {"Content-Type": "application/json"},
            name="storm_429",
        ),
        (TG_TOKEN, TG_TOKEN.split(":")[1]),
        more_bad=lambda i: ["-u", f"77{i}1777"],
        refused=(
            400,
            {"ok": False, "error_code": 400, "description": "Bad Request: chat not found"},
            "Bad Request: chat not found (400)",
        ),
    ),
    Platform(
        "slack",
        lambda: FakeSlack(tokens=[SLACK_TOKEN]),
        lambda url: (
            f'[accounts.team]\nplatform = "slack"\ntoken = "{SLACK_TOKEN}"\n'
            f'base_url = "{url}"\nrate = 0\n'
        ),
        ["-g", "C0GOOD"],
        ["-g", "C0BADBAD"],
        b"C0BADBAD",
        lambda fake: [m.channel for m in fake.posted_messages()],
        faulty.respond(
            429,
            _json({"ok": False, "error": "ratelimited"}),
            {"Content-Type": "application/json", "Retry-After": "1"},
            name="storm_429",
        ),
        (SLACK_TOKEN, "FAULTslacktoken"),
        more_bad=lambda i: ["-g", f"C0BAD{i}X"],
        refused=(200, {"ok": False, "error": "channel_not_found"}, "channel_not_found"),
    ),
    Platform(
        "lark",
        lambda: FakeLark(LARK_ID, LARK_SECRET),
        lambda url: (
            f'[accounts.feishu]\nplatform = "lark"\napp_id = "{LARK_ID}"\n'
            f'app_secret = "{LARK_SECRET}"\nbase_url = "{url}"\nrate = 0\n'
        ),
        ["-g", "oc_good"],
        ["-g", "oc_badbad"],
        b"oc_badbad",
        lambda fake: [m.receive_id for m in fake.sent_messages()],
        faulty.respond(
            429,
            _json({"code": 99991400, "msg": "request trigger frequency limit"}),
            {"Content-Type": "application/json", "x-ogw-ratelimit-reset": "1"},
            name="storm_429",
        ),
        (LARK_SECRET,),
        token_path="/open-apis/auth/v3/tenant_access_token/internal",
        more_bad=lambda i: ["-g", f"oc_bad{i}x"],
        refused=(
            400,
            {"code": 230002, "msg": "The bot can not be outside the group.", "data": {}},
            "The bot can not be outside the group. (230002)",
        ),
    ),
    Platform(
        "qq",
        lambda: FakeOneBot(access_token=QQ_TOKEN),
        lambda url: (
            f'[accounts.home-qq]\nplatform = "qq"\nbase_url = "{url}"\n'
            f'access_token = "{QQ_TOKEN}"\nrate = 0\n'
        ),
        ["-u", "20001"],
        ["-g", "30002"],
        b"30002",
        lambda fake: [str(s.target) for s in fake.sent()],
        faulty.respond(429, b"", {"Retry-After": "1"}, name="storm_429"),
        (QQ_TOKEN,),
        more_bad=lambda i: ["-g", f"3990{i}"],
        refused=(
            200,
            {"status": "failed", "retcode": 1200, "data": None, "message": "群不存在"},
            "群不存在",
        ),
    ),
    Platform(
        "wecom",
        lambda: FakeWeCom(WECOM_CORP, WECOM_SECRET, WECOM_AGENT),
        lambda url: (
            f'[accounts.corp]\nplatform = "wecom"\ncorp_id = "{WECOM_CORP}"\n'
            f'corp_secret = "{WECOM_SECRET}"\nagent_id = {WECOM_AGENT}\nbase_url = "{url}"\n'
            "rate = 0\nallow_all = true\n"
        ),
        ["-u", "alice"],  # users share a request: @all is sent on its own
        ["-u", "@all"],
        b'"@all"',
        lambda fake: [s.body["touser"] for s in fake.sent()],
        faulty.respond(
            200,
            _json({"errcode": 45009, "errmsg": "api freq out of limit"}),
            {"Content-Type": "application/json"},
            name="storm_45009",
        ),
        (WECOM_SECRET,),
        token_path="/cgi-bin/gettoken",
        refused=(200, {"errcode": 40003, "errmsg": "invalid userid"}, "invalid userid (40003)"),
    ),
    Platform(
        "wechat",
        lambda: FakeWeChat(WX_APP, WX_SECRET, followers=["o-good-openid", "o-badbad-openid"]),
        lambda url: (
            f'[accounts.mp]\nplatform = "wechat"\napp_id = "{WX_APP}"\n'
            f'app_secret = "{WX_SECRET}"\nbase_url = "{url}"\nrate = 0\n'
        ),
        ["-u", "o-good-openid"],
        ["-u", "o-badbad-openid"],
        b"o-badbad-openid",
        lambda fake: [s.touser for s in fake.sent()],
        faulty.respond(
            200,
            _json({"errcode": 45009, "errmsg": "reach max api daily quota limit"}),
            {"Content-Type": "application/json"},
            name="storm_45009",
        ),
        (WX_SECRET,),
        token_path="/cgi-bin/stable_token",
        more_bad=lambda i: ["-u", f"o-bad{i}x-openid"],
        refused=(
            200,
            {"errcode": 45015, "errmsg": "response out of time limit or subscription is canceled"},
            "45015",
        ),
    ),
]
BY_NAME = {p.name: p for p in PLATFORMS}
TOKEN_PLATFORMS = [p.name for p in PLATFORMS if p.token_path]


@dataclass
class Env:
    platform: Platform
    fake: Any
    proxy: FaultyProxy


@pytest.fixture
def env_for(write_profile: Any) -> Iterator[Callable[..., Env]]:
    """env_for(name, idle_close=None, rate=0): the platform's fake, a fault proxy in front of
    it, and a profile whose account points at the proxy."""
    opened: list[Any] = []

    def make(name: str, idle_close: float | None = None, rate: float = 0) -> Env:
        p = BY_NAME[name]
        fake = p.make().start()
        opened.append(fake)
        proxy = FaultyProxy(fake.url, idle_close=idle_close).start()
        opened.append(proxy)
        write_profile(p.account(proxy.url).replace("rate = 0\n", f"rate = {rate}\n"))
        return Env(p, fake, proxy)

    yield make
    for thing in reversed(opened):
        thing.stop()


def push(cli: Any, p: Platform, targets: list[str], timeout_ms: int = TIMEOUT_MS) -> Any:
    t0 = now()
    r = cli("push", "text", "-p", p.name, *targets, "fault test", "--json",
            "--timeout", str(timeout_ms))  # fmt: skip
    r.elapsed = now() - t0
    return r


def check_clean(p: Platform, r: Any, fake: Any = None) -> None:
    """No traceback, no secret (nor a token the fake handed out), and every stderr line
    a single short line."""
    assert "Traceback" not in r.stderr, r.stderr
    issued = list(getattr(fake, "tokens_issued", None) or getattr(fake, "tokens", None) or [])
    for secret in (*p.secrets, *issued):
        assert secret not in r.output
    for line in r.stderr.splitlines():
        assert len(line) < 400, line


def check_failed(
    env: Env, r: Any, bad: list[list[str]], timeout_ms: int = TIMEOUT_MS
) -> dict[str, dict[str, Any]]:
    """Exit 1 within the budget, each bad target failed with one line naming it, the
    good ones sent; returns the bad targets' --json results by target id."""
    p = env.platform
    check_clean(p, r, env.fake)
    assert r.code == 1, (r.code, r.stdout, r.stderr)
    assert r.elapsed <= timeout_ms / 1000 + MARGIN, r.elapsed
    out = json.loads(r.stdout)
    by_target = {t["target"]: t for t in out["targets"]}
    assert out["sent"] == len(p.good_targets) and out["failed"] == len(bad), out
    for good in p.good_targets:
        assert by_target[good]["ok"] is True and by_target[good]["error"] is None, out
    failed = {}
    for args in bad:
        res = by_target[target_name(args)]
        assert res["ok"] is False
        assert res["error"] and len(res["error"].splitlines()) == 1, res
        lines = [ln for ln in r.stderr.splitlines() if args[1] in ln]
        assert len(lines) == 1, r.stderr  # one line names the failed target
        assert lines[0].startswith(f"{p.name} {target_name(args)}: "), lines[0]
        failed[args[1]] = res
    return failed


def check_delivered(env: Env, expected: list[str]) -> None:
    got = env.platform.delivered(env.fake)
    assert sorted(got) == sorted(expected), got  # each good target exactly once


# -- faults on the bad target's send -----------------------------------------------------------

# (fault, "once": a definite answer, the request must not be repeated, words of the reason)
SEND_FAULTS: dict[str, tuple[Callable[[Platform], faulty.Fault], bool, tuple[str, ...]]] = {
    "reset": (lambda p: faulty.reset, True, ("may have been delivered",)),
    "drop": (lambda p: faulty.drop, True, ("may have been delivered",)),
    "hang": (lambda p: faulty.hang, True, ("may have been delivered",)),
    "stall_body": (lambda p: faulty.stall_body, True, ("may have been delivered",)),
    "drip_body": (lambda p: faulty.drip_body(0.1), True, ("may have been delivered",)),
    "storm_429": (lambda p: p.too_many, False, ()),
    "5xx_streak": (
        lambda p: faulty.rotate(
            faulty.respond(
                503, _json({"error": "unavailable"}), {"Content-Type": "application/json"}
            ),
            faulty.respond(502, NGINX_502, {"Content-Type": "text/html", "Server": "nginx"}),
            faulty.respond(500),
            name="5xx_streak",
        ),  # fmt: skip
        False,
        (),
    ),
    "malformed_json": (
        lambda p: faulty.respond(
            200,
            b'{"ok": true, "result": {"message_id": 1',
            {"Content-Type": "application/json"},
            name="malformed",
        ),
        True,
        ("HTTP 200", "not a JSON answer", "may have been delivered"),
    ),  # fmt: skip
    "html_413": (
        lambda p: faulty.respond(413, NGINX_413, {"Content-Type": "text/html", "Server": "nginx"}),
        True,
        ("HTTP 413: Request Entity Too Large (an HTML page, not a JSON answer)",),
    ),
    "huge_body": (lambda p: faulty.huge_body(48 << 20), True, ("larger than",)),
    "refused": (  # the platform's own definite error: sent once, reported in its words
        lambda p: faulty.respond(
            p.refused[0], _json(p.refused[1]), {"Content-Type": "application/json"}
        ),
        True,
        (),
    ),
}


INSTANT = ["reset", "drop", "malformed_json", "html_413", "huge_body", "refused"]
BUDGET = ["hang", "stall_body", "drip_body", "storm_429", "5xx_streak"]  # use up the budget


#: faults after which a Lark send is repeated (its uuid makes that safe)
LARK_REPEATS = {"reset", "drop", "malformed_json", "hang", "stall_body", "drip_body"}


def check_fault(env: Env, fault: str, marker: bytes | str, result: dict[str, Any]) -> None:
    _, once, words = SEND_FAULTS[fault]
    for word in words:
        assert word in result["error"], result
    hits = env.proxy.hits(marker)
    assert hits and all(h.fault for h in hits), hits
    if once and env.platform.name == "lark" and fault in LARK_REPEATS:
        # a Lark send whose fate is unknown is repeated with the same uuid: Lark keeps
        # one message per uuid, so the repeat cannot make a duplicate
        uuids = {json.loads(h.body)["uuid"] for h in hits}
        assert len(uuids) == 1, uuids
        assert "may have been delivered" in result["error"], result
    elif once:  # not repeated: it may have arrived, or the answer was definite
        assert len(hits) == 1, [h.target for h in hits]


@pytest.mark.timeout(30)
@pytest.mark.parametrize(
    ("name", "fault"),
    [(p.name, f) for p in PLATFORMS for f in INSTANT]
    + [(p.name, f) for p in PLATFORMS if p.more_bad is None for f in BUDGET],
)
def test_a_fault_fails_only_its_own_target(cli, env_for, name, fault):
    env = env_for(name)
    p = env.platform
    env.proxy.add(p.marker, SEND_FAULTS[fault][0](p))
    r = push(cli, p, p.good + p.bad)
    failed = check_failed(env, r, [p.bad])
    check_fault(env, fault, p.marker, failed[p.bad[1]])
    if fault == "refused":
        assert p.refused[2] in failed[p.bad[1]]["error"]
        assert "may have been delivered" not in failed[p.bad[1]]["error"]
    check_delivered(env, p.good[1::2])
    if fault == "huge_body":  # the answer was read with a cap, not buffered whole
        assert env.proxy.written < 24 << 20, env.proxy.written


@pytest.mark.timeout(30)
@pytest.mark.parametrize("name", [p.name for p in PLATFORMS if p.more_bad is not None])
@pytest.mark.real_clock  # real faults spend the budget in real time
def test_faults_that_use_up_the_budget_fail_only_their_own_targets(
    cli, env_for, name, monkeypatch, tmp_path
):
    """One push, five bad targets each with its own fault, all at once, and a good one."""
    env = env_for(name)
    p = env.platform
    assert p.more_bad is not None
    budget_ms, earlier = calibrated_budget(cli, env, monkeypatch, tmp_path)
    bad = {fault: p.more_bad(i) for i, fault in enumerate(BUDGET)}
    for fault, args in bad.items():
        env.proxy.add(args[1], SEND_FAULTS[fault][0](p))
    r = push(cli, p, p.good + [a for args in bad.values() for a in args], budget_ms)
    failed = check_failed(env, r, list(bad.values()), budget_ms)
    for fault, args in bad.items():
        check_fault(env, fault, args[1], failed[args[1]])
    check_retried_while_the_budget_lasted(env, bad["5xx_streak"][1], failed)
    got = p.delivered(env.fake)[earlier:]
    assert sorted(got) == sorted(p.good[1::2]), got  # the good target exactly once


def calibrated_budget(
    cli: Any, env: Env, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> tuple[int, int]:
    """The budget of a push whose faults use it up in real time: TIMEOUT_MS, or three
    times what a clean push to the good target alone (its token fetch included) takes
    here and now, if that is more: on a loaded machine the good target must still have
    the time to be delivered. Returns it with how many deliveries the fake has seen."""
    p = env.platform
    took = []
    for run in range(2):  # the first pays for the imports, which the faulted push does not
        monkeypatch.setenv("IMCLI_CACHE_DIR", str(tmp_path / f"cache-{run}"))  # a new token
        started = now()
        r = cli("push", "text", "-p", p.name, *p.good, "calibration", "--timeout", "30000")
        took.append(now() - started)
        assert (r.code, r.stdout) == (0, "1\n"), r.output
    monkeypatch.setenv("IMCLI_CACHE_DIR", str(tmp_path / "cache-faults"))
    return max(TIMEOUT_MS, int(3000 * took[-1])), len(p.delivered(env.fake))


def check_retried_while_the_budget_lasted(
    env: Env, marker: str, failed: dict[str, dict[str, Any]]
) -> None:
    """A 503 is retried within the budget: the proxy saw a second try, or imcli says the
    budget left no time for one (on a loaded machine the first answer can come that
    late). Either way the error counts the tries the proxy saw."""
    hits = len(env.proxy.hits(marker))
    error = failed[marker]["error"]
    if hits == 1:
        assert "(not retried: the time budget (--timeout) ends sooner)" in error, error
        return
    assert hits >= 2, error
    tries = re.search(r"gave up after (\d+) tries", error)
    if tries:  # a Lark send (its uuid makes a retry after a 502 or 500 safe)
        assert int(tries.group(1)) == hits, (hits, error)
    else:  # 503, then a 502 to a send that may have delivered it: not asked again
        assert hits == 2 and "may have been delivered" in error, (hits, error)


# -- connection refused: the whole host --------------------------------------------------------


@pytest.mark.timeout(30)
@pytest.mark.parametrize("name", [p.name for p in PLATFORMS])
def test_connection_refused_ends_promptly_with_a_clear_reason(cli, write_profile, name):
    p = BY_NAME[name]
    port = faulty.closed_port()
    write_profile(p.account(f"http://127.0.0.1:{port}"))
    r = push(cli, p, p.good + p.bad, timeout_ms=3000)
    check_clean(p, r)
    assert r.code == 1, (r.code, r.stderr)
    assert r.elapsed < 3.0 + MARGIN
    out = json.loads(r.stdout)
    assert out["sent"] == 0 and out["failed"] == 2
    for t in out["targets"]:
        assert t["ok"] is False and f"127.0.0.1:{port}" in t["error"], t
        assert "cannot connect" in t["error"] and "\n" not in t["error"]
        [line] = [ln for ln in r.stderr.splitlines() if ln.startswith(f"{name} {t['target']}: ")]
        assert f"cannot connect to 127.0.0.1:{port}" in line


@pytest.mark.timeout(30)
@pytest.mark.parametrize("name", [p.name for p in PLATFORMS])
def test_an_unreachable_account_hands_its_targets_to_the_next(cli, write_profile, env_for, name):
    env = env_for(name)
    p = env.platform
    dead = p.account(f"http://127.0.0.1:{faulty.closed_port()}")
    live = p.account(env.proxy.url)
    first, _, rest = dead.partition("]")
    write_profile(first + "-dead]" + rest + "default = true\n" + live)
    r = push(cli, p, p.good + p.bad, timeout_ms=3000)
    check_clean(p, r, env.fake)
    assert r.code == 0, (r.code, r.stderr)
    out = json.loads(r.stdout)
    assert out["sent"] == 2 and all(t["ok"] for t in out["targets"]), out
    check_delivered(env, [p.good[1], p.bad[1]])
    assert "offline" in r.stderr


# -- keep-alive: the server closes an idle pooled connection ---------------------------------


@pytest.mark.timeout(30)
@pytest.mark.parametrize("name", [p.name for p in PLATFORMS])
@pytest.mark.real_clock  # the proxy closes idle connections in real time
def test_a_pooled_connection_the_server_closed_is_replaced(cli, env_for, name):
    # rate = 2: the second send leaves ~0.5 s after the first, long after the proxy
    # closed the idle connection (0.2 s, no "Connection: close"); the client must notice
    # and open a new connection, not fail or send twice
    env = env_for(name, idle_close=0.2, rate=2)
    p = env.platform
    r = push(cli, p, p.good + p.bad, timeout_ms=5000)
    check_clean(p, r, env.fake)
    assert (r.code, r.stderr) == (0, ""), r.stderr
    out = json.loads(r.stdout)
    assert out["sent"] == 2
    check_delivered(env, [p.good[1], p.bad[1]])
    assert env.proxy.idle_closed >= 1 and env.proxy.connections >= 2
    sends = [h for h in env.proxy.hits() if p.token_path is None or h.path != p.token_path]
    assert len(sends) == 2, [h.target for h in sends]  # no duplicate
    assert sends[0].connection != sends[1].connection


# -- the token request fails once (Lark, WeCom, WeChat) ---------------------------------------

TOKEN_FAULTS: dict[str, Callable[[], faulty.Fault]] = {
    "reset": lambda: faulty.reset,
    "drop": lambda: faulty.drop,
    "503": lambda: faulty.respond(
        503, NGINX_502.replace(b"502 Bad Gateway", b"503"), {"Content-Type": "text/html"}
    ),  # fmt: skip
    "429": lambda: faulty.respond(429, b"", {"Retry-After": "0.2"}),
    "hang": lambda: faulty.hang,  # the first try gets half the budget: time to ask again
    "malformed_json": lambda: faulty.respond(
        200, b'{"access_token": "x', {"Content-Type": "application/json"}
    ),  # fmt: skip
}


@pytest.mark.timeout(30)
@pytest.mark.parametrize("fault", list(TOKEN_FAULTS))
@pytest.mark.parametrize("name", TOKEN_PLATFORMS)
def test_a_token_request_that_fails_once_is_retried(cli, env_for, name, fault):
    env = env_for(name)
    p = env.platform
    assert p.token_path
    path = p.token_path
    env.proxy.add(lambda req: req.path == path, TOKEN_FAULTS[fault](), times=1)
    r = push(cli, p, p.good + p.bad, timeout_ms=2400)
    check_clean(p, r, env.fake)
    assert (r.code, r.stderr) == (0, ""), r.stderr
    assert r.elapsed <= 2.4 + MARGIN
    assert json.loads(r.stdout)["sent"] == 2
    tokens = [h for h in env.proxy.hits() if h.path == path]
    assert len(tokens) == 2 and tokens[0].fault and not tokens[1].fault
    check_delivered(env, [p.good[1], p.bad[1]])


@pytest.mark.timeout(30)
@pytest.mark.parametrize("name", TOKEN_PLATFORMS)
def test_a_definite_4xx_on_the_token_request_is_not_repeated(cli, env_for, name):
    env = env_for(name)
    p = env.platform
    assert p.token_path
    path = p.token_path
    env.proxy.add(
        lambda req: req.path == path,
        faulty.respond(413, NGINX_413, {"Content-Type": "text/html"}),
    )
    r = push(cli, p, p.good + p.bad, timeout_ms=5000)
    check_clean(p, r, env.fake)
    assert r.code == 1, (r.code, r.stderr)  # a proxy's page, not rejected credentials
    assert r.elapsed < 5.0 + MARGIN
    out = json.loads(r.stdout)
    assert out["sent"] == 0 and all("413" in t["error"] for t in out["targets"]), out
    assert len([h for h in env.proxy.hits() if h.path == path]) == 1
    assert p.delivered(env.fake) == []


# -- answers that may follow a delivery: 500, 502, 504 -----------------------------------------

GATEWAY_ANSWERS = {
    500: faulty.respond(500, b"Internal Server Error", {"Content-Type": "text/plain"}),
    502: faulty.respond(502, NGINX_502, {"Content-Type": "text/html", "Server": "nginx"}),
    504: faulty.respond(
        504,
        b"<html><head><title>504 Gateway Time-out</title></head><body>nginx</body></html>",
        {"Content-Type": "text/html", "Server": "nginx"},
    ),
}


@pytest.mark.timeout(30)
@pytest.mark.parametrize(
    ("name", "status"),
    [(p.name, 502) for p in PLATFORMS] + [("telegram", 500), ("slack", 504), ("qq", 500)],
)
def test_a_send_answered_5xx_after_delivery_is_not_resent(cli, env_for, name, status):
    """The platform delivered, then a gateway answered 500/502/504: the target "may have
    been delivered", is not counted, and is not sent again (one copy at the fake). Lark
    repeats it with the same uuid; Lark keeps one message per uuid, so it counts it."""
    env = env_for(name)
    p = env.platform
    env.proxy.add(p.marker, faulty.delivered_then(GATEWAY_ANSWERS[status]), times=1)
    r = push(cli, p, p.good + p.bad, timeout_ms=5000)
    check_clean(p, r, env.fake)
    out = json.loads(r.stdout)
    bad = {t["target"]: t for t in out["targets"]}[p.bad_target]
    check_delivered(env, p.good[1::2] + p.bad[1::2])  # the bad target exactly once
    if name == "lark":
        assert r.code == 0 and bad["ok"] is True and out["sent"] == 2, r.output
        uuids = {json.loads(h.body)["uuid"] for h in env.proxy.hits(p.marker)}
        assert len(env.proxy.hits(p.marker)) == 2 and len(uuids) == 1, uuids
        return
    assert r.code == 1, r.output
    assert out["sent"] == len(p.good_targets) and out["uncertain"] == 1, out
    assert bad["ok"] is False and bad["uncertain"] is True, bad
    assert f"HTTP {status}" in bad["error"] and "may have been delivered" in bad["error"], bad
    assert len(env.proxy.hits(p.marker)) == 1  # not resent
    line = [ln for ln in r.stderr.splitlines() if p.bad_target in ln]
    assert len(line) == 1 and "may have been delivered" in line[0], r.stderr


@pytest.mark.timeout(30)
@pytest.mark.parametrize("accounts", [1, 2])
def test_refused_connections_after_a_lark_5xx_leave_the_send_uncertain(
    cli, env_for, write_profile, accounts
):
    """Lark repeats a send answered 502 (same uuid); when the host then refuses every
    connection, the first try may still be at Lark: the target is "may have been
    delivered", never "cannot connect", and never handed to the next account (whose
    new uuid would make a duplicate)."""
    env = env_for("lark")
    p = env.platform
    env.proxy.add(
        p.marker, faulty.then_refuse(faulty.delivered_then(GATEWAY_ANSWERS[502])), times=1
    )
    with FakeLark(LARK_ID, LARK_SECRET) as other:
        if accounts == 2:
            first, _, rest = p.account(env.proxy.url).partition("]")
            write_profile(first + "-first]" + rest + "default = true\n" + p.account(other.url))
        r = push(cli, p, p.bad, timeout_ms=5000)
        check_clean(p, r, env.fake)
        assert r.code == 1, r.output
        out = json.loads(r.stdout)
        [bad] = out["targets"]
        assert bad["ok"] is False and bad["uncertain"] is True, bad
        assert "may have been delivered" in bad["error"] and "offline" not in r.stderr, r.output
        assert out["sent"] == 0 and out["uncertain"] == 1, out
        check_delivered(env, p.bad[1::2])  # the one copy the gateway passed on
        assert other.sent_messages() == [] and other.calls(r"/im/v1/messages") == []


@pytest.mark.timeout(30)
@pytest.mark.parametrize("where", ["settings", "account"])
def test_resend_uncertain_repeats_and_marks_the_resend(cli, env_for, profile_path, where):
    """`resend_uncertain = true`: the user prefers a duplicate to a loss."""
    env = env_for("telegram")
    p = env.platform
    text = profile_path.read_text()
    if where == "settings":
        text = "[settings]\nresend_uncertain = true\n\n" + text
    else:
        text += "resend_uncertain = true\n"
    profile_path.write_text(text)
    env.proxy.add(p.marker, faulty.delivered_then(GATEWAY_ANSWERS[502]), times=1)
    r = push(cli, p, p.good + p.bad, timeout_ms=5000)
    assert r.code == 0, r.output
    out = json.loads(r.stdout)
    by = {t["target"]: t for t in out["targets"]}
    assert by[p.bad_target]["ok"] is True and by[p.bad_target]["resent"] is True, out
    assert "resent" not in by[p.good_targets[0]], out
    assert len(env.proxy.hits(p.marker)) == 2
    assert sorted(p.delivered(env.fake)) == sorted(p.good[1::2] + p.bad[1::2] * 2)


@pytest.mark.timeout(30)
@pytest.mark.parametrize("name", ["telegram", "wecom"])
def test_503_and_busy_codes_are_still_retried(cli, env_for, name):
    env = env_for(name)
    p = env.platform
    env.proxy.add(
        p.marker,
        faulty.respond(503, _json({"error": "unavailable"}), {"Content-Type": "application/json"}),
        times=1,
    )
    env.proxy.add(p.marker, p.too_many, times=1)
    r = push(cli, p, p.good + p.bad, timeout_ms=8000)
    assert r.code == 0, r.output
    assert len(env.proxy.hits(p.marker)) == 3
    check_delivered(env, p.good[1::2] + p.bad[1::2])
