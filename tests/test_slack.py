"""Slack end to end: the CLI against the fake Web API on 127.0.0.1."""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests._media import PNG
from tests.conftest import assert_swept
from tests.fakes.base import Reply
from tests.fakes.filehost import FileHost
from tests.fakes.slack import FakeSlack

TOKEN = "xoxb-1111-2222-TESTslacktoken"


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack(tokens=[TOKEN], unknown_channels=["C0GONE"], unknown_users=["U0NOBODY"]) as s:
        yield s  # type: ignore[misc]


@pytest.fixture
def profile(account_profile: Any, slack: FakeSlack) -> Path:
    return account_profile("slack", "team", token=TOKEN, base_url=slack.url)


def methods(slack: FakeSlack) -> list[str]:
    return [r.path.strip("/") for r in slack.requests]


# -- text ----------------------------------------------------------------------------------


def test_text_to_a_channel_is_escaped_and_counted(cli, profile, slack):
    r = cli("push", "text", "-p", "slack", "-g", "C0123", "a < b && c > d <!channel>")
    assert (r.code, r.stdout, r.stderr) == (0, "1\n", "")
    [m] = slack.posted_messages()
    assert m.channel == "C0123" and m.blocks is None
    assert m.text == "a &lt; b &amp;&amp; c &gt; d &lt;!channel&gt;"
    [call] = slack.calls("chat.postMessage")
    assert call.headers["authorization"] == f"Bearer {TOKEN}"
    assert call.content_type == "application/json; charset=utf-8"
    assert "warning" not in json.dumps(call.json)


def test_title_is_a_header_block_and_the_fallback_carries_both(cli, profile, slack):
    r = cli("push", "text", "-p", "slack", "-g", "C0123", "-t", "Backup <ok>", "all 3 & done")
    assert r.code == 0, r.stderr
    [m] = slack.posted_messages()
    assert m.blocks == [
        {"type": "header", "text": {"type": "plain_text", "text": "Backup <ok>", "emoji": True}},
        {"type": "section", "text": {"type": "plain_text", "text": "all 3 &amp; done"}},
    ]
    assert m.text == "Backup &lt;ok&gt;\n\nall 3 &amp; done"


LOG_LINE = "build *release* failed in _deploy_ step ~3~, see `make all`"


def test_plain_text_arrives_as_typed_without_mrkdwn(cli, profile, slack):
    r = cli("push", "text", "-p", "slack", "-g", "C0123", LOG_LINE)
    assert r.code == 0, r.stderr
    [m] = slack.posted_messages()
    assert m.params["mrkdwn"] is False and m.formatted() == []


def test_plain_text_with_a_title_is_in_plain_text_sections(cli, profile, slack):
    r = cli("push", "text", "-p", "slack", "-g", "C0123", "-t", "x" * 200, LOG_LINE)
    assert r.code == 0, r.stderr
    [m] = slack.posted_messages()
    assert m.blocks is not None and m.formatted() == []
    assert [b["text"]["type"] for b in m.blocks] == ["plain_text", "plain_text"]
    assert m.blocks[1]["text"]["text"] == LOG_LINE


def test_markdown_text_is_formatted(cli, profile, slack):
    r = cli("push", "text", "-p", "slack", "-g", "C0123", "-t", "T", "--markdown", "**bold**")
    assert r.code == 0, r.stderr
    [m] = slack.posted_messages()
    assert m.formatted() == ["*bold*"] and "mrkdwn" not in m.params


def test_title_alone_is_the_text(cli, profile, slack):
    assert cli("push", "text", "-p", "slack", "-g", "C0123", "-t", "only title").code == 0
    [m] = slack.posted_messages()
    assert (m.text, m.blocks) == ("only title", None)


def test_markdown_becomes_slack_mrkdwn(cli, profile, slack):
    md = "**done** in _5 s_ & see [logs](https://example.com/a?b=1&c=2)\n\n- `x < 1`\n- two"
    r = cli("push", "text", "-p", "slack", "-g", "C0123", "--markdown", md)
    assert r.code == 0, r.stderr
    text = slack.posted_messages()[0].text
    assert "*done*" in text and "_5 s_" in text and "&amp; see" in text
    assert "<https://example.com/a?b=1&amp;c=2|logs>" in text
    assert "• `x &lt; 1`" in text and "• two" in text


def test_long_text_is_split_into_messages_of_at_most_40000_characters(cli, profile, slack):
    lines = [f"line {i:05d} " + "x" * 90 for i in range(900)]  # ~90k characters
    r = cli("push", "text", "-p", "slack", "-g", "C0123", "--json", "\n".join(lines))
    assert r.code == 0, r.stderr
    texts = [m.text for m in slack.posted_messages()]
    assert len(texts) == 3
    assert all(len(t) <= 40_000 for t in texts)
    assert "\n".join(texts).split("\n") == lines
    assert len(json.loads(r.stdout)["targets"][0]["message_ids"]) == 3


def test_long_text_with_title_keeps_every_block_within_3000(cli, profile, slack):
    lines = [f"row {i:04d} " + "y" * 70 for i in range(150)]  # ~12k characters
    r = cli("push", "text", "-p", "slack", "-g", "C0123", "-t", "Report", "\n".join(lines))
    assert r.code == 0, r.stderr
    [m] = slack.posted_messages()
    assert m.blocks[0]["type"] == "header"
    sections = [b["text"]["text"] for b in m.blocks[1:]]
    assert len(sections) >= 4 and all(len(s) <= 3000 for s in sections)
    assert "\n".join(sections).split("\n") == lines
    assert m.text.startswith("Report\n\n") and len(m.text) <= 40_000


# -- targets -------------------------------------------------------------------------------


def test_user_id_is_opened_as_a_dm_once_per_push(cli, profile, slack, tmp_path):
    f = tmp_path / "notes.txt"
    f.write_text("hello")
    r = cli(
        "push", "mixed", "-p", "slack", "-u", "U0ALICE", "--item", "text=hi", "--item", f"file={f}"
    )
    assert (r.code, r.stdout) == (0, "1\n"), r.stderr
    opens = slack.calls("conversations.open")
    assert len(opens) == 1 and opens[0].form == {"users": "U0ALICE"}
    dm = slack.dm_channel("U0ALICE")
    assert slack.posted_messages()[0].channel == dm
    [upload] = slack.uploaded_files().values()
    assert upload.channel == dm


def test_dm_and_group_channel_ids_are_used_as_they_are(cli, profile, slack):
    r = cli("push", "text", "-p", "slack", "-u", "D0DIRECT1", "-g", "G0PRIV", "hi")
    assert (r.code, r.stdout) == (0, "2\n"), r.stderr
    assert sorted(m.channel for m in slack.posted_messages()) == ["D0DIRECT1", "G0PRIV"]
    assert slack.calls("conversations.open") == []


def test_unknown_user_fails_that_target(cli, profile, slack):
    r = cli("push", "text", "-p", "slack", "-u", "U0NOBODY", "-u", "U0BOB", "hi")
    assert (r.code, r.stdout) == (1, "1\n")
    assert r.stderr == "slack user:U0NOBODY: user_not_found\n"


def test_text_without_im_write_scope_posts_to_the_user_id(cli, profile, slack):
    slack.queue("conversations.open", FakeSlack.error("missing_scope", needed="im:write"))
    r = cli("push", "text", "-p", "slack", "-u", "U0ALICE", "hi")
    assert (r.code, r.stdout) == (0, "1\n"), r.stderr
    [m] = slack.posted_messages()
    assert m.channel == "U0ALICE" and m.posted_channel == slack.dm_channel("U0ALICE")


# -- files ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kind,name,data",
    [("image", "pic.png", PNG), ("voice", "note.ogg", b"OggS" + os.urandom(2000)),
     ("video", "clip.mp4", b"\x00\x00\x00\x18ftypmp42" + os.urandom(3000)),
     ("file", "report.pdf", b"%PDF-1.4 " + os.urandom(5000))],
)  # fmt: skip
def test_each_media_kind_uses_the_external_upload(cli, profile, slack, tmp_path, kind, name, data):
    path = tmp_path / name
    path.write_bytes(data)
    r = cli("push", kind, "-p", "slack", "-g", "C0123", str(path), "-t", "Nightly <build> & co")
    assert (r.code, r.stdout, r.stderr) == (0, "1\n", "")
    assert methods(slack) == [
        "files.getUploadURLExternal", f"upload/{next(iter(slack.uploaded_files()))}",
        "files.completeUploadExternal",
    ]  # fmt: skip
    ticket = slack.calls("files.getUploadURLExternal")[0]
    assert ticket.form == {"filename": name, "length": str(len(data))}
    [f] = slack.uploaded_files().values()
    assert f.body_format == "raw" and f.size == len(data)
    assert f.sha256 == hashlib.sha256(data).hexdigest()
    assert f.completed and f.channel == "C0123" and f.title == name
    assert f.initial_comment == "Nightly &lt;build&gt; &amp; co"
    upload = slack.calls("/upload/")[0]
    assert "authorization" not in upload.headers  # the token stays with the API
    assert upload.headers["content-length"] == str(len(data))
    assert slack.calls("files.upload") == []


def test_each_target_gets_its_own_upload(cli, profile, slack, tmp_path):
    path = tmp_path / "a.png"
    path.write_bytes(PNG)
    r = cli("push", "image", "-p", "slack", "-g", "C0001", "-g", "C0002", str(path), "--json")
    assert r.code == 0, r.stderr
    files = slack.uploaded_files()
    assert len(files) == 2 and all(f.completed for f in files.values())
    assert sorted(f.channel for f in files.values()) == ["C0001", "C0002"]
    out = json.loads(r.stdout)
    assert sorted(t["message_ids"][0] for t in out["targets"]) == sorted(files)


def test_url_sources_are_downloaded_once_then_uploaded(cli, profile, slack):
    with FileHost() as host:
        r = cli(
            "push", "image", "-p", "slack", "-g", "C0001", "-u", "U0ALICE", f"{host.url}/shot.png"
        )
        assert (r.code, r.stdout) == (0, "2\n"), r.stderr
        assert len(host.calls("/shot.png")) == 1
    files = slack.uploaded_files().values()
    assert [f.sha256 for f in files] == [hashlib.sha256(FileHost.body).hexdigest()] * 2
    assert {f.name for f in files} == {"shot.png"}


def test_a_missing_download_is_bad_input(cli, profile, slack):
    with FileHost() as host:
        r = cli("push", "file", "-p", "slack", "-g", "C0001", f"{host.url}/missing.png")
    assert (r.code, r.stdout) == (2, "0\n")  # media checks are input errors (exit 2)
    assert "404" in r.stderr
    assert slack.calls("files.") == []


def test_files_over_1_gb_are_refused_before_any_request(cli, profile, slack, tmp_path):
    big = tmp_path / "big.bin"
    with open(big, "wb") as fh:
        fh.truncate((1 << 30) + 1)
    r = cli("push", "file", "-p", "slack", "-g", "C0001", str(big))
    assert (r.code, r.stdout) == (2, "0\n")
    assert "1024 MB limit" in r.stderr
    assert slack.requests == []


def test_mixed_is_one_message_and_one_completed_upload(cli, profile, slack, tmp_path):
    a, b = tmp_path / "a.png", tmp_path / "r.pdf"
    a.write_bytes(PNG)
    b.write_bytes(b"%PDF-1 report")
    items = tmp_path / "items.json"
    items.write_text(json.dumps([
        {"type": "text", "text": "Nightly <report>"},
        {"type": "image", "source": str(a), "caption": "the graph"},
        {"type": "markdown", "text": "**all green**"},
        {"type": "file", "path": str(b)},
    ]))  # fmt: skip
    r = cli("push", "mixed", "-p", "slack", "-g", "C0123", str(items), "-t", "Title", "--json")
    assert r.code == 0, r.stderr
    [m] = slack.posted_messages()
    assert m.blocks[0]["text"]["text"] == "Title"
    assert [b["text"]["text"] for b in m.blocks[1:]] == ["Nightly &lt;report&gt;", "*all green*"]
    [complete] = slack.calls("files.completeUploadExternal")
    assert complete.form["channel_id"] == "C0123" and "initial_comment" not in complete.form
    entries = json.loads(complete.form["files"])
    files = slack.uploaded_files()
    assert [e["title"] for e in entries] == ["the graph", "r.pdf"]
    assert {e["id"] for e in entries} == set(files)
    assert len(slack.shares) == 1 and len(slack.shares[0]["file_ids"]) == 2
    assert len(json.loads(r.stdout)["targets"][0]["message_ids"]) == 3


def test_mixed_files_only_carry_the_title_as_initial_comment(cli, profile, slack, tmp_path):
    a = tmp_path / "a.png"
    a.write_bytes(PNG)
    r = cli("push", "mixed", "-p", "slack", "-g", "C0123", "--item", f"image={a}", "-t", "Look")
    assert r.code == 0, r.stderr
    assert slack.posted_messages() == []
    assert slack.calls("files.completeUploadExternal")[0].form["initial_comment"] == "Look"


# -- errors, retries, failover ---------------------------------------------------------------


def test_platform_error_names_the_target_and_the_code(cli, profile, slack):
    r = cli("push", "text", "-p", "slack", "-g", "C0GONE", "-g", "C0123", "hi")
    assert (r.code, r.stdout) == (1, "1\n")
    assert r.stderr == "slack group:C0GONE: channel_not_found\n"


def test_429_is_retried_after_retry_after(cli, profile, slack):
    slack.queue("chat.postMessage", FakeSlack.ratelimited(1))
    r = cli("push", "text", "-p", "slack", "-g", "C0123", "hi")
    assert (r.code, r.stdout) == (0, "1\n"), r.stderr
    calls = slack.calls("chat.postMessage")
    assert len(calls) == 2
    assert calls[1].arrived - calls[0].arrived >= 0.95
    assert len(slack.posted_messages()) == 1


def test_upload_5xx_is_retried(cli, profile, slack, tmp_path):
    path = tmp_path / "a.png"
    path.write_bytes(PNG)
    slack.queue("^/upload/", Reply(503, body=b"busy"))
    r = cli("push", "image", "-p", "slack", "-g", "C0123", str(path))
    assert (r.code, r.stdout) == (0, "1\n"), r.stderr
    assert len(slack.calls("^/upload/")) == 2


def test_invalid_auth_fails_over_to_the_next_account(cli, write_profile, slack):
    write_profile(
        f'[accounts.old]\nplatform = "slack"\ntoken = "xoxb-revoked-token-0000"\n'
        f'base_url = "{slack.url}"\ndefault = true\n\n'
        f'[accounts.team]\nplatform = "slack"\ntoken = "{TOKEN}"\nbase_url = "{slack.url}"\n'
    )
    r = cli("push", "text", "-p", "slack", "-g", "C0001", "-g", "C0002", "hi", "--json")
    assert r.code == 0, r.stderr
    assert {t["account"] for t in json.loads(r.stdout)["targets"]} == {"team"}
    assert len(slack.posted_messages()) == 2
    assert "old" in r.stderr and "invalid_auth" in r.stderr
    assert "xoxb-revoked-token-0000" not in r.output
    assert_swept(TOKEN)


@pytest.mark.parametrize("code", ["not_authed", "account_inactive", "token_revoked"])
def test_credential_errors_are_exit_3_with_one_account(cli, profile, slack, code):
    slack.queue("chat.postMessage", FakeSlack.error(code))
    r = cli("push", "text", "-p", "slack", "-g", "C0001", "hi")
    assert (r.code, r.stdout) == (3, "0\n")
    assert "imcli accounts test" in r.stderr


# -- accounts, dry run, secrets ---------------------------------------------------------------


def test_accounts_test_uses_auth_test(cli, profile, slack):
    r = cli("accounts", "test")
    assert r.code == 0, r.output
    assert "team Test Workspace as imcli-bot" in r.stdout
    assert methods(slack) == ["auth.test"]
    assert_swept(TOKEN)


def test_dry_run_sends_nothing_and_masks_the_token(cli, profile, slack, tmp_path):
    img = tmp_path / "a.png"
    img.write_bytes(PNG)
    r = cli("push", "image", "-p", "slack", "-u", "U0ALICE", str(img), "-t", "T", "--dry-run", "-v")
    assert (r.code, r.stdout) == (0, "1\n"), r.stderr
    assert slack.requests == []
    for step in (
        "conversations.open",
        "files.getUploadURLExternal",
        "files.completeUploadExternal",
    ):
        assert step in r.stderr
    assert "a.png" in r.stderr
    assert_swept(TOKEN)
    r = cli("push", "text", "-p", "slack", "-g", "C0123", "hi", "--dry-run", "--json")
    plan = json.loads(r.stdout)
    assert plan["sent"] == 1 and plan["requests"][0]["body"] == {
        "channel": "C0123",
        "text": "hi",
        "mrkdwn": False,
    }
    assert slack.requests == []
    assert_swept(TOKEN)


def test_verbose_shows_requests_but_never_the_token(cli, profile, slack, tmp_path, monkeypatch):
    monkeypatch.setenv("SLACK_TOKEN_VAR", TOKEN)
    profile.write_text(
        f'[accounts.team]\nplatform = "slack"\ntoken = "${{SLACK_TOKEN_VAR}}"\nbase_url = "{slack.url}"\n'
    )
    f = tmp_path / "a.txt"
    f.write_text("x")
    outputs = [
        cli("push", "text", "-p", "slack", "-g", "C0GONE", "-g", "C1", "hi", "-v", "--json"),
        cli("push", "file", "-p", "slack", "-u", "U0ALICE", str(f), "-v"),
        cli("accounts", "list", "--json"),
        cli("accounts", "test", "-v"),
    ]
    assert "POST http://127.0.0.1:" in outputs[0].stderr and "chat.postMessage" in outputs[0].stderr
    assert_swept(TOKEN)  # every output above was scanned for them


@pytest.mark.real_clock  # the fake counts arrivals on the system clock
def test_fan_out_keeps_to_one_message_per_second_per_channel(cli, profile, slack):
    slack.enforce_channel_rate = True
    long_text = "\n".join("z" * 100 for _ in range(500))  # two messages to one channel
    t0 = time.monotonic()
    r = cli("push", "text", "-p", "slack", "-g", "C0001", "-g", "C0002", long_text)
    assert (r.code, r.stdout) == (0, "2\n"), r.stderr
    assert slack.rate_limited_count == 0
    assert len(slack.posted_messages()) == 4
    assert time.monotonic() - t0 < 5


def test_platforms_lists_slack_and_lark_with_every_kind(cli):
    r = cli("platforms", "--json")
    assert r.code == 0
    rows = {row["platform"]: row for row in json.loads(r.stdout)}
    for name in ("slack", "lark"):
        assert rows[name]["built"] is True
        assert rows[name]["kinds"] == dict.fromkeys(
            ("text", "image", "voice", "video", "file", "mixed"), True
        )
