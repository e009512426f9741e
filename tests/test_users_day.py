"""A user's day: piped text with a title, editing accounts, configuration mistakes caught
early, readable output. The CLI runs against the fake servers (in process, or as a real
process where a terminal or a pipe matters)."""

from __future__ import annotations

import json
import os
import stat
import sys
from pathlib import Path

import pytest

from tests._media import PNG
from tests._pty import Terminal
from tests.conftest import ROOT, TG_TOKEN
from tests.fakes.base import Recorded, Reply
from tests.fakes.filehost import FileHost

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


def texts(telegram) -> list[str]:
    return [m.fields["text"] for m in telegram.sent_messages() if m.method == "sendMessage"]


# -- stdin -----------------------------------------------------------------------------------


def test_piped_stdin_is_sent_with_the_title(cli, tg_profile, telegram):
    table = "Filesystem  Size\n/dev/sda1   100G\n"
    r = cli("push", "text", "-p", "tg", "-u", "1", "-t", "Disk", input=table)
    assert (r.code, r.stdout) == (0, "1\n"), r.stderr
    [text] = texts(telegram)
    assert text.startswith("<b>Disk</b>\n") and "/dev/sda1   100G" in text


def test_empty_stdin_with_a_title_sends_the_title_alone(cli, tg_profile, telegram):
    r = cli("push", "text", "-p", "tg", "-u", "1", "-t", "Disk", input="")
    assert (r.code, r.stdout) == (0, "1\n"), r.stderr
    assert texts(telegram) == ["Disk"]


def test_content_on_the_command_line_wins_over_piped_stdin(cli, tg_profile, telegram):
    r = cli("push", "text", "-p", "tg", "-u", "1", "-t", "T", "line one", input="piped\n")
    assert r.code == 0, r.stderr
    assert texts(telegram) == ["<b>T</b>\nline one"]


def test_stdin_is_read_by_a_real_process_with_a_title(cli_proc, tg_profile, telegram):
    r = cli_proc("push", "text", "-p", "tg", "-u", "1", "-t", "Disk", input="df output\n")
    assert (r.code, r.stdout) == (0, "1\n"), r.stderr
    assert texts(telegram) == ["<b>Disk</b>\ndf output"]


# -- media checks ------------------------------------------------------------------------------


def test_a_404_url_is_exit_2_one_line_one_get_for_three_targets(cli, tg_profile, telegram):
    with FileHost() as host:
        r = cli("push", "image", "-p", "tg", "-u", "1", "-u", "2", "-u", "3",
                f"{host.url}/missing.png")  # fmt: skip
        gets = host.calls("/missing.png")
    assert (r.code, r.stdout) == (2, "0\n")
    assert len(r.stderr.strip().splitlines()) == 1 and "404" in r.stderr
    assert len(gets) == 1
    assert telegram.sent_messages() == []


class HtmlHost(FileHost):
    """A web server's directory listing where an image was expected."""

    def handle(self, req: Recorded) -> Reply:
        page = b"<!DOCTYPE html><html><head><title>Index of /</title></head><body></body></html>"
        return Reply(200, body=page, headers={"Content-Type": "text/html"})


def test_an_html_page_as_an_image_is_refused_before_any_send(cli, tg_profile, telegram):
    with HtmlHost() as host:
        r = cli("push", "image", "-p", "tg", "-u", "1", "-u", "2", f"{host.url}/")
        gets = host.calls()
    assert (r.code, r.stdout) == (2, "0\n")
    assert "HTML page" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert len(gets) == 1 and telegram.sent_messages() == []


def test_a_csv_as_an_image_is_refused(cli, tg_profile, telegram, tmp_path):
    csv = tmp_path / "report.csv"
    csv.write_text("host,disk\nweb1,93%\n")
    r = cli("push", "image", "-p", "tg", "-u", "1", str(csv))
    assert (r.code, r.stdout) == (2, "0\n")
    assert "report.csv is text, not an image" in r.stderr
    png = tmp_path / "chart.png"
    png.write_bytes(PNG)
    assert cli("push", "image", "-p", "tg", "-u", "1", str(png)).code == 0
    assert cli("push", "file", "-p", "tg", "-u", "1", str(csv)).code == 0  # a file is anything


def test_mime_must_look_like_type_slash_subtype(cli, tg_profile, telegram, tmp_path):
    png = tmp_path / "chart.png"
    png.write_bytes(PNG)
    r = cli("push", "image", "-p", "tg", "-u", "1", str(png), "--mime", "not a mime")
    assert (r.code, r.stdout) == (2, "0\n")
    assert "--mime 'not a mime'" in r.stderr
    assert telegram.sent_messages() == []
    r = cli("push", "image", "-p", "tg", "-u", "1", str(png), "--mime", "image/png")
    assert r.code == 0, r.stderr


# -- configuration mistakes caught at accounts add / set -------------------------------------------


@pytest.mark.parametrize(
    "pair, says",
    [
        ("base_url=127.0.0.1:18081", "must be a URL starting with http:// or https://"),
        ("base_url=ftp://example.com", "must be a URL starting with http:// or https://"),
        ("local_server=true", "local_server = true needs base_url"),
        ("token=$TELEGRAM_BOT_TOKEN", "'${TELEGRAM_BOT_TOKEN}'"),
    ],
)
def test_accounts_add_refuses_what_a_push_would_refuse_later(cli, profile_path, pair, says):
    args = ["accounts", "add", "bot", "-p", "tg", "--set", pair]
    if not pair.startswith("token"):
        args += ["--set", "token=1:abcdefgh"]
    r = cli(*args)
    assert r.code == 2 and says in r.stderr, r.stderr
    assert not profile_path.exists()


def test_local_server_without_base_url_fails_the_push_not_a_60mb_upload(
    cli, write_profile, telegram, tmp_path
):
    write_profile(
        f'[accounts.a]\nplatform = "telegram"\ntoken = "{TG_TOKEN}"\nlocal_server = true\n'
    )
    r = cli("push", "text", "-p", "tg", "-u", "1", "hi")
    assert r.code == 3 and "local_server = true needs base_url" in r.stderr


def test_var_with_a_default_and_set_but_empty_var(cli, write_profile, telegram, monkeypatch):
    write_profile(
        f'[accounts.a]\nplatform = "telegram"\ntoken = "${{TG_TOK:-{TG_TOKEN}}}"\n'
        f'base_url = "{telegram.api_url}"\n'
    )
    monkeypatch.delenv("TG_TOK", raising=False)
    assert cli("push", "text", "-p", "tg", "-u", "1", "hi").code == 0
    monkeypatch.setenv("TG_TOK", "")  # what CI gives for an unavailable secret: the default
    assert cli("push", "text", "-p", "tg", "-u", "1", "hi").code == 0
    write_profile(
        f'[accounts.a]\nplatform = "telegram"\ntoken = "${{TG_TOK}}"\nbase_url = "{telegram.api_url}"\n'
    )
    r = cli("push", "text", "-p", "tg", "-u", "1", "hi")
    assert (r.code, r.stdout) == (3, "0\n")
    assert "${TG_TOK} is set but empty" in r.stderr and "has no token" not in r.stderr


def test_surrounding_whitespace_is_stripped_from_the_profiles_credentials_and_ids(
    cli, write_profile, telegram, monkeypatch
):
    monkeypatch.setenv("TG_TOK", TG_TOKEN + "\n")  # $(cat token.txt)
    write_profile(
        f'[accounts.a]\nplatform = "telegram"\ntoken = "${{TG_TOK}}"\n'
        f'base_url = "{telegram.api_url}  "\n'
    )
    r = cli("push", "text", "-p", "tg", "-u", "42", "hi")
    assert (r.code, r.stdout) == (0, "1\n"), r.stderr
    assert telegram.sent_messages()[0].chat_id == 42
    r = cli("accounts", "add", "b", "-p", "tg", "--set", f"token= {TG_TOKEN} ")
    assert r.code == 0
    assert (
        tomllib.loads(Path(os.environ["IMCLI_PROFILE"]).read_text())["accounts"]["b"]["token"]
        == TG_TOKEN
    )


def test_unknown_keys_tables_and_variables_warn_with_did_you_mean(
    cli, write_profile, telegram, monkeypatch
):
    write_profile(
        "[settings]\ntimout = 3000\n\n"
        f'[accounts.a]\nplatform = "telegram"\ntoken = "{TG_TOKEN}"\n'
        f'base_url = "{telegram.api_url}"\nbaseurl = "x"\n\n'
        '[account.b]\nplatform = "slack"\n'
    )
    monkeypatch.setenv("IMCLI_TELEGRAM_TOKN", "x")
    r = cli("push", "text", "-p", "tg", "-u", "1", "hi")
    assert (r.code, r.stdout) == (0, "1\n")  # warnings never fail a push
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 4, lines
    assert any("'timout'" in x and "did you mean 'timeout'" in x for x in lines)
    assert any("'baseurl'" in x and "did you mean 'base_url'" in x for x in lines)
    assert any("[account]" in x and "did you mean 'accounts'" in x for x in lines)
    assert any("IMCLI_TELEGRAM_TOKN" in x and "'IMCLI_TELEGRAM_TOKEN'" in x for x in lines)


def test_an_unknown_platform_gets_did_you_mean(cli):
    r = cli("push", "text", "-p", "telegarm", "-u", "1", "hi")
    assert r.code == 2 and "did you mean 'telegram'" in r.stderr


# -- accounts set / show / remove / list --------------------------------------------------------


def test_accounts_set_changes_fields_with_the_same_rules_and_keeps_a_bak(
    cli, write_profile, telegram, profile_path
):
    write_profile(f'[accounts.a]\nplatform = "telegram"\ntoken = "{TG_TOKEN}"\n')
    r = cli("accounts", "set", "a", f"base_url={telegram.api_url}", "rate=5")
    assert r.code == 0, r.stderr
    table = tomllib.loads(profile_path.read_text())["accounts"]["a"]
    assert table["base_url"] == telegram.api_url and table["rate"] == 5.0
    assert Path(str(profile_path) + ".bak").exists()
    assert stat.S_IMODE(profile_path.stat().st_mode) == 0o600
    assert cli("push", "text", "-p", "tg", "-u", "1", "hi").code == 0
    before = profile_path.read_bytes()
    for bad, says in (
        ("base_url=127.0.0.1:1", "http://"),
        ("token=$TOKEN", "'${TOKEN}'"),
        ("baseurl=x", "did you mean 'base_url'"),
    ):
        r = cli("accounts", "set", "a", bad)
        assert r.code == 2 and says in r.stderr, r.stderr
    assert profile_path.read_bytes() == before
    r = cli("accounts", "set", "a", "rate=")  # an empty value removes an optional field
    assert r.code == 0 and "rate" not in tomllib.loads(profile_path.read_text())["accounts"]["a"]


def test_accounts_show_prints_one_account_with_secrets_masked(cli, write_profile):
    write_profile(
        '[accounts.a]\nplatform = "telegram"\ntoken = "1:very-secret-token"\n'
        'proxy = "http://u:proxy-password@127.0.0.1:1"\n'
    )
    r = cli("accounts", "show", "a")
    assert r.code == 0, r.stderr
    assert "[accounts.a]" in r.stdout and 'token = "***"' in r.stdout
    assert "very-secret" not in r.output and "proxy-password" not in r.output
    shown = json.loads(cli("accounts", "show", "a", "--json").stdout)
    assert shown["fields"]["token"] == "***" and shown["used"] is True
    assert cli("accounts", "show", "nope").code == 2


def test_removing_an_environment_account_says_how(cli, monkeypatch):
    monkeypatch.setenv("IMCLI_SLACK_TOKEN", "xoxb-env-token-1234")
    assert "env-slack" in cli("accounts", "list").stdout
    r = cli("accounts", "remove", "env-slack")
    assert r.code == 2
    assert "unsetting" in r.stderr and "IMCLI_SLACK_" in r.stderr
    assert "no account named" not in r.stderr


def test_accounts_list_marks_the_account_a_push_uses_when_none_is_default(cli, write_profile):
    write_profile(
        '[accounts.a]\nplatform = "telegram"\ntoken = "1:aaaaaaaa"\n'
        '[accounts.b]\nplatform = "telegram"\ntoken = "1:bbbbbbbb"\n'
    )
    r = cli("accounts", "list")
    rows = {line.split()[0]: line for line in r.stdout.splitlines()[1:3]}
    assert "(first)" in rows["a"] and "(first)" not in rows["b"]
    listing = json.loads(cli("accounts", "list", "--json").stdout)["accounts"]
    assert [a["used"] for a in listing] == [True, False]


# -- flags -------------------------------------------------------------------------------------


def test_platform_may_be_left_out_when_all_accounts_are_of_one_platform(
    cli, tg_profile, telegram, monkeypatch
):
    r = cli("push", "text", "-u", "1", "hi")
    assert (r.code, r.stdout) == (0, "1\n"), r.stderr
    monkeypatch.setenv("IMCLI_TELEGRAM_TOKEN", TG_TOKEN)  # still one platform
    assert cli("push", "text", "-u", "1", "hi").code == 0
    monkeypatch.setenv("IMCLI_SLACK_TOKEN", "xoxb-1234-abcd")
    r = cli("push", "text", "-u", "1", "hi")
    assert r.code == 2 and "-p/--platform" in r.stderr and "slack" in r.stderr


@pytest.mark.parametrize("given", ["5s", "500ms", "2m", "5000", "1.5s"])
def test_timeout_takes_durations(cli_proc, tg_profile, telegram, given):
    r = cli_proc("push", "text", "-p", "tg", "-u", "1", "--timeout", given, "--dry-run", "--json",
                 "hi")  # fmt: skip
    assert r.code == 0, r.stderr


def test_accounts_test_takes_a_duration_too(cli, tg_profile, telegram):
    r = cli("accounts", "test", "--timeout", "5s", "-vv")
    assert r.code == 0 and "online" in r.stdout, r.stderr
    assert "response body:" in r.stderr and TG_TOKEN not in r.stderr


def test_timeout_refuses_what_is_no_duration(cli, tg_profile):
    r = cli("push", "text", "-p", "tg", "-u", "1", "--timeout", "5h", "hi")
    assert r.code == 2 and "--timeout" in r.stderr and "5s" in r.stderr


def test_quiet_drops_the_failed_target_lines(cli, tg_profile, telegram):
    telegram.queue("sendMessage", telegram.error(400, "Bad Request: chat not found"))
    r = cli("push", "text", "-p", "tg", "-u", "1", "-q", "hi")
    assert (r.code, r.stdout, r.stderr) == (1, "0\n", "")


def test_vv_logs_bodies_masked(cli, tg_profile, telegram):
    long = "x" * 5000
    r = cli("push", "text", "-p", "tg", "-u", "1", "-vv", long)
    assert r.code == 0, r.stderr
    assert "request body:" in r.stderr and "response body:" in r.stderr
    assert '"ok": true' in r.stderr or '"ok":true' in r.stderr
    assert TG_TOKEN not in r.stderr
    longest = max(len(line) for line in r.stderr.splitlines())
    assert longest < 2200  # cut after masking
    one = cli("push", "text", "-p", "tg", "-u", "1", "-v", "hi")
    assert "request body" not in one.stderr and "sendMessage" in one.stderr


def test_vv_masks_tokens_a_platform_hands_out(cli, write_profile):
    from tests.fakes.lark import FakeLark

    with FakeLark() as lark:
        write_profile(
            f'[accounts.f]\nplatform = "lark"\napp_id = "{lark.app_id}"\n'
            f'app_secret = "{lark.app_secret}"\nbase_url = "{lark.url}"\n'
        )
        r = cli("push", "text", "-p", "lark", "-u", "oc_1", "-vv", "hi")
    assert "response body" in r.stderr and "tenant_access_token" in r.stderr


# -- output on a terminal and in a pipe ---------------------------------------------------------


def _term(args: list[str], columns: int = 80) -> Terminal:
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    env.update(TERM="dumb", PYTHONPATH=str(ROOT), COLUMNS=str(columns), LINES="40")
    return Terminal([sys.executable, "-m", "imcli", *args], env, cwd=str(ROOT))


def test_a_push_on_a_terminal_prints_one_line_per_target(tg_profile, telegram):
    telegram.queue("sendMessage", telegram.error(400, "Bad Request: chat not found"))
    term = _term(["push", "text", "-p", "tg", "-u", "1", "-u", "2", "hi"])
    try:
        assert term.wait() == 1
    finally:
        term.close()
    out = term.plain(term.output)
    assert "✓ telegram user:" in out and "(ops-bot)" in out
    assert "✗ telegram user:" in out and "chat not found" in out


def test_in_a_pipe_there_are_no_check_marks(cli_proc, tg_profile, telegram):
    r = cli_proc("push", "text", "-p", "tg", "-u", "1", "hi")
    assert (r.code, r.stdout, r.stderr) == (0, "1\n", "")


def test_platforms_is_readable_at_80_columns(cli_proc):
    term = _term(["platforms"], columns=80)
    try:
        assert term.wait() == 0
    finally:
        term.close()
    out = term.plain(term.output)
    lines = out.splitlines()
    assert max(len(line) for line in lines) <= 80
    header = lines[0].split()
    assert header == ["platform", "aliases", "--user", "--group", "text", "image", "voice",
                      "video", "file", "mixed"]  # fmt: skip
    assert not any(("┃" in line or "--gro…" in line or "--use…" in line) for line in lines)
    # the long reasons wrap below the table, whole
    flat = " ".join(out.split())
    assert "the official QQ bot API has allowed no proactive messages since 2025-04-21" in flat
    assert "group/channel chat_id or @channelname" in flat


def test_tables_in_a_pipe_are_plain_text(cli_proc, write_profile):
    write_profile('[accounts.a]\nplatform = "telegram"\ntoken = "1:aaaaaaaa"\n')
    for args in (("platforms",), ("accounts", "list")):
        r = cli_proc(*args)
        assert r.code == 0
        assert not any(c in r.stdout for c in "┃│┏━└─\x1b"), r.stdout


def test_accounts_help_does_not_cut_descriptions(cli_proc):
    r = cli_proc("accounts", "--help", env={"COLUMNS": "80"})
    commands = r.stdout.split("Commands:")[1]
    assert r.code == 0 and "..." not in commands
    flat = " ".join(commands.split())
    assert "List accounts (secrets masked), the profile's first, then the environment's." in flat


# -- the walk-through ---------------------------------------------------------------------------


def test_walk_through_gives_the_reason_for_discord_asks_base_url_first_and_offers_test(
    profile_path, telegram
):
    term = _term(["accounts", "add"], columns=200)
    try:
        term.expect("Platform (")
        term.send("discord\n")
        assert "the bot only replies" in term.expect("Platform (")
        term.send("tg\n")
        term.expect("Account name")
        term.send("\n")
        term.expect("token - bot token")
        term.settle(0.3)
        term.send(TG_TOKEN + "\n")
        shown = term.expect("base_url")
        assert "local_server" not in shown
        term.send(telegram.api_url + "\n")
        term.expect("local_server")
        term.send("\n")
        term.expect("proxy")
        term.send("\n")
        term.expect("rate")
        term.send("\n")
        term.expect("default telegram account?")
        term.send("y\n")
        term.expect("Test it now")
        term.send("y\n")
        assert term.wait() == 0
    finally:
        term.close()
    out = term.plain(term.output)
    assert "online" in out
    assert tomllib.loads(profile_path.read_text())["accounts"]["telegram"]["default"] is True
