"""Hard cases found by auditing the CLI against the contract: failover past unusable
accounts, the budget while rate-limited, secrets in proxy URLs and in numbers, profile
edits that must keep comments, bad URLs, JSON on interrupts, -o values, token caches."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.conftest import ROOT, TG_TOKEN, account_toml, now
from tests.fakes.lark import FakeLark
from tests.fakes.onebot import FakeOneBot
from tests.fakes.telegram import FakeTelegram


def tg_account(name: str, url: str, token: str = TG_TOKEN, extra: str = "") -> str:
    return account_toml("telegram", name, token=token, base_url=url) + f"{extra}\n"


def test_delivered_targets_stay_counted_when_the_next_account_is_unusable(
    cli, write_profile, telegram
):
    write_profile(
        tg_account("a", telegram.api_url)
        + tg_account("b", telegram.api_url, token="${UNSET_TOKEN_B}")
    )
    telegram.queue("sendMessage", FakeTelegram.error(401, "Unauthorized"))
    r = cli("push", "text", "-p", "tg", "-u", "1", "-u", "2", "hi", "--json")
    out = json.loads(r.stdout)
    assert out["sent"] == 1 and out["failed"] == 1
    assert r.code == 1  # one target was sent: not "every account rejected"
    assert len(telegram.sent_messages()) == 1
    assert "UNSET_TOKEN_B" in r.stderr


def test_an_unusable_account_is_passed_over_for_the_next(cli, write_profile, telegram):
    write_profile(
        tg_account("broken", telegram.api_url, token="${NOPE_UNSET}")
        + '[accounts.empty]\nplatform = "telegram"\n\n'
        + tg_account("good", telegram.api_url)
    )
    r = cli("push", "text", "-p", "tg", "-u", "1", "hi", "--json")
    assert r.code == 0, r.stderr
    assert json.loads(r.stdout)["targets"][0]["account"] == "good"
    assert "NOPE_UNSET" in r.stderr and "'broken' skipped" in r.stderr


def test_no_usable_account_at_all_is_exit_3(cli, write_profile, telegram):
    write_profile(tg_account("broken", telegram.api_url, token="${NOPE_UNSET}"))
    r = cli("push", "text", "-p", "tg", "-u", "1", "hi")
    assert (r.code, r.stdout) == (3, "0\n")
    assert "NOPE_UNSET" in r.stderr
    assert telegram.requests == []


def test_the_time_budget_covers_waiting_for_the_rate_limit(cli, write_profile):
    with FakeOneBot() as onebot:
        write_profile(f'[accounts.q]\nplatform = "qq"\nbase_url = "{onebot.base_url}"\n')
        groups = [a for g in range(10) for a in ("-g", str(30001 + g))]
        onebot.groups.update(30001 + g for g in range(10))
        t0 = now()
        r = cli("push", "text", "-p", "qq", *groups, "hi", "--timeout", "1000")
        elapsed = now() - t0
    assert r.code == 1
    assert elapsed < 3.0  # 2 messages/s: without the budget this takes 5 s
    sent = int(r.stdout)
    assert 1 <= sent <= 4
    assert r.stderr.count("ran out") == 10 - sent


def test_proxy_passwords_are_masked_everywhere(cli, write_profile, telegram):
    write_profile(
        tg_account("a", telegram.api_url, extra='proxy = "http://user:pr0xyPassw0rd@127.0.0.1:9"')
        + '[settings]\nproxy = "http://u:settingsPassw0rd@127.0.0.1:9"\n'
    )
    for args in (("accounts", "list"), ("accounts", "list", "--json"),
                 ("push", "text", "-p", "tg", "-u", "1", "hi", "-v", "--json")):  # fmt: skip
        r = cli(*args)
        assert "pr0xyPassw0rd" not in r.output and "settingsPassw0rd" not in r.output, args
    listing = cli("accounts", "list", "--json").stdout
    assert "http://user:***@127.0.0.1:9" in listing


def test_dry_run_json_stays_json_when_a_number_comes_from_a_variable(
    cli, write_profile, monkeypatch
):
    monkeypatch.setenv("AGENT", "1000002")
    write_profile(
        '[accounts.corp]\nplatform = "wecom"\ncorp_id = "ww1"\ncorp_secret = "s3cret-corp"\n'
        'agent_id = "${AGENT}"\nbase_url = "http://127.0.0.1:9"\n'
    )
    r = cli("push", "text", "-p", "wecom", "-u", "alice", "hi", "--dry-run", "--json")
    assert r.code == 0, r.stderr
    plan = json.loads(r.stdout)
    assert "1000002" not in r.output and "s3cret-corp" not in r.output
    assert any(
        req["body"].get("agentid") == "***"
        for req in plan["requests"]
        if isinstance(req["body"], dict)
    )


def test_accounts_add_default_keeps_every_comment(cli, write_profile, profile_path):
    original = (
        "# my bots\n"
        '[accounts.old]   # the first one\nplatform = "telegram"\ntoken = "${A}"\n'
        "default = true   # for now\n\n"
        '[accounts.team]\nplatform = "slack"\ntoken = "${S}"  # slack\n'
    )
    write_profile(original)
    r = cli("accounts", "add", "new", "-p", "tg", "--set", "token=${B}", "--default")
    assert r.code == 0, r.stderr
    text = profile_path.read_text()
    assert text.startswith(original.replace("default = true   # for now\n", ""))
    assert "# the first one" in text and "# slack" in text
    assert Path(str(profile_path) + ".bak").read_text() == original
    listing = {
        a["name"]: a["default"]
        for a in json.loads(cli("accounts", "list", "--json").stdout)["accounts"]
    }
    assert listing == {"old": False, "team": False, "new": True}


def test_a_base_url_that_is_not_http_is_a_configuration_error(cli, write_profile):
    for url in ("ftp://127.0.0.1:1", "127.0.0.1:1"):
        write_profile(tg_account("a", url))
        r = cli("push", "text", "-p", "tg", "-u", "1", "hi")
        assert (r.code, r.stdout) == (3, "0\n"), (url, r.stderr)
        assert "base_url" in r.stderr and "may have been delivered" not in r.stderr


def test_json_is_printed_on_interrupt_too(tg_profile, telegram):
    telegram.latency = 5
    proc = subprocess.Popen(
        [sys.executable, "-m", "imcli", "push", "text", "-p", "tg", "-u", "1", "slow", "--json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=str(ROOT),
    )  # fmt: skip
    deadline = time.monotonic() + 10
    while not telegram.requests and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=10)
    assert proc.returncode == 143
    data = json.loads(out)
    assert data["sent"] == 0 and data["targets"][0]["target"] == "user:1"


def test_option_values_keep_their_text_unless_json_gives_it_back_exactly(cli, tg_profile, telegram):
    r = cli("push", "text", "-p", "tg", "-u", "1", "hi", "-o", "ts=1700000000.123400",
            "-o", "n=7", "-o", "flag=false", "-o", "word=hello")  # fmt: skip
    assert r.code == 0, r.stderr
    f = telegram.sent_messages()[0].fields
    assert f["ts"] == "1700000000.123400"
    assert f["n"] == 7 and f["flag"] is False and f["word"] == "hello"


def test_an_unusable_token_cache_gives_one_warning(cli, write_profile, tmp_path, monkeypatch):
    not_a_dir = tmp_path / "a-file"
    not_a_dir.write_text("x")
    monkeypatch.setenv("IMCLI_CACHE_DIR", str(not_a_dir))
    with FakeLark("cli_app", "lark-secret-value") as lark:
        write_profile(
            f'[accounts.f]\nplatform = "lark"\napp_id = "cli_app"\napp_secret = "lark-secret-value"\n'
            f'base_url = "{lark.url}"\n'
        )
        r = cli("push", "text", "-p", "lark", "-u", "oc_1", "hi")
    assert (r.code, r.stdout) == (0, "1\n"), r.stderr
    assert r.stderr.count("warning") == 1, r.stderr


def test_a_bad_environment_value_only_matters_to_its_own_platform(
    cli, monkeypatch, tg_profile, telegram
):
    monkeypatch.setenv("IMCLI_QQ_RATE", "fast")
    assert cli("push", "text", "-p", "tg", "-u", "1", "hi").code == 0
    monkeypatch.setenv("IMCLI_QQ_BASE_URL", "http://127.0.0.1:9")
    r = cli("push", "text", "-p", "qq", "-u", "1", "hi")
    assert (r.code, r.stdout) == (3, "0\n")
    assert "IMCLI_QQ_RATE" in r.stderr


def test_unset_variables_in_other_accounts_do_not_matter(cli, write_profile, telegram):
    write_profile(
        tg_account("a", telegram.api_url, extra="default = true")
        + '[accounts.s]\nplatform = "slack"\ntoken = "${NOT_SET_SLACK}"\n'
    )
    assert cli("push", "text", "-p", "tg", "-u", "1", "hi").code == 0
    assert os.environ.get("NOT_SET_SLACK") is None
