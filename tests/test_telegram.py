"""Telegram end to end: the CLI against the fake Bot API server on 127.0.0.1."""

from __future__ import annotations

import base64
import hashlib
import json
import os
from pathlib import Path
from typing import Any

import pytest

from tests._media import PNG, clip, kind_of
from tests.conftest import TG_TOKEN, assert_swept, now
from tests.fakes.base import Reply
from tests.fakes.filehost import FileHost
from tests.fakes.telegram import FakeTelegram


def sends(server: FakeTelegram, method: str | None = None) -> list[Any]:
    return [m for m in server.sent_messages() if method is None or m.method == method]


# -- text ----------------------------------------------------------------------------------


def test_push_text_prints_1_and_the_server_got_the_message(cli, tg_profile, telegram):
    r = cli("push", "text", "-p", "telegram", "-u", "4242", "hello world")
    assert (r.code, r.stdout, r.stderr) == (0, "1\n", "")
    [m] = sends(telegram, "sendMessage")
    assert m.chat_id == 4242
    assert m.fields["text"] == "hello world"
    assert m.fields["parse_mode"] == "HTML"


def test_text_is_escaped_so_telegram_never_fails_to_parse_entities(cli, tg_profile, telegram):
    r = cli("push", "text", "-p", "tg", "-u", "1", "a < b && c > d <b>not bold</b>")
    assert r.code == 0, r.stderr
    [m] = sends(telegram, "sendMessage")
    assert m.fields["text"] == "a &lt; b &amp;&amp; c &gt; d &lt;b&gt;not bold&lt;/b&gt;"


def test_markdown_is_rendered_as_telegram_html(cli, tg_profile, telegram):
    md = "# Report\n\n**done** in _5 s_, see [logs](https://example.com/a?b=1&c=2)\n\n```\nx < 1\n```"
    r = cli("push", "text", "-p", "tg", "-u", "1", "--markdown", md)
    assert r.code == 0, r.stderr
    text = sends(telegram, "sendMessage")[0].fields["text"]
    assert "<b>done</b>" in text
    assert "<i>5 s</i>" in text
    assert '<a href="https://example.com/a?b=1&amp;c=2">logs</a>' in text
    assert "<pre>" in text and "x &lt; 1" in text


def test_title_becomes_a_bold_heading_and_title_alone_is_the_text(cli, tg_profile, telegram):
    assert cli("push", "text", "-p", "tg", "-u", "1", "-t", "Backup <ok>", "body").code == 0
    assert cli("push", "text", "-p", "tg", "-u", "1", "-t", "only the title").code == 0
    first, second = sends(telegram, "sendMessage")
    assert first.fields["text"] == "<b>Backup &lt;ok&gt;</b>\nbody"
    assert second.fields["text"] == "only the title"


def test_long_text_is_split_on_line_boundaries_and_sent_in_order(cli, tg_profile, telegram):
    lines = [f"line {i:05d} " + "x" * 80 for i in range(120)]  # ~11k characters
    r = cli("push", "text", "-p", "tg", "-u", "7", "--json", "\n".join(lines))
    assert r.code == 0, r.stderr
    parts = [m.fields["text"] for m in sends(telegram, "sendMessage")]
    assert len(parts) == 3
    assert all(len(p) <= 4096 for p in parts)
    assert "\n".join(parts).split("\n") == lines  # nothing lost, nothing cut mid-line
    out = json.loads(r.stdout)
    assert out["sent"] == 1 and len(out["targets"][0]["message_ids"]) == 3


def test_long_markdown_never_splits_inside_a_code_block(cli, tg_profile, telegram):
    code = "```\n" + "\n".join(f"code line {i}" for i in range(100)) + "\n```"
    prose = "\n\n".join("para " + "y" * 1500 for _ in range(3))
    r = cli("push", "text", "-p", "tg", "-u", "7", "--markdown", prose + "\n\n" + code)
    assert r.code == 0, r.stderr
    parts = [m.fields["text"] for m in sends(telegram, "sendMessage")]
    assert len(parts) >= 2
    holding = [p for p in parts if "code line 0" in p]
    assert len(holding) == 1 and "code line 99" in holding[0]
    assert holding[0].count("<pre>") == holding[0].count("</pre>") == 1


def test_stdin_is_read_for_dash_and_when_piped_without_content(cli, tg_profile, telegram):
    assert cli("push", "text", "-p", "tg", "-u", "1", "-", input="from stdin\n").code == 0
    assert cli("push", "text", "-p", "tg", "-u", "1", input="piped\n").code == 0
    assert cli("push", "text", "-p", "tg", "-u", "1", "argument wins", input="ignored").code == 0
    texts = [m.fields["text"] for m in sends(telegram, "sendMessage")]
    assert texts == ["from stdin", "piped", "argument wins"]


def test_content_starting_with_dash_goes_after_double_dash(cli, tg_profile, telegram):
    r = cli("push", "text", "-p", "tg", "-u", "1", "--", "-5 degrees")
    assert r.code == 0, r.stderr
    assert sends(telegram)[0].fields["text"] == "-5 degrees"


def test_negative_group_ids_and_channel_names_are_targets(cli, tg_profile, telegram):
    r = cli("push", "text", "-p", "tg", "-g", "-1001234", "-g", "@mychannel", "-u", "5", "hi")
    assert (r.code, r.stdout) == (0, "3\n"), r.stderr
    assert sorted(str(m.chat_id) for m in sends(telegram)) == sorted(
        ["-1001234", "@mychannel", "5"]
    )


def test_option_values_are_merged_into_the_send_request(cli, tg_profile, telegram):
    r = cli("push", "text", "-p", "tg", "-u", "1", "hi", "-o", "disable_notification=true",
            "-o", "message_thread_id=7")  # fmt: skip
    assert r.code == 0, r.stderr
    f = sends(telegram)[0].fields
    assert f["disable_notification"] is True and f["message_thread_id"] == 7


@pytest.mark.parametrize("key", ["chat_id", "text"])
def test_option_that_would_replace_target_or_content_is_refused(cli, tg_profile, telegram, key):
    r = cli("push", "text", "-p", "tg", "-u", "1", "hi", "-o", f"{key}=9")
    assert (r.code, r.stdout) == (2, "0\n")
    assert key in r.stderr
    assert telegram.requests == []


# -- media ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kind,method,field",
    [("image", "sendPhoto", "photo"), ("voice", "sendVoice", "voice"),
     ("video", "sendVideo", "video"), ("file", "sendDocument", "document")],
)  # fmt: skip
def test_each_media_kind_is_uploaded_with_its_method(
    cli, tg_profile, telegram, tmp_path, kind, method, field
):
    path = (
        tmp_path
        / f"media.{ {'image': 'png', 'voice': 'ogg', 'video': 'mp4', 'file': 'pdf'}[kind] }"
    )
    path.write_bytes({"image": PNG, "voice": clip("ogg-opus")}.get(kind) or os.urandom(3000))
    r = cli("push", kind, "-p", "tg", "-u", "9", str(path), "-t", "the <caption>")
    assert (r.code, r.stdout) == (0, "1\n"), r.stderr
    [m] = sends(telegram, method)
    part = m.fields[field]
    assert part.filename == path.name
    assert part.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert m.fields["caption"] == "the &lt;caption&gt;"


def test_media_source_forms(cli, tg_profile, telegram, tmp_path, monkeypatch):
    img = tmp_path / "pic.png"
    img.write_bytes(PNG)
    digest = hashlib.sha256(PNG).hexdigest()
    home = Path(os.environ["HOME"])
    (home / "home.png").write_bytes(PNG)
    monkeypatch.chdir(tmp_path)
    b64 = base64.b64encode(PNG).decode()
    for source in (str(img), "pic.png", "~/home.png", img.as_uri(), "base64://" + b64,
                   "data:image/png;base64," + b64):  # fmt: skip
        r = cli("push", "image", "-p", "tg", "-u", "1", source)
        assert (r.code, r.stdout) == (0, "1\n"), (source, r.stderr)
    r = cli("push", "image", "-p", "tg", "-u", "1", "-", input=PNG)
    assert r.code == 0, r.stderr
    photos = [m.fields["photo"] for m in sends(telegram, "sendPhoto")]
    assert len(photos) == 7
    assert {p.sha256 for p in photos} == {digest}
    assert photos[0].content_type == "image/png"
    assert photos[4].filename.endswith(".png")  # named from its content


def test_public_url_is_passed_through(cli, tg_profile, telegram):
    r = cli("push", "image", "-p", "tg", "-u", "1", "https://example.com/cat.png")
    assert r.code == 0, r.stderr
    assert sends(telegram, "sendPhoto")[0].fields["photo"] == "https://example.com/cat.png"


def test_intranet_url_is_downloaded_once_and_uploaded_once(cli, tg_profile, telegram):
    with FileHost() as host:
        r = cli("push", "image", "-p", "tg", "-u", "1", "-u", "2", f"{host.url}/shot.png")
        assert r.code == 0, r.stderr
        assert len(host.calls("/shot.png")) == 1  # downloaded once for both targets
    photos = [m.fields["photo"] for m in sends(telegram, "sendPhoto")]
    uploaded = [p for p in photos if not isinstance(p, str)]
    assert len(uploaded) == 1  # the other target got Telegram's file_id
    assert uploaded[0].sha256 == hashlib.sha256(FileHost.body).hexdigest()
    assert uploaded[0].filename == "shot.png"
    [by_id] = [p for p in photos if isinstance(p, str)]
    assert not by_id.startswith("http")


def test_url_telegram_cannot_fetch_falls_back_to_upload(cli, tg_profile, telegram, monkeypatch):
    import imcli.media

    # pretend the file host is public: Telegram is given the URL, cannot fetch it
    # (the fake answers like Telegram for an address it cannot reach), and imcli
    # downloads the file and uploads it instead
    monkeypatch.setattr(imcli.media, "is_private_url", lambda url: False)
    with FileHost() as host:
        url = f"{host.url}/x.png"
        r = cli("push", "image", "-p", "tg", "-u", "1", url)
        assert (r.code, r.stdout) == (0, "1\n"), r.stderr
        assert len(host.calls("/x.png")) == 1
    first, second = telegram.calls("sendPhoto")
    assert first.field("photo") == url
    assert second.files["photo"].sha256 == hashlib.sha256(FileHost.body).hexdigest()


def test_voice_url_that_is_not_ogg_is_uploaded(cli, tg_profile, telegram, monkeypatch):
    import imcli.media

    monkeypatch.setattr(imcli.media, "is_private_url", lambda url: False)
    with FileHost() as host:
        host.body = clip("mp3")
        r = cli("push", "voice", "-p", "tg", "-u", "1", f"{host.url}/note.mp3")
        assert r.code == 0, r.stderr
    [call] = telegram.calls("sendVoice")
    assert "voice" in call.files


@pytest.mark.parametrize("fmt", ["ogg-opus", "ogg-vorbis"])
def test_a_voice_url_is_downloaded_checked_and_uploaded(
    cli, tg_profile, telegram, monkeypatch, fmt
):
    """The Bot API sends a URL voice over 1 MB or not audio/ogg as a document, and an
    Ogg/Vorbis voice does not play: the URL is fetched here, and the content decides."""
    import imcli.media

    monkeypatch.setattr(imcli.media, "is_private_url", lambda url: False)
    with FileHost() as host:
        host.body = clip(fmt)
        r = cli("push", "voice", "-p", "tg", "-u", "1", "-u", "2", f"{host.url}/note.ogg")
        assert (r.code, r.stdout) == (0, "2\n"), r.stderr
        assert len(host.requests) == 1  # downloaded (and converted) once per push
    assert [("voice" in m) for m in telegram.messages] == [True, True]
    [upload] = [c for c in telegram.calls("sendVoice") if "voice" in c.files]
    assert kind_of(upload.files["voice"].data or b"") == "ogg-opus"


def test_an_uploaded_ogg_vorbis_voice_is_converted_to_opus(cli, tg_profile, telegram, tmp_path):
    path = tmp_path / "note.ogg"
    path.write_bytes(clip("ogg-vorbis"))
    r = cli("push", "voice", "-p", "tg", "-u", "1", str(path))
    assert (r.code, r.stdout) == (0, "1\n"), r.stderr
    [m] = telegram.messages
    assert "voice" in m and "document" not in m
    [call] = telegram.calls("sendVoice")
    assert kind_of(call.files["voice"].data or b"") == "ogg-opus"


def test_missing_download_is_bad_input_before_any_send(cli, tg_profile, telegram):
    with FileHost() as host:
        r = cli("push", "image", "-p", "tg", "-u", "1", f"{host.url}/missing.png")
    assert (r.code, r.stdout) == (2, "0\n")  # media checks are input errors (exit 2)
    assert "404" in r.stderr and not telegram.calls()


def test_size_limits_are_checked_before_any_upload(cli, tg_profile, telegram, tmp_path):
    big = tmp_path / "big.png"
    with open(big, "wb") as fh:
        fh.truncate(11 * 1024 * 1024)
    r = cli("push", "image", "-p", "tg", "-u", "1", str(big))
    assert (r.code, r.stdout) == (2, "0\n")
    assert "10 MB" in r.stderr
    assert telegram.requests == []


def test_a_mixed_item_over_the_limit_is_named_by_its_place_among_the_items(
    cli, tg_profile, telegram, tmp_path
):
    """The refusal names the item as --item counts them (the text is item 0), as every
    other check of a mixed push does."""
    big = tmp_path / "big.png"
    with open(big, "wb") as fh:
        fh.truncate(11 * 1024 * 1024)
    r = cli("push", "mixed", "-p", "tg", "-u", "1", "--item", "text=x", "--item", f"image={big}")
    assert (r.code, r.stdout) == (2, "0\n")
    assert "item 1: image" in r.stderr and "10 MB" in r.stderr, r.stderr
    assert telegram.requests == []


def test_local_server_accounts_get_the_2000_mb_limit(cli, write_profile, tmp_path):
    big = tmp_path / "big.bin"
    with open(big, "wb") as fh:
        fh.truncate(60 * 1024 * 1024)
    with FakeTelegram(local_server=True) as local:
        write_profile(
            f'[accounts.local]\nplatform = "telegram"\ntoken = "{TG_TOKEN}"\n'
            f'base_url = "{local.api_url}"\nlocal_server = true\n'
        )
        r = cli("push", "file", "-p", "tg", "-u", "1", str(big))
        assert r.code == 0, r.stderr
        assert sends(local, "sendDocument")[0].fields["document"].size == 60 * 1024 * 1024


def test_unreadable_and_missing_files_are_exit_2(cli, tg_profile, telegram, tmp_path):
    r = cli("push", "file", "-p", "tg", "-u", "1", str(tmp_path / "nope.txt"))
    assert (r.code, r.stdout) == (2, "0\n")
    assert "no such file" in r.stderr
    d = tmp_path / "dir"
    d.mkdir()
    assert cli("push", "file", "-p", "tg", "-u", "1", str(d)).code == 2
    assert cli("push", "file", "-p", "tg", "-u", "1", "base64://!!notbase64").code == 2
    assert telegram.requests == []


# -- mixed ----------------------------------------------------------------------------------


def test_mixed_sends_text_then_media_groups_with_attach_parts(cli, tg_profile, telegram, tmp_path):
    a, b = tmp_path / "a.png", tmp_path / "b.png"
    a.write_bytes(PNG)
    b.write_bytes(PNG[::-1])
    doc1, doc2 = tmp_path / "r1.pdf", tmp_path / "r2.pdf"
    doc1.write_bytes(b"%PDF-1 one")
    doc2.write_bytes(b"%PDF-1 two")
    items = tmp_path / "items.json"
    items.write_text(json.dumps([
        {"type": "text", "text": "Nightly <report>"},
        {"type": "image", "source": str(a), "caption": "first"},
        {"type": "markdown", "text": "**all green**"},
        {"type": "image", "path": str(b)},
        {"type": "file", "file": str(doc1)},
        {"type": "file", "url": str(doc2), "filename": "renamed.pdf"},
    ]))  # fmt: skip
    r = cli("push", "mixed", "-p", "tg", "-u", "3", str(items), "-t", "Title", "--json")
    assert r.code == 0, r.stderr
    methods = [m.method for m in sends(telegram)]
    assert methods == ["sendMessage", "sendMediaGroup", "sendMediaGroup"]
    text = sends(telegram)[0].fields["text"]
    assert (
        text.startswith("<b>Title</b>\n")
        and "Nightly &lt;report&gt;" in text
        and "<b>all green</b>" in text
    )
    photos, docs = sends(telegram, "sendMediaGroup")
    media = photos.fields["media"]
    assert [e["type"] for e in media] == ["photo", "photo"]
    assert media[0]["caption"] == "first"
    assert all(e["media"].startswith("attach://") for e in media)
    assert [e["type"] for e in docs.fields["media"]] == ["document", "document"]
    assert json.loads(r.stdout)["targets"][0]["message_ids"] == ["1", "2", "3", "4", "5"]
    names = {f.filename for m in telegram.requests for f in m.files.values()}
    assert "renamed.pdf" in names


def test_mixed_items_from_flags_in_order(cli, tg_profile, telegram, tmp_path):
    a = tmp_path / "a.png"
    a.write_bytes(PNG)
    r = cli("push", "mixed", "-p", "tg", "-u", "3", "--item", "text=Hello", "--item", f"image={a}")
    assert r.code == 0, r.stderr
    assert [m.method for m in sends(telegram)] == ["sendMessage", "sendPhoto"]


@pytest.mark.parametrize(
    "items,needle",
    [('[{"type": "gif", "source": "x"}]', "item 0"),
     ('[{"type": "text", "text": "ok"}, {"type": "image"}]', "item 1"),
     ('[{"type": "text", "text": ""}]', "item 0"),
     ('{"type": "text"}', "array"),
     ("not json", "invalid JSON")],
)  # fmt: skip
def test_invalid_mixed_items_are_refused_naming_the_index(
    cli, tg_profile, telegram, tmp_path, items, needle
):
    f = tmp_path / "items.json"
    f.write_text(items)
    r = cli("push", "mixed", "-p", "tg", "-u", "3", str(f))
    assert (r.code, r.stdout) == (2, "0\n")
    assert needle in r.stderr
    assert telegram.requests == []


def test_only_one_thing_may_read_stdin(cli, tg_profile, telegram):
    r = cli("push", "mixed", "-p", "tg", "-u", "3", "-", "--item", "image=-", input="[]")
    assert r.code == 2 and "standard input" in r.stderr


# -- failures, retries, failover -------------------------------------------------------------


def test_partial_failure_names_the_target_and_platform_error(cli, tg_profile, telegram):
    telegram.unknown_chats.add("666")
    r = cli("push", "text", "-p", "tg", "-u", "1", "-u", "666", "hi")
    assert (r.code, r.stdout) == (1, "1\n")
    assert r.stderr == "telegram user:666: Bad Request: chat not found (400)\n"


def test_json_output_lists_each_target(cli, tg_profile, telegram):
    telegram.unknown_chats.add("666")
    r = cli("push", "text", "-p", "tg", "-u", "1", "-u", "666", "hi", "--json")
    out = json.loads(r.stdout)
    assert out["sent"] == 1 and out["failed"] == 1
    by = {t["target"]: t for t in out["targets"]}
    assert by["user:1"] == {"target": "user:1", "ok": True, "account": "ops-bot",
                            "message_ids": [by["user:1"]["message_ids"][0]], "error": None,
                            "uncertain": False}  # fmt: skip
    assert by["user:666"]["error"] == "Bad Request: chat not found (400)"


def test_429_is_retried_after_retry_after(cli, tg_profile, telegram):
    telegram.queue(
        "sendMessage", FakeTelegram.error(429, "Too Many Requests: retry after 1", retry_after=1)
    )
    r = cli("push", "text", "-p", "tg", "-u", "1", "hi")
    assert (r.code, r.stdout) == (0, "1\n"), r.stderr
    calls = telegram.calls("sendMessage")
    assert len(calls) == 2
    assert calls[1].arrived - calls[0].arrived >= 0.95


def test_503_is_retried(cli, tg_profile, telegram):
    telegram.queue("sendMessage", Reply(503, body=b"<html>Service Unavailable</html>"))
    r = cli("push", "text", "-p", "tg", "-u", "1", "hi")
    assert (r.code, r.stdout) == (0, "1\n"), r.stderr
    assert len(telegram.calls("sendMessage")) == 2


def test_502_to_a_send_may_have_been_delivered_and_is_not_resent(cli, tg_profile, telegram):
    telegram.queue("sendMessage", Reply(502, body=b"<html>Bad Gateway</html>"))
    r = cli("push", "text", "-p", "tg", "-u", "1", "hi")
    assert (r.code, r.stdout) == (1, "0\n"), r.stderr
    assert "HTTP 502" in r.stderr and "may have been delivered" in r.stderr
    assert len(telegram.calls("sendMessage")) == 1


def test_definite_errors_are_not_retried(cli, tg_profile, telegram):
    telegram.queue("sendMessage", FakeTelegram.error(403, "Forbidden: bot was blocked by the user"))
    r = cli("push", "text", "-p", "tg", "-u", "1", "hi")
    assert r.code == 1
    assert "Forbidden: bot was blocked by the user (403)" in r.stderr
    assert len(telegram.calls("sendMessage")) == 1


def test_a_send_whose_answer_never_comes_is_not_resent(cli, tg_profile, telegram):
    telegram.queue(
        "sendMessage", Reply(200, json={"ok": True, "result": {"message_id": 1}}, delay=3)
    )
    r = cli("push", "text", "-p", "tg", "-u", "1", "hi", "--timeout", "1000")
    assert (r.code, r.stdout) == (1, "0\n")
    assert "may have been delivered" in r.stderr
    assert len(telegram.calls("sendMessage")) == 1


def test_failover_to_the_next_account_when_the_default_is_rejected(cli, write_profile, telegram):
    write_profile(
        f'[accounts.first]\nplatform = "telegram"\ntoken = "999:revoked-token-xyz"\n'
        f'base_url = "{telegram.api_url}"\ndefault = true\n\n'
        f'[accounts.second]\nplatform = "telegram"\ntoken = "{TG_TOKEN}"\n'
        f'base_url = "{telegram.api_url}"\n'
    )
    r = cli("push", "text", "-p", "tg", "-u", "1", "-u", "2", "hi", "--json")
    assert r.code == 0, r.stderr
    out = json.loads(r.stdout)
    assert {t["account"] for t in out["targets"]} == {"second"}
    assert len(sends(telegram)) == 2
    assert "first" in r.stderr and "revoked-token" not in r.output


def test_failover_when_an_account_is_unreachable(cli, write_profile, telegram):
    write_profile(
        f'[accounts.down]\nplatform = "telegram"\ntoken = "{TG_TOKEN}"\n'
        f'base_url = "http://127.0.0.1:9"\n\n'
        f'[accounts.up]\nplatform = "telegram"\ntoken = "{TG_TOKEN}"\n'
        f'base_url = "{telegram.api_url}"\n'
    )
    r = cli("push", "text", "-p", "tg", "-u", "1", "hi")
    assert (r.code, r.stdout) == (0, "1\n"), r.stderr
    assert len(sends(telegram)) == 1


def test_explicit_account_is_not_failed_over(cli, write_profile, telegram):
    write_profile(
        f'[accounts.first]\nplatform = "telegram"\ntoken = "999:revoked-token-xyz"\n'
        f'base_url = "{telegram.api_url}"\n\n'
        f'[accounts.second]\nplatform = "telegram"\ntoken = "{TG_TOKEN}"\n'
        f'base_url = "{telegram.api_url}"\n'
    )
    r = cli("push", "text", "-a", "first", "-u", "1", "hi")
    assert (r.code, r.stdout) == (3, "0\n")
    assert sends(telegram) == []


def test_every_account_rejected_is_exit_3_with_the_next_command(cli, write_profile, telegram):
    write_profile(
        f'[accounts.a]\nplatform = "telegram"\ntoken = "999:bad-token-aaaa"\nbase_url = "{telegram.api_url}"\n'
        f'[accounts.b]\nplatform = "telegram"\ntoken = "998:bad-token-bbbb"\nbase_url = "{telegram.api_url}"\n'
    )
    r = cli("push", "text", "-p", "tg", "-u", "1", "hi")
    assert (r.code, r.stdout) == (3, "0\n")
    assert "imcli accounts test" in r.stderr
    assert "bad-token" not in r.output


def test_every_account_unreachable_is_exit_1(cli, write_profile):
    write_profile(
        f'[accounts.a]\nplatform = "telegram"\ntoken = "{TG_TOKEN}"\nbase_url = "http://127.0.0.1:9"\n'
    )
    r = cli("push", "text", "-p", "tg", "-u", "1", "hi", "--timeout", "3000")
    assert (r.code, r.stdout) == (1, "0\n")
    assert "cannot connect" in r.stderr


def test_no_failover_after_a_part_reached_the_platform(cli, write_profile, telegram):
    write_profile(
        f'[accounts.first]\nplatform = "telegram"\ntoken = "{TG_TOKEN}"\n'
        f'base_url = "{telegram.api_url}"\n\n'
        f'[accounts.second]\nplatform = "telegram"\ntoken = "{TG_TOKEN}"\n'
        f'base_url = "{telegram.api_url}"\n'
    )
    telegram.queue("sendMessage", Reply(200, json={"ok": True, "result": {"message_id": 5}}))
    telegram.queue("sendMessage", FakeTelegram.error(401, "Unauthorized"))
    long_text = "\n".join("z" * 100 for _ in range(60))  # two parts
    r = cli("push", "text", "-p", "tg", "-u", "1", long_text, "--json")
    assert r.code == 1
    out = json.loads(r.stdout)
    assert out["targets"][0]["account"] == "first"
    assert out["targets"][0]["message_ids"] == ["5"]
    assert len(telegram.calls("sendMessage")) == 2


def test_many_targets_are_sent_concurrently(cli, tg_profile, telegram):
    telegram.latency = 0.3
    targets = [a for i in range(20) for a in ("-u", str(1000 + i))]

    t0 = now()
    r = cli("push", "text", "-p", "tg", *targets, "hi")
    elapsed = now() - t0
    assert (r.code, r.stdout) == (0, "20\n"), r.stderr
    assert elapsed < 4.5  # sequential would take 6 s


# -- secrets, dry run, verbose ---------------------------------------------------------------


def test_verbose_logs_requests_with_the_token_masked(cli, tg_profile, telegram):
    telegram.unknown_chats.add("2")
    r = cli("push", "text", "-p", "tg", "-u", "1", "-u", "2", "hi", "-v")
    assert "POST http://127.0.0.1:" in r.stderr and "/bot***/sendMessage" in r.stderr
    assert " 200 " in r.stderr or "→ 200" in r.stderr
    assert_swept(TG_TOKEN)


def test_dry_run_sends_nothing_and_shows_masked_requests(cli, tg_profile, telegram, tmp_path):
    img = tmp_path / "a.png"
    img.write_bytes(PNG)
    r = cli("push", "image", "-p", "tg", "-u", "1", "-u", "2", str(img), "--dry-run")
    assert (r.code, r.stdout) == (0, "2\n")
    assert telegram.requests == []
    assert "sendPhoto" in r.stderr and "bot***" in r.stderr and "a.png" in r.stderr
    assert_swept(TG_TOKEN)
    r = cli("push", "text", "-p", "tg", "-u", "1", "hi", "--dry-run", "--json")
    plan = json.loads(r.stdout)
    assert plan["dry_run"] is True and plan["sent"] == 1
    assert plan["requests"][0]["url"].endswith("/bot***/sendMessage")
    assert plan["requests"][0]["body"]["text"] == "hi"
    assert_swept(TG_TOKEN)


def test_token_from_env_var_never_appears_anywhere(cli, write_profile, telegram, monkeypatch):
    monkeypatch.setenv("MY_TG_TOKEN", TG_TOKEN)
    write_profile(
        '[accounts.bot]\nplatform = "telegram"\ntoken = "${MY_TG_TOKEN}"\n'
        f'base_url = "{telegram.api_url}"\n'
    )
    telegram.unknown_chats.add("2")
    outputs = [
        cli("push", "text", "-p", "tg", "-u", "1", "-u", "2", "hi", "-v", "--json"),
        cli("push", "text", "-p", "tg", "-u", "1", "hi", "--dry-run", "-v"),
        cli("accounts", "list"),
        cli("accounts", "list", "--json"),
        cli("accounts", "test", "-v"),
    ]
    assert_swept(TG_TOKEN)  # every output above was scanned for them
    assert outputs[0].code == 1 and outputs[4].code == 0
    assert "${MY_TG_TOKEN}" in outputs[2].stdout


def test_accounts_test_reports_online_and_offline(cli, write_profile, telegram):
    write_profile(
        f'[accounts.good]\nplatform = "telegram"\ntoken = "{TG_TOKEN}"\nbase_url = "{telegram.api_url}"\n'
        f'[accounts.bad]\nplatform = "telegram"\ntoken = "1:nope-nope"\nbase_url = "{telegram.api_url}"\n'
    )
    r = cli("accounts", "test")
    assert r.code == 1
    lines = dict(line.split(None, 1) for line in r.stdout.splitlines())
    assert "online" in lines["good"] and "@" in lines["good"]
    assert "offline" in lines["bad"] and "Unauthorized" in lines["bad"]
    assert cli("accounts", "test", "good").code == 0
    assert [c.path.rsplit("/", 1)[-1] for c in telegram.requests].count("getMe") == 3


def test_accounts_test_reaches_a_loopback_api_directly_as_a_push_does(cli, write_profile):
    """`accounts test` and a push use one client: an API on another loopback address
    (127.0.0.2) is never sent through the proxy, by either."""
    server = FakeTelegram()
    server.host = "127.0.0.2"
    try:
        server.start()
    except OSError:
        pytest.skip("127.0.0.2 is not a loopback address here")
    try:
        write_profile(  # nothing listens on port 9: a request through the proxy fails
            f'[settings]\nproxy = "http://127.0.0.1:9"\n\n[accounts.bot]\nplatform = "telegram"\n'
            f'token = "{TG_TOKEN}"\nbase_url = "{server.api_url}"\n'
        )
        assert cli("push", "text", "-u", "1", "hi").code == 0
        r = cli("accounts", "test")
        assert r.code == 0 and "online" in r.stdout, r.output
        paths = [c.path.rsplit("/", 1)[-1] for c in server.requests]
        assert paths.count("getMe") == 1 and paths.count("sendMessage") == 1
    finally:
        server.stop()


@pytest.mark.parametrize("fmt", ["wav", "ogg-vorbis", "amr"])
def test_a_voice_telegram_cannot_play_is_refused_before_any_request_without_ffmpeg(
    cli, tg_profile, telegram, tmp_path, no_ffmpeg, fmt
):
    path = tmp_path / "note.ogg"  # the name does not matter: the content does
    path.write_bytes(clip(fmt))
    r = cli("push", "voice", "-p", "tg", "-u", "1", str(path))
    assert (r.code, r.stdout) == (2, "0\n")
    assert "OGG/Opus, MP3 or M4A" in r.stderr and "install ffmpeg to convert" in r.stderr
    assert len(r.stderr.splitlines()) == 1
    assert telegram.requests == []
    mp3 = tmp_path / "note.mp3"
    mp3.write_bytes(clip("mp3"))
    assert cli("push", "voice", "-p", "tg", "-u", "1", str(mp3)).code == 0


def test_document_urls_other_than_gif_pdf_zip_are_uploaded_directly(
    cli, tg_profile, telegram, monkeypatch
):
    import imcli.media

    monkeypatch.setattr(imcli.media, "is_private_url", lambda url: False)
    with FileHost() as host:
        r = cli("push", "file", "-p", "tg", "-u", "1", f"{host.url}/report.csv")
        assert r.code == 0, r.stderr
        pdf_url = f"{host.url}/report.pdf"
        r = cli("push", "file", "-p", "tg", "-u", "1", pdf_url)
    csv_call, *pdf_calls = telegram.calls("sendDocument")
    assert csv_call.files["document"].filename == "report.csv"  # uploaded at once
    # a PDF is offered by URL first (this fake cannot reach the file host: then uploaded)
    assert pdf_calls[0].field("document") == pdf_url
