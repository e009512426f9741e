"""Concurrency: many imcli processes on one profile or one token cache, and interrupts.

Real subprocesses throughout. Those that must race start behind a gate: each process
imports imcli (typer included) first, then waits for a file to appear, so all of them
reach the profile or the cache within a few milliseconds of each other.
"""

from __future__ import annotations

import json
import math
import os
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT, account_toml
from tests.fakes.base import FakeServer, Recorded, Reply
from tests.fakes.lark import FakeLark
from tests.fakes.onebot import FakeOneBot
from tests.fakes.wechat import FakeWeChat
from tests.fakes.wecom import FakeWeCom

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

# imports imcli (and typer) first, says so (a file gate.ready.PID), then waits at the gate,
# then runs the command line
_GATED = (
    "import os, sys, time\n"
    "import imcli.cli.main, imcli.cli.app, imcli.cli.push_run, imcli.core\n"
    "gate = os.environ['_IMCLI_TEST_GATE']\n"
    "open(f'{gate}.ready.{os.getpid()}', 'w').close()\n"
    "end = time.monotonic() + 30\n"
    "while not os.path.exists(gate) and time.monotonic() < end:\n"
    "    time.sleep(0.002)\n"
    "imcli.cli.main.main(sys.argv[1:])\n"
)


def spawn(*args: str, gate: Path | None = None) -> subprocess.Popen[str]:
    env = dict(os.environ)
    if gate is not None:
        env["_IMCLI_TEST_GATE"] = str(gate)
        cmd = [sys.executable, "-c", _GATED, *args]
    else:
        cmd = [sys.executable, "-m", "imcli", *args]
    return subprocess.Popen(
        cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, cwd=str(ROOT), env=env,
    )  # fmt: skip


@dataclass
class Done:
    args: tuple[str, ...]
    code: int
    stdout: str
    stderr: str


def run_together(commands: list[tuple[str, ...]], gate: Path) -> list[Done]:
    procs = [spawn(*c, gate=gate) for c in commands]
    # every process is past its imports, waiting at the gate (however long a loaded
    # machine takes to get them there)
    ready = {p: gate.with_name(f"{gate.name}.ready.{p.pid}") for p in procs}
    wait_for(lambda: all(r.exists() or p.poll() is not None for p, r in ready.items()), 60)
    gate.write_text("go")
    done = []
    for c, p in zip(commands, procs, strict=True):
        out, err = p.communicate(timeout=60)
        done.append(Done(c, p.returncode, out, err))
    return done


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def defaults_by_platform(data: dict[str, Any]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for name, table in data.get("accounts", {}).items():
        if table.get("default") is True:
            out.setdefault(table["platform"], []).append(name)
    return out


def listed(cli: Any) -> dict[str, bool]:
    r = cli("accounts", "list", "--json")
    assert r.code == 0, r.stderr
    return {a["name"]: a["default"] for a in json.loads(r.stdout)["accounts"]}


# -- the profile: ten `accounts add` at once -----------------------------------------------


def test_ten_concurrent_adds_keep_every_account_and_one_default(cli, tmp_path, monkeypatch):
    # the default profile path, whose folder does not exist yet
    monkeypatch.delenv("IMCLI_PROFILE")
    path = tmp_path / "home" / ".config" / "imcli" / "profile.toml"
    commands = []
    for i in range(10):
        if i % 2:
            cmd = (
                "accounts",
                "add",
                f"tg{i}",
                "-p",
                "tg",
                "--set",
                f"token=1000{i}:tg-token-{i}-abcdef",
            )
        else:
            cmd = (
                "accounts",
                "add",
                f"sl{i}",
                "-p",
                "slack",
                "--set",
                f"token=xoxb-slack-{i}-abcdef",
            )
        if i in (1, 2, 3, 4, 7):
            cmd += ("--default",)
        commands.append(cmd)
    done = run_together(commands, tmp_path / "gate")
    for d in done:
        assert d.code == 0, (d.args, d.stderr)
    data = tomllib.loads(path.read_text("utf-8"))
    names = {f"tg{i}" for i in range(1, 10, 2)} | {f"sl{i}" for i in range(0, 10, 2)}
    assert set(data["accounts"]) == names
    defaults = defaults_by_platform(data)
    # several --default adds raced: exactly one of them is the default, per platform
    assert len(defaults["telegram"]) == 1 and defaults["telegram"][0] in {"tg1", "tg3", "tg7"}
    assert len(defaults["slack"]) == 1 and defaults["slack"][0] in {"sl2", "sl4"}
    assert mode(path) == 0o600
    assert set(listed(cli)) == names  # imcli itself still reads it


def test_adds_and_removes_at_once(cli, write_profile, profile_path, tmp_path):
    original = "# hand-written\n" + "".join(
        f'[accounts.old{i}]\nplatform = "telegram"\ntoken = "${{OLD_TOKEN_{i}}}"\n'
        + ("default = true\n" if i == 0 else "")
        + "\n"
        for i in range(5)
    )
    write_profile(original)
    commands: list[tuple[str, ...]] = [("accounts", "remove", f"old{i}") for i in range(5)]
    for i in range(5):
        cmd: tuple[str, ...] = ("accounts", "add", f"new{i}", "-p", "telegram",
                                "--set", f"token=2000{i}:new-token-{i}-abcdef")  # fmt: skip
        if i in (1, 3):
            cmd += ("--default",)
        commands.append(cmd)
    done = run_together(commands, tmp_path / "gate")
    for d in done:
        assert d.code == 0, (d.args, d.stderr)
    data = tomllib.loads(profile_path.read_text("utf-8"))
    assert set(data["accounts"]) == {f"new{i}" for i in range(5)}
    defaults = defaults_by_platform(data)
    assert len(defaults.get("telegram", [])) <= 1
    assert mode(profile_path) == 0o600
    bak = Path(str(profile_path) + ".bak")
    tomllib.loads(bak.read_text("utf-8"))  # the previous version, whole
    assert mode(bak) == 0o600
    assert set(listed(cli)) == {f"new{i}" for i in range(5)}
    leftovers = [p.name for p in profile_path.parent.iterdir() if p.name.startswith(".profile")]
    assert leftovers == []  # no temporary file left behind


# -- the token cache: ten pushes at once, one token request per account ----------------------


@dataclass
class TokenPlatform:
    name: str
    make: Callable[[str, str], FakeServer]  # (app id, secret) -> fake
    account: Callable[[str, FakeServer, str, str], str]  # (name, fake, app id, secret) -> toml
    token_path: str
    send_path: str
    target: tuple[str, str]
    app_ids: tuple[str, str]


def _lark_account(name: str, fake: Any, app: str, secret: str) -> str:
    return account_toml("lark", name, app_id=app, app_secret=secret, base_url=fake.url) + "\n"


def _wecom_account(name: str, fake: Any, app: str, secret: str) -> str:
    fields = {"corp_id": app, "corp_secret": secret, "agent_id": 1000002, "base_url": fake.url}
    return account_toml("wecom", name, **fields) + "\n"


def _wechat_account(name: str, fake: Any, app: str, secret: str) -> str:
    return account_toml("wechat", name, app_id=app, app_secret=secret, base_url=fake.url) + "\n"


PLATFORMS = {
    "lark": TokenPlatform(
        "lark", lambda a, s: FakeLark(a, s), _lark_account,
        "/open-apis/auth/v3/tenant_access_token/internal", "/open-apis/im/v1/messages",
        ("-g", "oc_team"), ("cli_concurrency_a", "cli_concurrency_b"),
    ),
    "wecom": TokenPlatform(
        "wecom", lambda a, s: FakeWeCom(a, s, 1000002), _wecom_account,
        "/cgi-bin/gettoken", "/cgi-bin/message/send",
        ("-u", "alice"), ("ww-concurrency-a", "ww-concurrency-b"),
    ),
    "wechat": TokenPlatform(
        "wechat", lambda a, s: FakeWeChat(a, s), _wechat_account,
        "/cgi-bin/stable_token", "/cgi-bin/message/custom/send",
        ("-u", "o-alice-openid"), ("wx-concurrency-a", "wx-concurrency-b"),
    ),
}  # fmt: skip


def valid_tokens(fake: Any) -> set[str]:
    if isinstance(fake, FakeLark):
        return set(fake.valid_tokens())
    return {t for t, state in fake.tokens.items() if state == "valid"}


def slow_path(path: str, seconds: float) -> Callable[[Recorded], Reply | None]:
    def before(rec: Recorded) -> Reply | None:
        if rec.path.rstrip("/") == path:
            time.sleep(seconds)
        return None

    return before


@pytest.fixture(params=sorted(PLATFORMS))
def two_accounts(request, write_profile) -> Iterator[tuple[TokenPlatform, list[Any]]]:
    """Two accounts of one token platform, each with its own fake server."""
    p = PLATFORMS[request.param]
    fakes = [p.make(app, f"{p.name}-concurrency-secret-{i}") for i, app in enumerate(p.app_ids)]
    for fake in fakes:
        fake.start()
    try:
        write_profile("".join(
            p.account(f"acc{i}", fake, app, f"{p.name}-concurrency-secret-{i}")
            for i, (fake, app) in enumerate(zip(fakes, p.app_ids, strict=True))
        ))  # fmt: skip
        yield p, fakes
    finally:
        for fake in fakes:
            fake.stop()


def cache_files(tmp_path: Path) -> list[Path]:
    folder = tmp_path / "cache"
    return sorted(folder.glob("*.json")) if folder.is_dir() else []


def test_ten_concurrent_pushes_fetch_one_token_per_account(two_accounts, tmp_path):
    p, fakes = two_accounts
    for fake in fakes:  # a slow token endpoint: every process asks while the first waits
        fake.before = slow_path(p.token_path, 0.3)
    commands = [
        ("push", "text", "-a", f"acc{i % 2}", *p.target, f"concurrent {i}") for i in range(10)
    ]
    done = run_together(commands, tmp_path / "gate")
    for d in done:
        assert (d.code, d.stdout, d.stderr) == (0, "1\n", ""), d.args
    for fake in fakes:
        assert fake.token_requests == 1  # type: ignore[attr-defined]
        assert len(fake.calls(p.send_path)) == 5  # no send was made with a rejected token
    files = cache_files(tmp_path)
    assert len(files) == 2
    issued = valid_tokens(fakes[0]) | valid_tokens(fakes[1])
    for f in files:
        assert mode(f) == 0o600
        assert json.loads(f.read_text())["token"] in issued


# -- a corrupt cache is discarded, not fatal --------------------------------------------------

CORRUPT: dict[str, bytes] = {
    "empty": b"",
    "not-json": b"this is not json\n",
    "not-utf8": b'\xff\xfe{"token": "\x80\x81"}',
    "a-list": b"[1, 2, 3]",
    "a-string": b'"token"',
    "null-token": b'{"token": null, "expires_at": 99999999999}',
    "number-token": b'{"token": 1234567890, "expires_at": 99999999999}',
    "empty-token": b'{"token": "", "expires_at": 99999999999}',
    "list-token": b'{"token": ["t-abc"], "expires_at": 99999999999}',
    "text-expiry": b'{"token": "stale-token-abc", "expires_at": "tomorrow"}',
    "nan-expiry": b'{"token": "stale-token-abc", "expires_at": NaN}',
    "bool-expiry": b'{"token": "stale-token-abc", "expires_at": true}',
}


@pytest.mark.parametrize("name", ["truncated", *CORRUPT])
@pytest.mark.parametrize("platform", sorted(PLATFORMS))
def test_a_corrupt_cache_is_discarded_and_rewritten(cli, write_profile, tmp_path, platform, name):
    p = PLATFORMS[platform]
    with p.make(p.app_ids[0], "corrupt-cache-secret") as fake:
        write_profile(p.account("acc", fake, p.app_ids[0], "corrupt-cache-secret"))
        first = cli("push", "text", *p.target, "-p", platform, "warm up")
        assert first.code == 0, first.stderr
        [cached] = cache_files(tmp_path)
        good = cached.read_bytes()
        cached.write_bytes(good[: len(good) // 2] if name == "truncated" else CORRUPT[name])
        fake.expire_all_tokens()  # type: ignore[attr-defined]
        fake.reset()
        fake.token_requests = 0  # type: ignore[attr-defined]
        r = cli("push", "text", *p.target, "-p", platform, "after corruption")
        assert (r.code, r.stdout) == (0, "1\n"), r.stderr
        assert r.stderr.count("\n") <= 1 and "Traceback" not in r.stderr
        assert "internal error" not in r.stderr
        assert fake.token_requests == 1  # type: ignore[attr-defined]
        assert len(fake.calls(p.send_path)) == 1  # never sent with a made-up token
        [cached] = cache_files(tmp_path)
        entry = json.loads(cached.read_text("utf-8"))
        assert entry["token"] in valid_tokens(fake)
        assert isinstance(entry["expires_at"], float) and math.isfinite(entry["expires_at"])
        assert mode(cached) == 0o600


# -- interrupts ----------------------------------------------------------------------------------


def wait_for(cond: Callable[[], bool], timeout: float = 15) -> None:
    end = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < end, "timed out waiting"
        time.sleep(0.01)


@pytest.mark.parametrize(
    "signame,status,json_out", [("SIGINT", 130, False), ("SIGTERM", 143, True)]
)
def test_an_interrupted_fan_out_prints_what_was_sent(
    write_profile, profile_path, signame, status, json_out
):
    groups = list(range(30001, 30021))
    with FakeOneBot(access_token="onebot-signal-token") as onebot:
        onebot.groups.update(groups)
        write_profile(
            f'[accounts.q]\nplatform = "qq"\nbase_url = "{onebot.url}"\n'
            'access_token = "onebot-signal-token"\n'
        )
        before = profile_path.read_bytes()
        args = ["push", "text", "-p", "qq", *[a for g in groups for a in ("-g", str(g))], "hi"]
        proc = spawn(*args, *(["--json"] if json_out else []))
        sends = lambda: onebot.calls("send_")  # noqa: E731
        wait_for(lambda: len(sends()) >= 3)  # 2 messages/s: 20 groups take 10 s
        time.sleep(0.2)  # between two sends
        t_sig = time.monotonic()
        proc.send_signal(getattr(signal, signame))
        out, err = proc.communicate(timeout=15)
        elapsed = time.monotonic() - t_sig
        arrived = [r.arrived for r in sends()]
    assert proc.returncode == status, err
    assert elapsed < 3.0  # promptly (the rest of the fan-out would take ~8 s)
    surely_answered = sum(1 for t in arrived if t < t_sig - 0.1)
    if json_out:
        data = json.loads(out)
        count = data["sent"]
        assert sum(1 for t in data["targets"] if t["ok"]) == count
        assert len(data["targets"]) == 20
    else:
        count = int(out)
    assert surely_answered >= 3
    assert surely_answered <= count <= len(arrived) < 20
    assert f"interrupted; {count} of 20 target(s) sent" in err
    assert "Traceback" not in err
    assert profile_path.read_bytes() == before


@pytest.mark.parametrize("signame,status", [("SIGINT", 130), ("SIGTERM", 143)])
def test_an_interrupt_while_sending_leaves_the_cache_as_it_was(
    cli, write_profile, profile_path, tmp_path, signame, status
):
    p = PLATFORMS["lark"]
    with p.make(p.app_ids[0], "signal-cache-secret") as fake:
        write_profile(p.account("acc", fake, p.app_ids[0], "signal-cache-secret"))
        assert cli("push", "text", "-p", "lark", "-g", "oc_1", "warm up").code == 0
        [cached] = cache_files(tmp_path)
        cache_before, profile_before = cached.read_bytes(), profile_path.read_bytes()
        fake.before = slow_path(p.send_path, 8)
        proc = spawn("push", "text", "-p", "lark", "-g", "oc_1", "-g", "oc_2", "slow", "--json")
        wait_for(lambda: len(fake.calls(p.send_path)) >= 2)
        t_sig = time.monotonic()
        proc.send_signal(getattr(signal, signame))
        out, err = proc.communicate(timeout=15)
        elapsed = time.monotonic() - t_sig
    assert proc.returncode == status, err
    assert elapsed < 3.0
    assert json.loads(out)["sent"] == 0
    assert cached.read_bytes() == cache_before
    assert profile_path.read_bytes() == profile_before


def test_an_interrupt_while_waiting_for_the_cache_lock_is_prompt(
    cli, write_profile, profile_path, tmp_path
):
    """One push fetches a token (slowly, holding the cache's lock); a second waits for the
    lock. Either one stops promptly on a signal, and the cache stays usable."""
    p = PLATFORMS["wecom"]
    with p.make(p.app_ids[0], "lock-wait-secret") as fake:
        write_profile(p.account("acc", fake, p.app_ids[0], "lock-wait-secret"))
        profile_before = profile_path.read_bytes()
        fake.before = slow_path(p.token_path, 10)
        holder = spawn("push", "text", "-p", "wecom", "-u", "alice", "first")
        wait_for(lambda: len(fake.calls(p.token_path)) >= 1)  # recorded on arrival
        waiter = spawn("push", "text", "-p", "wecom", "-u", "alice", "second")
        time.sleep(1.0)  # the second is waiting for the lock by now
        t_sig = time.monotonic()
        waiter.send_signal(signal.SIGTERM)
        out, err = waiter.communicate(timeout=20)
        waiter_elapsed = time.monotonic() - t_sig
        assert (waiter.returncode, out) == (143, "0\n"), err
        assert waiter_elapsed < 3.0  # not when the lock comes free (~8 s later)
        t_sig = time.monotonic()
        holder.send_signal(signal.SIGINT)
        out, err = holder.communicate(timeout=20)
        holder_elapsed = time.monotonic() - t_sig
        assert (holder.returncode, out) == (130, "0\n"), err
        assert holder_elapsed < 3.0
        assert len(fake.calls(p.token_path)) == 1  # the waiter never asked
        for f in cache_files(tmp_path):
            json.loads(f.read_text())
        fake.before = None
        t0 = time.monotonic()
        r = cli("push", "text", "-p", "wecom", "-u", "alice", "after")
        assert (r.code, r.stdout, r.stderr) == (0, "1\n", "")
        assert time.monotonic() - t0 < 5  # the lock was released with the processes
    assert profile_path.read_bytes() == profile_before
    [cached] = cache_files(tmp_path)
    assert json.loads(cached.read_text())["token"] in valid_tokens(fake)
