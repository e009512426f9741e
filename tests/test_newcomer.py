"""The newcomer's path: `imcli` alone, the `accounts add` walk-through in a terminal, and
configuration errors that say the next command to run."""

from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests._pty import Terminal
from tests.conftest import ROOT

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

# -- imcli with no arguments ----------------------------------------------------------------


def test_no_arguments_prints_a_short_help_with_three_common_commands(cli_proc):
    r = cli_proc()
    assert (r.code, r.stderr) == (0, "")
    lines = r.stdout.splitlines()
    assert len(lines) <= 12
    commands = [line.split("   ")[0].strip() for line in lines if line.startswith("  imcli ")]
    assert commands == [
        "imcli accounts add",
        "imcli push text -p telegram -u CHAT 'hello'",
        "imcli platforms",
    ]
    assert "`imcli --help`" in r.stdout


def test_the_short_help_loads_neither_typer_nor_the_http_stack():
    code = (
        "import sys\n"
        "from imcli.cli.main import _run\n"
        "assert _run([]) == 0\n"
        "print(sorted(m for m in ('typer', 'click', 'httpx', 'rich') if m in sys.modules))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60
    )
    assert proc.returncode == 0, proc
    assert proc.stdout.splitlines()[-1] == "[]"


# -- accounts add, asked for in a terminal ------------------------------------------------------


def _terminal(*args: str) -> Terminal:
    env = {k: v for k, v in os.environ.items() if not k.startswith("COLUMNS")}
    env.update(TERM="dumb", PYTHONPATH=str(ROOT), COLUMNS="200")
    return Terminal([sys.executable, "-m", "imcli", *args], env, cwd=str(ROOT))


def _answer(term: Terminal, prompt: str, answer: str, *, hidden: bool = False) -> str:
    shown = term.expect(prompt)
    if hidden:  # getpass turns echo off (and drops typed-ahead input) after the prompt
        shown += term.settle(0.3)
    term.send(answer + "\n")
    return shown


def test_accounts_add_with_no_flags_walks_through_the_fields(profile_path):
    secret = "123456:AAH-walkthrough-SECRET"
    term = _terminal("accounts", "add")
    try:
        _answer(term, "Platform (", "telegrm")  # a typo is asked again
        assert "pick one of telegram" in _answer(term, "Platform (", "tg")
        assert "[telegram]" in _answer(term, "Account name", "")  # the suggestion
        _answer(term, "token - bot token from @BotFather [required]", "", hidden=True)
        # asked again, with the reason (not click's "The value you entered was invalid.")
        shown = _answer(term, "token - bot token", secret, hidden=True)
        assert "token is required" in shown and "entered was invalid" not in shown
        _answer(term, "base_url", "")  # base_url before local_server, which needs it
        _answer(term, "proxy", "")
        _answer(term, "rate - messages/s for fan-out, 0 = no limit [optional, Enter skips]", "fast")
        assert "cannot read 'fast' as a number" in _answer(term, "rate", "2")
        _answer(term, "default telegram account?", "n")
        _answer(term, "Test it now", "n")
        assert term.wait() == 0
    finally:
        term.close()
    printed = term.plain(term.output)
    assert secret not in printed  # typed without echo
    assert "added telegram account 'telegram'" in printed
    assert "`imcli accounts test telegram`" in printed
    data = tomllib.loads(profile_path.read_text())
    assert data["accounts"]["telegram"] == {"platform": "telegram", "token": secret, "rate": 2.0}
    assert stat.S_IMODE(profile_path.stat().st_mode) == 0o600


def test_the_walk_through_suggests_a_free_name_and_asks_about_the_default(
    write_profile, profile_path
):
    write_profile(
        '[accounts.lark]\nplatform = "lark"\napp_id = "cli_1"\napp_secret = "s1"\ndefault = true\n'
    )
    profile_path.chmod(0o644)  # readable by others: one warning, however often it is read
    term = _terminal("accounts", "add", "-p", "feishu")  # the platform given, not the name
    try:
        assert "[lark-2]" in _answer(term, "Account name", "bad name!")
        assert "use letters, digits" in _answer(term, "Account name", "lark")
        assert "already an account named 'lark'" in _answer(term, "Account name", "")
        _answer(term, "app_id", "cli_2")
        _answer(term, "app_secret", "second-app-SECRET", hidden=True)
        for optional in ("base_url", "proxy", "rate"):
            _answer(term, optional, "")
        _answer(term, "default lark account?", "y")
        _answer(term, "Test it now", "n")
        assert term.wait() == 0
    finally:
        term.close()
    accounts = tomllib.loads(profile_path.read_text())["accounts"]
    assert accounts["lark-2"] == {
        "platform": "lark", "app_id": "cli_2", "app_secret": "second-app-SECRET", "default": True
    }  # fmt: skip
    assert "default" not in accounts["lark"]
    assert "second-app-SECRET" not in term.plain(term.output)
    assert term.plain(term.output).count("others can read it") == 1


def test_without_a_terminal_a_missing_name_is_a_usage_error(cli, profile_path):
    for args in (("accounts", "add"), ("accounts", "add", "-p", "tg"), ("accounts", "add", "x")):
        r = cli(*args)
        assert r.code == 2, r
        assert r.stderr.count("\n") == 1
        assert "`imcli accounts add ops -p telegram --set token=-`" in r.stderr
    assert not profile_path.exists()


# -- configuration errors name the next command ---------------------------------------------

_NEXT = re.compile(r"`(imcli [a-z]|export [A-Z])")

PUSH = ("push", "text", "-p", "tg", "-u", "1", "hi")

CASES = {
    "no account": (None, PUSH),
    "unknown --account": (None, ("push", "text", "-a", "nope", "-u", "1", "hi")),
    "missing token": ('[accounts.a]\nplatform = "telegram"\n', PUSH),
    "unset variable": ('[accounts.a]\nplatform = "telegram"\ntoken = "${NOPE_X}"\n', PUSH),
    "wrong type": ('[accounts.a]\nplatform = "telegram"\ntoken = 12\n', PUSH),
    "broken TOML": ('[accounts.a\nplatform = "telegram"\n', PUSH),
    "unknown platform": ('[accounts.a]\nplatform = "telegrm"\n', PUSH),
    "no platform": ('[accounts.a]\ntoken = "x"\n', PUSH),
    "two defaults": (
        '[accounts.a]\nplatform="telegram"\ntoken="1:a"\ndefault=true\n'
        '[accounts.b]\nplatform="telegram"\ntoken="1:b"\ndefault=true\n',
        PUSH,
    ),
    "bad base_url": ('[accounts.a]\nplatform="telegram"\ntoken="1:a"\nbase_url="ftp://x"\n', PUSH),
    "bad proxy": ('[accounts.a]\nplatform="telegram"\ntoken="1:a"\nproxy="foo://x"\n', PUSH),
    "bad rate": ('[accounts.a]\nplatform="telegram"\ntoken="1:a"\nrate=-1\n', PUSH),
    "bad settings": ('[settings]\ntimeout=-1\n[accounts.a]\nplatform="telegram"\ntoken="1:a"\n', PUSH),
    "accounts not a table": ("accounts = 3\n", PUSH),
    "bad agent_id": (
        '[accounts.a]\nplatform="wecom"\ncorp_id="c"\ncorp_secret="s"\nagent_id="x"\n',
        ("push", "text", "-p", "wecom", "-u", "u1", "hi"),
    ),
    "nothing to test": (None, ("accounts", "test")),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(CASES))
def test_configuration_errors_say_the_next_command(cli, write_profile, case):
    text, args = CASES[case]
    if text is not None:
        write_profile(text)
    r = cli(*args)
    assert r.code == 3, r
    errors = [line for line in r.stderr.splitlines() if "warning:" not in line]
    assert len(errors) == 1, r.stderr
    assert _NEXT.search(errors[0]), errors[0]


def test_an_environment_account_missing_a_field_names_the_variable(cli, monkeypatch):
    monkeypatch.setenv("IMCLI_LARK_APP_ID", "cli_x")
    r = cli("push", "text", "-p", "lark", "-u", "oc_1", "hi")
    assert r.code == 3
    assert "`export IMCLI_LARK_APP_SECRET=…`" in r.stderr


def test_a_profile_that_is_a_directory(cli, profile_path: Path):
    profile_path.mkdir()
    r = cli(*PUSH)
    assert r.code == 3
    assert "is not a file" in r.stderr


@pytest.mark.parametrize("command", ["remove", "default", "test"])
def test_naming_a_missing_account_says_what_to_run(cli, write_profile, command):
    r = cli("accounts", command, "nope")
    assert r.code in (2, 3), r
    assert "`imcli accounts add nope --platform PLATFORM`" in r.stderr
    write_profile('[accounts.ops]\nplatform = "telegram"\ntoken = "1:abc"\n')
    r = cli("accounts", command, "nope")
    assert r.code in (2, 3), r
    assert "(accounts: ops; `imcli accounts list`)" in r.stderr
