"""The command line itself: usage errors, exit codes, the profile, accounts, platforms."""

from __future__ import annotations

import json
import os
import stat
import sys
from pathlib import Path

import pytest

from tests._media import PNG
from tests.conftest import ROOT, TG_TOKEN

# -- basics ---------------------------------------------------------------------------------


def test_version(cli):
    from imcli import __version__

    r = cli("--version")
    assert (r.code, r.stdout) == (0, f"imcli {__version__}\n")


def test_no_arguments_prints_a_short_help(cli):
    r = cli()
    assert r.code == 0
    assert "push" in r.stdout and "accounts" in r.stdout and "platforms" in r.stdout


def test_unknown_flag_is_the_usage_line_and_one_error_line(cli):
    r = cli("push", "text", "-p", "tg", "-u", "1", "--bogus", "x")
    assert r.code == 2
    assert r.stdout == ""
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("Usage: imcli push text")
    assert lines[1].startswith("Error: No such option: --bogus")
    assert "╭" not in r.stderr and "│" not in r.stderr


def test_unknown_platform_is_exit_2_and_prints_0(cli):
    r = cli("push", "text", "-p", "myspace", "-u", "1", "hi")
    assert (r.code, r.stdout) == (2, "0\n")
    assert r.stderr.count("\n") == 1 and "unknown platform 'myspace'" in r.stderr


def test_missing_target_is_exit_2(cli):
    r = cli("push", "text", "-p", "telegram", "hi")
    assert (r.code, r.stdout) == (2, "0\n")
    assert "no target" in r.stderr


def test_nothing_to_send_is_exit_2(cli):
    r = cli("push", "text", "-p", "telegram", "-u", "1", "", tty=True)
    assert (r.code, r.stdout) == (2, "0\n")
    assert "nothing to send" in r.stderr


@pytest.mark.parametrize(
    "args,needle",
    [
        (["push", "text", "-p", "wechat", "-g", "1", "hi"], "wechat: group push is not supported"),
        (["push", "text", "-p", "wecom", "-g", "1", "hi"], "wecom: group push is not supported"),
        (["push", "text", "-p", "discord", "-u", "1", "hi"], "discord: not supported"),
        (["push", "text", "-p", "qqbot", "-g", "1", "hi"], "2025-04-21"),
        (["push", "text", "-p", "dd", "-g", "1", "hi"], "dingtalk: not supported"),
    ],
)
def test_the_matrix_refuses_before_any_request(cli, args, needle):
    r = cli(*args)
    assert (r.code, r.stdout) == (2, "0\n")
    assert needle in r.stderr


def test_wechat_file_push_is_refused_with_the_reason(cli):
    r = cli("push", "file", "-p", "wx", "-u", "openid", "https://example.com/a.pdf")
    assert (r.code, r.stdout) == (2, "0\n")
    assert "no file type" in r.stderr


def test_platform_and_account_of_another_platform_is_exit_2(cli, write_profile):
    write_profile('[accounts.team]\nplatform = "slack"\ntoken = "xoxb-1234567"\n')
    r = cli("push", "text", "-p", "telegram", "-a", "team", "-u", "1", "hi")
    assert (r.code, r.stdout) == (2, "0\n")
    assert "slack account" in r.stderr


def test_no_account_is_exit_3_naming_the_next_command(cli):
    r = cli("push", "text", "-p", "telegram", "-u", "1", "hi")
    assert (r.code, r.stdout) == (3, "0\n")
    assert "imcli accounts add" in r.stderr and "telegram" in r.stderr


def test_unknown_account_is_exit_3(cli, write_profile):
    write_profile(f'[accounts.bot]\nplatform = "telegram"\ntoken = "{TG_TOKEN}"\n')
    r = cli("push", "text", "-a", "nobody", "-u", "1", "hi")
    assert (r.code, r.stdout) == (3, "0\n")
    assert "nobody" in r.stderr


# -- the profile ----------------------------------------------------------------------------


def test_broken_toml_is_exit_3_with_its_line_number(cli, write_profile):
    write_profile('[accounts.bot]\nplatform = "telegram"\ntoken = "abc\n')
    r = cli("push", "text", "-p", "tg", "-u", "1", "hi")
    assert (r.code, r.stdout) == (3, "0\n")
    assert "line 3" in r.stderr
    assert "Traceback" not in r.stderr


def test_unset_variable_is_exit_3_naming_it(cli, write_profile):
    write_profile('[accounts.bot]\nplatform = "telegram"\ntoken = "${NOT_SET_ANYWHERE}"\n')
    r = cli("push", "text", "-p", "tg", "-u", "1", "hi")
    assert (r.code, r.stdout) == (3, "0\n")
    assert "NOT_SET_ANYWHERE" in r.stderr


def test_missing_credential_is_exit_3(cli, write_profile):
    write_profile('[accounts.bot]\nplatform = "telegram"\n')
    r = cli("push", "text", "-p", "tg", "-u", "1", "hi")
    assert (r.code, r.stdout) == (3, "0\n")
    assert "token" in r.stderr


def test_profile_flag_before_and_after_the_subcommand(cli, tmp_path, telegram):
    other = tmp_path / "other.toml"
    other.write_text(
        f'[accounts.x]\nplatform = "telegram"\ntoken = "{TG_TOKEN}"\nbase_url = "{telegram.api_url}"\n'
    )
    other.chmod(0o600)
    assert cli("--profile", str(other), "push", "text", "-p", "tg", "-u", "1", "a").code == 0
    assert cli("push", "text", "-p", "tg", "-u", "1", "b", "--profile", str(other)).code == 0
    r = cli("--profile", str(other), "accounts", "list", "--json")
    assert [a["name"] for a in json.loads(r.stdout)["accounts"]] == ["x"]
    assert len(telegram.sent_messages()) == 2


def test_imcli_profile_variable(cli, tmp_path, monkeypatch, telegram):
    p = tmp_path / "via-env.toml"
    p.write_text(f'[accounts.envp]\nplatform = "telegram"\ntoken = "{TG_TOKEN}"\n')
    monkeypatch.setenv("IMCLI_PROFILE", str(p))
    r = cli("accounts", "list", "--json")
    assert json.loads(r.stdout)["profile"] == str(p)


def test_default_profile_location_is_the_user_config_dir(cli, monkeypatch):
    monkeypatch.delenv("IMCLI_PROFILE")
    from imcli.profile import resolve_path

    assert str(resolve_path()).startswith(os.environ["XDG_CONFIG_HOME"]) or sys.platform == "darwin"
    r = cli("accounts", "add", "b", "-p", "tg", "--set", "token=1:abcdef")
    assert r.code == 0, r.stderr
    assert resolve_path().is_file()


def test_environment_accounts_need_no_profile(cli, monkeypatch, telegram):
    monkeypatch.setenv("IMCLI_TELEGRAM_TOKEN", TG_TOKEN)
    monkeypatch.setenv("IMCLI_TELEGRAM_BASE_URL", telegram.api_url)
    r = cli("push", "text", "-p", "tg", "-u", "1", "hi", "--json")
    assert r.code == 0, r.stderr
    assert json.loads(r.stdout)["targets"][0]["account"] == "env-telegram"
    listing = cli("accounts", "list", "--json")
    [acc] = json.loads(listing.stdout)["accounts"]
    assert acc["name"] == "env-telegram" and acc["source"] == "env" and acc["default"] is True
    assert TG_TOKEN not in listing.stdout


def test_profile_default_wins_over_the_environment_account(
    cli, monkeypatch, write_profile, telegram
):
    write_profile(
        f'[accounts.mine]\nplatform = "telegram"\ntoken = "{TG_TOKEN}"\n'
        f'base_url = "{telegram.api_url}"\ndefault = true\n'
    )
    monkeypatch.setenv("IMCLI_TELEGRAM_TOKEN", "1:other-token-value")
    r = cli("push", "text", "-p", "tg", "-u", "1", "hi", "--json")
    assert json.loads(r.stdout)["targets"][0]["account"] == "mine"


def test_two_defaults_for_one_platform_is_a_config_error(cli, write_profile):
    write_profile(
        '[accounts.a]\nplatform = "telegram"\ntoken = "1:aaaa"\ndefault = true\n'
        '[accounts.b]\nplatform = "tg"\ntoken = "1:bbbb"\ndefault = true\n'
    )
    r = cli("push", "text", "-p", "tg", "-u", "1", "hi")
    assert r.code == 3 and "default" in r.stderr


def test_readable_profile_holding_a_secret_gets_a_warning(cli, write_profile):
    write_profile('[accounts.a]\nplatform = "telegram"\ntoken = "1:literal-secret"\n', mode=0o644)
    r = cli("accounts", "list")
    assert "chmod 600" in r.stderr
    assert "literal-secret" not in r.output


def test_no_warning_when_secrets_are_references(cli, write_profile):
    write_profile('[accounts.a]\nplatform = "telegram"\ntoken = "${TG}"\n', mode=0o644)
    assert "chmod" not in cli("accounts", "list").stderr


# -- accounts add / remove / default -----------------------------------------------------------


def test_accounts_add_appends_without_touching_other_bytes(cli, write_profile, profile_path):
    original = '# my accounts\n[settings]\ntimeout = 20000   # ms\n\n[accounts.old]\nplatform = "slack"\ntoken = "${SLACK}"\n'
    write_profile(original)
    r = cli("accounts", "add", "ops", "--platform", "telegram", "--set", "token=${TG_TOKEN}",
            "--set", "base_url=http://127.0.0.1:1", "--default")  # fmt: skip
    assert r.code == 0, r.stderr
    text = profile_path.read_text()
    assert text.startswith(original)
    assert "[accounts.ops]" in text and 'token = "${TG_TOKEN}"' in text and "default = true" in text
    assert stat.S_IMODE(profile_path.stat().st_mode) == 0o600


def test_accounts_add_reads_a_secret_from_stdin(cli, profile_path):
    r = cli("accounts", "add", "bot", "-p", "tg", "--set", "token=-", input="1:from-stdin-secret\n")
    assert r.code == 0, r.stderr
    assert 'token = "1:from-stdin-secret"' in profile_path.read_text()
    assert "from-stdin-secret" not in r.output
    listing = cli("accounts", "list")
    assert "from-stdin-secret" not in listing.output and "***" in listing.stdout


def test_accounts_add_without_required_field_and_no_terminal_is_exit_2(cli, profile_path):
    r = cli("accounts", "add", "bot", "-p", "tg")
    assert r.code == 2 and "--set token=" in r.stderr
    assert not profile_path.exists()


def test_accounts_add_prompts_for_secrets_on_a_terminal(cli, profile_path, monkeypatch):
    import typer

    asked = []

    def fake_prompt(text, hide_input=False, **kw):
        asked.append((text, hide_input))
        return "1:typed-secret"

    monkeypatch.setattr(typer, "prompt", fake_prompt)
    r = cli("accounts", "add", "bot", "-p", "tg", tty=True)
    assert r.code == 0, r.stderr
    assert asked and asked[0][1] is True
    assert 'token = "1:typed-secret"' in profile_path.read_text()


def test_accounts_add_refuses_unknown_fields_and_duplicates(cli, write_profile):
    write_profile('[accounts.a]\nplatform = "telegram"\ntoken = "1:aaaa"\n')
    r = cli("accounts", "add", "b", "-p", "tg", "--set", "tokn=1")
    assert r.code == 2 and "tokn" in r.stderr
    r = cli("accounts", "add", "a", "-p", "tg", "--set", "token=1:x")
    assert r.code == 2 and "already exists" in r.stderr
    r = cli("accounts", "add", "c", "-p", "discord", "--set", "token=1")
    assert r.code == 2


def test_remove_and_default_rewrite_and_keep_a_backup(cli, write_profile, profile_path):
    write_profile(
        '[accounts.a]\nplatform = "telegram"\ntoken = "${A}"\ndefault = true\n\n'
        '[accounts.b]\nplatform = "telegram"\ntoken = "${B}"\n\n'
        '[accounts.c]\nplatform = "slack"\ntoken = "${C}"\n'
    )
    before = profile_path.read_text()
    assert cli("accounts", "default", "b").code == 0
    bak = Path(str(profile_path) + ".bak")
    assert bak.read_text() == before
    listing = json.loads(cli("accounts", "list", "--json").stdout)["accounts"]
    assert {a["name"]: a["default"] for a in listing} == {"a": False, "b": True, "c": False}
    assert "${B}" in profile_path.read_text()  # references are written back as they were
    assert cli("accounts", "remove", "a").code == 0
    names = [a["name"] for a in json.loads(cli("accounts", "list", "--json").stdout)["accounts"]]
    assert names == ["b", "c"]
    assert stat.S_IMODE(profile_path.stat().st_mode) == 0o600
    r = cli("accounts", "remove", "zzz")
    assert r.code == 2 and "zzz" in r.stderr


def test_accounts_add_with_default_moves_the_default(cli, write_profile, profile_path):
    write_profile('[accounts.a]\nplatform = "telegram"\ntoken = "${A}"\ndefault = true\n')
    r = cli("accounts", "add", "b", "-p", "tg", "--set", "token=${B}", "--default")
    assert r.code == 0, r.stderr
    listing = json.loads(cli("accounts", "list", "--json").stdout)["accounts"]
    assert {a["name"]: a["default"] for a in listing} == {"a": False, "b": True}


def test_accounts_test_without_accounts_is_exit_3(cli):
    r = cli("accounts", "test")
    assert r.code == 3 and "accounts add" in r.stderr


# -- platforms --------------------------------------------------------------------------------


def test_platforms_table_and_json(cli):
    r = cli("platforms")
    assert r.code == 0
    for name in (
        "telegram",
        "wechat",
        "qq",
        "lark",
        "slack",
        "wecom",
        "qqbot",
        "discord",
        "dingtalk",
    ):
        assert name in r.stdout
    rows = {row["platform"]: row for row in json.loads(cli("platforms", "--json").stdout)}
    assert rows["telegram"]["kinds"] == dict.fromkeys(
        ("text", "image", "voice", "video", "file", "mixed"), True
    )
    assert rows["telegram"]["aliases"] == ["tg"]
    assert rows["discord"]["supported"] is False and "replies" in rows["discord"]["reason"]
    assert rows["wechat"]["group"] is None


def test_platforms_json_never_claims_a_kind_the_code_cannot_send():
    from imcli import platforms
    from imcli.models import KINDS

    for spec in platforms.all_specs():
        row = spec.matrix_row()
        if any(row["kinds"][k] for k in KINDS):
            cls = platforms.adapter_class(spec)  # importable, so the claim is backed by code
            assert cls.spec is spec


def test_readme_support_matrix_matches_the_code():
    from imcli.cli.platforms_cmd import markdown_table

    readme = (ROOT / "README.md").read_text()
    assert markdown_table() in readme, "regenerate it: python tools/update-readme-matrix.py"


# -- the Python API ---------------------------------------------------------------------------


def test_python_api_returns_the_count_and_raises_with_the_reason(tg_profile, telegram):
    import imcli

    assert imcli.push("telegram", "", "55", "Title", "body") == 1
    assert imcli.pushImage is imcli.push_image
    telegram.unknown_chats.add("66")
    with pytest.raises(imcli.PlatformError) as info:
        imcli.push("tg", "", "66", "", "hello")
    assert "chat not found" in str(info.value)
    with pytest.raises(imcli.UsageError):
        imcli.push("telegram", "", "", "", "no target")
    with pytest.raises(imcli.ConfigError):
        imcli.push("tg", "", "1", "", "x", options={"accountId": "ghost"})
    assert [m.fields["text"] for m in telegram.sent_messages()] == ["<b>Title</b>\nbody"]


def test_python_api_profile_option_chooses_the_profile_and_is_not_sent(
    write_profile, telegram, tmp_path, monkeypatch
):
    import imcli

    other = tmp_path / "other.toml"
    other.write_text(
        f'[accounts.elsewhere]\nplatform = "telegram"\ntoken = "{TG_TOKEN}"\n'
        f'base_url = "{telegram.api_url}"\n'
    )
    other.chmod(0o600)
    write_profile("")  # the default profile ($IMCLI_PROFILE) has no account
    assert imcli.push("tg", "", "55", "", "hi", options={"profile": str(other)}) == 1
    [sent] = telegram.sent_messages()
    assert "profile" not in sent.fields  # imcli's own option, not a sendMessage field
    with pytest.raises(imcli.ConfigError):
        imcli.push("tg", "", "55", "", "hi")  # without it: the empty default profile


def test_python_api_media_and_mixed(tg_profile, telegram, tmp_path):
    import imcli

    img = tmp_path / "a.png"
    img.write_bytes(PNG)
    assert imcli.push_image("tg", "-100", "", "cap", str(img)) == 1
    assert imcli.pushMixed("tg", "", "7", "", [{"type": "text", "text": "hi"}]) == 1
    methods = [m.method for m in telegram.sent_messages()]
    assert methods == ["sendPhoto", "sendMessage"]


# -- real processes ----------------------------------------------------------------------------


def test_real_process_push_and_exit_status(cli_proc, tg_profile, telegram):
    r = cli_proc("push", "text", "-p", "telegram", "-u", "12", "from a process")
    assert (r.code, r.stdout, r.stderr) == (0, "1\n", "")
    assert telegram.sent_messages()[0].fields["text"] == "from a process"


def test_light_commands_do_not_import_the_http_stack():
    """Nor the text renderer and packer (imcli.markup): reading the platform specs
    imports every platform module, which imports markup only to send."""
    import subprocess

    code = (
        "import sys, runpy\n"
        "sys.argv = ['imcli'] + sys.argv[1:]\n"
        "try:\n    runpy.run_module('imcli', run_name='__main__')\n"
        "except SystemExit:\n    pass\n"
        "bad = [m for m in ('httpx', 'httpcore', 'ssl', 'imcli.markup') if m in sys.modules]\n"
        "print('LOADED', bad, file=sys.stderr)\n"
    )
    for args in (["--version"], ["platforms"], ["platforms", "--json"], ["--help"]):
        proc = subprocess.run(
            [sys.executable, "-c", code, *args], capture_output=True, text=True, cwd=str(ROOT)
        )
        assert "LOADED []" in proc.stderr, (args, proc.stderr[-500:])


@pytest.mark.parametrize("signame,status", [("SIGTERM", 143), ("SIGINT", 130)])
def test_signals_stop_promptly_and_print_the_count(tg_profile, telegram, signame, status):
    import signal
    import subprocess
    import time

    telegram.latency = 5
    proc = subprocess.Popen(
        [sys.executable, "-m", "imcli", "push", "text", "-p", "tg", "-u", "1", "slow"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=str(ROOT),
    )  # fmt: skip
    deadline = time.monotonic() + 10
    while not telegram.requests and time.monotonic() < deadline:
        time.sleep(0.05)
    t0 = time.monotonic()
    proc.send_signal(getattr(signal, signame))
    out, err = proc.communicate(timeout=10)
    assert time.monotonic() - t0 < 3  # promptly: the answer would take 5 s
    assert proc.returncode == status
    assert out == "0\n"
    assert "interrupted" in err


def test_an_unsupported_url_scheme_is_named(cli, tg_profile, telegram):
    r = cli("push", "image", "-p", "tg", "-u", "1", "ftp://files.example/chart.png")
    assert (r.code, r.stdout) == (2, "0\n")
    assert r.stderr == (
        "imcli: image: ftp://files.example/chart.png: ftp:// is not supported; give an "
        "http(s):// URL, a path, file://, base64://, data: or - for stdin\n"
    )
    assert telegram.requests == []
