"""Secrets never appear in any output, and the files that hold them are private.

For each of the six platforms, with distinctive credentials (some with characters that
URL and JSON encoding change, one from a ``${VAR}``, one from ``IMCLI_*`` variables, proxy
passwords), every kind of run is swept: push (sent, platform error, --verbose, --dry-run,
--json, --dry-run --json, a refused target, an unreachable server), accounts
list/list --json/test, and an internal error whose traceback --verbose prints. Each run is
checked here, against the credentials and the tokens the fake handed out, in every form
(raw, URL-encoded, JSON-escaped); conftest's secrets check scans it as well.
"""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

import pytest
import tomli_w

from tests.conftest import ROOT, Result, check_no_secret
from tests.conftest import TG_TOKEN as DEFAULT_TG_TOKEN
from tests.fakes.base import FakeServer
from tests.fakes.lark import FakeLark
from tests.fakes.onebot import FakeOneBot
from tests.fakes.slack import FakeSlack
from tests.fakes.telegram import FakeTelegram
from tests.fakes.wechat import FakeWeChat
from tests.fakes.wecom import FakeWeCom

TG_TOKEN = "987654321:AAH-secret_TG-token-0123456789"
SLACK_TOKEN = "xoxb-0000-secret-Slack-token-abcdef"
LARK_SECRET = 'lark sec"ret\\é+/=&% 42'  # JSON- and URL-encoding both change it
WECOM_SECRET = "wecom sec+ret/=&?#% é 42"  # sent in a query string
WECHAT_SECRET = "wechat-secret-from-a-variable-9876"  # the profile says ${WX_APP_SECRET}
QQ_TOKEN = "onebot-secret-from-env-token-1234"  # IMCLI_QQ_ACCESS_TOKEN
PROXY_PASSWORD = "pr0xy@Pass:w0rd/s3cret"  # percent-encoded in the proxy URL
SETTINGS_PROXY_PASSWORD = "settings-Pr0xy-passw0rd"
ALL = [TG_TOKEN, SLACK_TOKEN, LARK_SECRET, WECOM_SECRET, WECHAT_SECRET, QQ_TOKEN,
       PROXY_PASSWORD, SETTINGS_PROXY_PASSWORD]  # fmt: skip


def forms(secret: str) -> set[str]:
    return {
        secret, quote(secret, safe=""), quote(secret), quote_plus(secret),
        json.dumps(secret)[1:-1], json.dumps(secret, ensure_ascii=False)[1:-1],
    }  # fmt: skip


def issued_tokens(fake: FakeServer) -> list[str]:
    if isinstance(fake, FakeLark):
        return list(fake.tokens_issued)
    if isinstance(fake, (FakeWeCom, FakeWeChat)):
        return list(fake.tokens)
    return []


@dataclass
class World:
    platform: str
    fake: FakeServer
    ok: list[str]  # a target that is sent
    failing: list[str]  # a target the platform refuses
    refused: list[str]  # a target imcli refuses before sending
    secrets: list[str]
    env: dict[str, str] = field(default_factory=dict)

    def assert_clean(self, r: Result, what: Any) -> None:
        for secret in self.secrets + issued_tokens(self.fake):
            for form in forms(secret):
                assert form not in r.output, (what, secret)


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def account(platform: str, fake: FakeServer) -> dict[str, Any]:
    # loopback addresses never go through it
    proxy = f"http://proxyuser:{quote(PROXY_PASSWORD, safe='')}@127.0.0.1:9"
    tables: dict[str, dict[str, Any]] = {
        "telegram": {"token": TG_TOKEN, "proxy": proxy},
        "slack": {"token": SLACK_TOKEN},
        "lark": {"app_id": "cli_secrets_app", "app_secret": LARK_SECRET},
        "wecom": {"corp_id": "ww-secrets-corp", "corp_secret": WECOM_SECRET, "agent_id": 1000002},
        "wechat": {"app_id": "wx-secrets-app", "app_secret": "${WX_APP_SECRET}"},
    }
    return tables[platform] | {"platform": platform, "base_url": fake.url}


@pytest.fixture(params=["telegram", "slack", "lark", "wecom", "wechat", "qq"])
def world(request: Any, write_profile: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    p = request.param
    fake: FakeServer
    if p == "telegram":
        fake = FakeTelegram(tokens=[TG_TOKEN], unknown_chats=[-100999])
        w = World(p, fake, ["-u", "1"], ["-g", "-100999"], ["-u", ""], [TG_TOKEN, PROXY_PASSWORD])
    elif p == "slack":
        fake = FakeSlack(tokens=[SLACK_TOKEN], unknown_channels=["C0GONE"])
        w = World(p, fake, ["-g", "C0TEAM"], ["-g", "C0GONE"], ["-u", ""], [SLACK_TOKEN])
    elif p == "lark":
        fake = FakeLark("cli_secrets_app", LARK_SECRET, unknown_receive_ids=["oc_gone"])
        w = World(p, fake, ["-g", "oc_team"], ["-g", "oc_gone"], ["-u", ""], [LARK_SECRET])
    elif p == "wecom":
        fake = FakeWeCom("ww-secrets-corp", WECOM_SECRET, 1000002)
        w = World(p, fake, ["-u", "alice"], ["-u", "ghost"], ["-u", "a|b"], [WECOM_SECRET])
    elif p == "wechat":
        fake = FakeWeChat("wx-secrets-app", WECHAT_SECRET)
        monkeypatch.setenv("WX_APP_SECRET", WECHAT_SECRET)
        w = World(p, fake, ["-u", "o-alice-openid"], ["-u", "o-stranger"], ["-g", "x"],
                  [WECHAT_SECRET])  # fmt: skip
    else:
        fake = FakeOneBot(access_token=QQ_TOKEN, groups=(30001,))
        w = World(p, fake, ["-g", "30001"], ["-g", "39999"], ["-u", ""], [QQ_TOKEN])
    fake.start()
    try:
        accounts = {} if p == "qq" else {f"my-{p}": account(p, fake)}
        write_profile(
            tomli_w.dumps({
                "settings": {"proxy": f"http://u:{SETTINGS_PROXY_PASSWORD}@127.0.0.1:9"},
                "accounts": accounts,
            })
        )  # fmt: skip
        if p == "qq":  # an environment account
            w.env = {"IMCLI_QQ_BASE_URL": fake.url, "IMCLI_QQ_ACCESS_TOKEN": QQ_TOKEN,
                     "IMCLI_QQ_RATE": "0"}  # fmt: skip
            for k, v in w.env.items():
                monkeypatch.setenv(k, v)
        w.secrets.append(SETTINGS_PROXY_PASSWORD)
        yield w
    finally:
        fake.stop()


def test_every_push_output_is_free_of_secrets(cli, world):
    p = world.platform
    runs: list[tuple[list[str], int]] = [
        (world.ok, 0),
        (world.failing, 1),
        ([*world.ok, "-v"], 0),
        ([*world.failing, "-v"], 1),
        ([*world.ok, "--dry-run"], 0),
        ([*world.ok, *world.failing, "--json"], 1),
        ([*world.ok, "--dry-run", "--json"], 0),
        ([*world.ok, "--dry-run", "--json", "-v"], 0),
        ([*world.refused], 2),
        ([*world.refused, "--json", "-v"], 2),
    ]
    for extra, code in runs:
        r = cli("push", "text", "-p", p, *extra, "secret sweep")
        assert r.code == code, (extra, r.stderr)
        world.assert_clean(r, extra)
    dry = cli("push", "text", "-p", p, *world.ok, "hi", "--dry-run", "--json")
    assert "***" in dry.output or p in ("telegram", "slack", "qq")  # masked, not dropped
    assert json.loads(dry.stdout)


def test_network_errors_are_free_of_secrets(cli, world, write_profile, monkeypatch):
    dead = f"http://127.0.0.1:{closed_port()}"
    if world.platform == "qq":
        monkeypatch.setenv("IMCLI_QQ_BASE_URL", dead)
    else:
        write_profile(tomli_w.dumps({"accounts": {"dead": account(world.platform, world.fake)
                                                  | {"base_url": dead, "rate": 0}}}))  # fmt: skip
    for extra in (["-v"], ["--json", "-v"]):
        r = cli("push", "text", "-p", world.platform, *world.ok, "hi", "--timeout", "3000", *extra)
        assert r.code == 1, r.stderr
        assert "cannot connect" in r.stderr or "unreachable" in r.output, r.stderr
        world.assert_clean(r, extra)
    r = cli("accounts", "test", "-v")
    assert r.code == 1
    world.assert_clean(r, "accounts test")


def test_a_proxy_in_use_is_free_of_secrets(cli, write_profile):
    """Requests that do go through the (refusing) proxy, and the proxy URL in errors."""
    proxy = f"http://proxyuser:{quote(PROXY_PASSWORD, safe='')}@127.0.0.1:{closed_port()}"
    for url in (proxy, proxy.replace("http://", "bogus://")):
        write_profile(tomli_w.dumps({"accounts": {"a": {
            "platform": "telegram", "token": TG_TOKEN, "base_url": "http://10.255.255.1:1",
            "proxy": url, "rate": 0,
        }}}))  # fmt: skip
        for args in (["push", "text", "-p", "tg", "-u", "1", "hi", "-v", "--json",
                      "--timeout", "3000"], ["accounts", "test", "-v"],
                     ["accounts", "list", "--json"]):  # fmt: skip
            r = cli(*args)
            expect = {"list": 0, "test": 1}.get(args[1], 3 if "bogus" in url else 1)
            assert r.code == expect, r.output
            for secret in (TG_TOKEN, PROXY_PASSWORD):
                for form in forms(secret):
                    assert form not in r.output, (args, url)
        assert "proxyuser:***@127.0.0.1" in r.stdout  # list --json shows the masked URL


def test_accounts_commands_are_free_of_secrets(cli, world):
    listing = cli("accounts", "list")
    assert listing.code == 0 and world.platform in listing.stdout
    world.assert_clean(listing, "list")
    as_json = cli("accounts", "list", "--json")
    assert as_json.code == 0
    world.assert_clean(as_json, "list --json")
    [acc] = json.loads(as_json.stdout)["accounts"]
    if world.platform == "wechat":
        assert acc["fields"]["app_secret"] == "${WX_APP_SECRET}"  # the reference is not secret
    for args in (["accounts", "test"], ["accounts", "test", "-v", "--json"]):
        r = cli(*args)
        assert r.code == 0, r.output
        assert "online" in r.stdout or json.loads(r.stdout)[0]["online"] is True
        world.assert_clean(r, args)


@pytest.fixture
def internal_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every HTTP request raises an unexpected error quoting the whole request: the URL (a
    Telegram token, a query-string secret or access token), the headers (Bearer tokens)
    and the body (app secrets)."""
    import httpx

    async def boom(self: Any, request: Any, **kwargs: Any) -> Any:
        try:
            body = request.content.decode("utf-8", "replace")
        except Exception:  # noqa: BLE001 - a streamed body
            body = "<stream>"
        raise RuntimeError(f"boom: {request.method} {request.url} {dict(request.headers)} {body}")

    monkeypatch.setattr(httpx.AsyncClient, "send", boom)


def test_an_internal_error_traceback_is_free_of_secrets(cli, world, internal_error):
    r = cli("push", "text", "-p", world.platform, *world.ok, "hi", "-v")
    assert r.code == 1
    assert "Traceback (most recent call last)" in r.stderr  # --verbose shows it
    assert "RuntimeError: boom" in r.stderr
    world.assert_clean(r, "push -v")
    quiet = cli("push", "text", "-p", world.platform, *world.ok, "hi", "--json")
    assert quiet.code == 1 and "Traceback" not in quiet.stderr
    world.assert_clean(quiet, "push --json")
    test = cli("accounts", "test", "-v")
    assert test.code == 1 and "boom" in test.stdout
    world.assert_clean(test, "accounts test")


# -- real processes --------------------------------------------------------------------------

_BOOM = (
    "import sys, httpx\n"
    "async def boom(self, request, **kw):\n"
    "    raise RuntimeError(f'boom: {request.url} {dict(request.headers)} {request.content!r}')\n"
    "httpx.AsyncClient.send = boom\n"
    "from imcli.cli.main import main\n"
    "main(sys.argv[1:])\n"
)


@pytest.mark.parametrize("platform", ["telegram", "wecom"])
def test_real_processes_are_free_of_secrets(cli_proc, write_profile, platform):
    fake: FakeServer = (
        FakeTelegram(tokens=[TG_TOKEN]) if platform == "telegram"
        else FakeWeCom("ww-secrets-corp", WECOM_SECRET, 1000002)
    )  # fmt: skip
    secret = TG_TOKEN if platform == "telegram" else WECOM_SECRET
    target = ["-u", "1"] if platform == "telegram" else ["-u", "alice"]
    with fake:
        write_profile(tomli_w.dumps({"accounts": {"a": account(platform, fake)}}))
        runs = [
            (["push", "text", "-p", platform, *target, "hi", "-v", "--json"], 0),
            (["push", "text", "-p", platform, *target, "hi", "--dry-run", "-v"], 0),
            (["accounts", "list", "--json"], 0),
            (["accounts", "test", "-v"], 0),
        ]
        for args, code in runs:
            r = cli_proc(*args)
            assert r.code == code, (args, r.stderr)
            for form in forms(secret):
                assert form not in r.output, args
        proc = subprocess.run(
            [sys.executable, "-c", _BOOM, "push", "text", "-p", platform, *target, "hi", "-v"],
            capture_output=True, text=True, cwd=str(ROOT), timeout=60,
        )  # fmt: skip
        assert proc.returncode == 1 and "Traceback" in proc.stderr
        for form in forms(secret):
            assert form not in proc.stdout + proc.stderr


def test_an_unexpected_error_outside_push_is_one_line_without_verbose(cli_proc, tmp_path):
    """A profile that cannot be written (its folder is a file): no traceback, whatever the
    error, and nothing that bypasses the redaction (a traceback Python prints itself)."""
    not_a_dir = tmp_path / "a-file"
    not_a_dir.write_text("x")
    profile = str(not_a_dir / "profile.toml")
    r = cli_proc("--profile", profile, "accounts", "add", "a", "-p", "tg",
                 "--set", f"token={TG_TOKEN}")  # fmt: skip
    assert r.code != 0
    assert "Traceback" not in r.stderr
    assert len(r.stderr.splitlines()) == 1 and r.stderr.startswith("imcli: "), r.stderr
    assert r.stdout == ""


# -- the sweep itself --------------------------------------------------------------------------


def test_the_sweep_catches_a_leak_in_any_form():
    from tests import conftest

    before = len(conftest.SWEEP.leaks)
    creds = {TG_TOKEN}
    check_no_secret(["imcli", "x"], creds, stdout="bot***/sendMessage", stderr="")
    for leaked in (TG_TOKEN, quote(TG_TOKEN, safe=""), f"https://h/bot{TG_TOKEN}/getMe"):
        with pytest.raises(AssertionError, match="secret leak"):
            check_no_secret(["imcli", "x"], creds, stdout="", stderr=f"oops {leaked}\n")
    assert len(conftest.SWEEP.leaks) == before + 3
    del conftest.SWEEP.leaks[before:]  # planted above: not leaks of imcli's


def test_the_sweep_catches_the_secret_part_of_a_token_alone():
    from tests import conftest

    before = len(conftest.SWEEP.leaks)
    slack = "xoxb-1111-2222-TESTslacktoken"
    creds = {TG_TOKEN, slack}
    check_no_secret(["imcli", "x"], creds, stdout="bot123456:***/sendMessage xoxb-***")
    for leaked in (TG_TOKEN.split(":", 1)[1], "TESTslacktoken"):
        with pytest.raises(AssertionError, match="secret leak"):
            check_no_secret(["imcli", "x"], creds, stdout="", stderr=f"oops …{leaked}\n")
    assert len(conftest.SWEEP.leaks) == before + 2
    del conftest.SWEEP.leaks[before:]  # planted above: not leaks of imcli's


def test_assert_swept_fails_for_a_credential_the_sweep_never_looked_for(cli, tg_profile):
    from tests.conftest import TG_TOKEN, assert_swept

    with pytest.raises(AssertionError, match="never looked for"):
        assert_swept(TG_TOKEN)  # no imcli run yet in this test
    cli("accounts", "list")
    assert_swept(TG_TOKEN)


def test_the_sweep_registers_profile_env_and_set_credentials(tmp_path, monkeypatch):
    from tests.conftest import credentials

    profile = tmp_path / "p.toml"
    profile.write_text(tomli_w.dumps({
        "settings": {"proxy": f"http://u:{SETTINGS_PROXY_PASSWORD}@h:1"},
        "accounts": {
            "a": {"platform": "tg", "token": TG_TOKEN, "base_url": "http://x"},
            "b": {"platform": "wechat", "app_id": "wx-not-secret", "app_secret": "${WX_S}"},
            "c": {"platform": "slack", "token": "short"},
        },
    }))  # fmt: skip
    env = {"IMCLI_PROFILE": str(profile), "WX_S": WECHAT_SECRET, "IMCLI_QQ_ACCESS_TOKEN": QQ_TOKEN}
    found = credentials(["accounts", "add", "n", "--set", f"token={SLACK_TOKEN}"], env)
    assert {TG_TOKEN, WECHAT_SECRET, QQ_TOKEN, SLACK_TOKEN, SETTINGS_PROXY_PASSWORD} <= found
    assert "wx-not-secret" not in found and "short" not in found
    found = credentials(["accounts", "add", "n", "--set", "token=-"], {}, b"from-stdin-secret\n")
    assert "from-stdin-secret" in found


# -- files: 0600, and a warning when others can read one ---------------------------------------


@pytest.fixture
def open_umask() -> Iterator[None]:
    old = os.umask(0)  # the most permissive: imcli must not rely on the user's umask
    try:
        yield
    finally:
        os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_profiles_written_by_imcli_are_0600(cli, profile_path, open_umask):
    assert not profile_path.exists()
    assert cli("accounts", "add", "a", "-p", "tg", "--set", f"token={TG_TOKEN}").code == 0
    assert mode(profile_path) == 0o600  # created by add
    assert cli("accounts", "add", "b", "-p", "tg", "--set", "token=${T}", "--default").code == 0
    assert mode(profile_path) == 0o600
    profile_path.chmod(0o644)
    assert cli("accounts", "default", "a").code == 0  # a rewrite
    assert mode(profile_path) == 0o600
    bak = Path(str(profile_path) + ".bak")
    assert mode(bak) == 0o600 and TG_TOKEN in bak.read_text()
    assert cli("accounts", "remove", "b").code == 0
    assert mode(profile_path) == 0o600 and mode(bak) == 0o600


def test_token_cache_files_are_0600(cli, write_profile, tmp_path, open_umask):
    with FakeWeCom("ww-secrets-corp", WECOM_SECRET, 1000002) as wecom:
        write_profile(tomli_w.dumps({"accounts": {"c": account("wecom", wecom)}}))
        assert cli("push", "text", "-p", "wecom", "-u", "alice", "hi").code == 0
    folder = tmp_path / "cache"
    [cached] = folder.glob("*.json")
    assert mode(cached) == 0o600
    assert mode(folder) & 0o077 == 0  # the folder is private too
    assert WECOM_SECRET not in cached.read_text() and wecom.current_token in cached.read_text()


@pytest.mark.parametrize("perm", [0o644, 0o640, 0o604])
def test_a_profile_others_can_read_draws_one_warning(cli, tg_profile, telegram, perm):
    tg_profile.chmod(perm)
    for args in (("accounts", "list"), ("push", "text", "-p", "tg", "-u", "1", "hi"),
                 ("push", "text", "-p", "tg", "-u", "1", "-u", "2", "hi", "-v", "--json")):  # fmt: skip
        r = cli(*args)
        assert r.code == 0, r.stderr
        warnings = [line for line in r.stderr.splitlines() if "warning" in line]
        assert len(warnings) == 1, (args, r.stderr)
        assert "others can read it" in warnings[0] and "chmod 600" in warnings[0]
    tg_profile.chmod(0o600)
    assert "warning" not in cli("push", "text", "-p", "tg", "-u", "1", "hi").stderr


def test_a_readable_profile_with_only_references_draws_no_warning(cli, write_profile, telegram,
                                                                   monkeypatch):  # fmt: skip
    monkeypatch.setenv("TG_FROM_ENV", DEFAULT_TG_TOKEN)
    write_profile(
        f'[accounts.a]\nplatform = "telegram"\ntoken = "${{TG_FROM_ENV}}"\n'
        f'base_url = "{telegram.api_url}"\n', mode=0o644,
    )  # fmt: skip
    r = cli("push", "text", "-p", "tg", "-u", "1", "hi")
    assert (r.code, r.stderr) == (0, "")
