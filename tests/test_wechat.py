"""WeChat Official Account end to end: the CLI against the fake WeChat API on 127.0.0.1."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests._media import PNG, media_file
from tests.conftest import account_toml, assert_swept
from tests.fakes.base import Reply
from tests.fakes.wechat import RATE_LIMITED, SYSTEM_BUSY, FakeWeChat

APP_ID = "wx0123456789abcdef"
SECRET = "wechat-test-secret"
ALICE, BOB = "o-alice-openid", "o-bob-openid"
TEMPLATE = 'template_id = "tmpl-alert"\n'
FIELDS = 'template_fields = {title = "thing1", content = "thing2", time = "time3"}\n'


@pytest.fixture
def wechat() -> Iterator[FakeWeChat]:
    with FakeWeChat(APP_ID, SECRET, closed_window=[BOB]) as fake:
        yield fake


def account(fake: FakeWeChat, name: str = "mp", *, secret: str = SECRET, extra: str = "") -> str:
    toml = account_toml("wechat", name, app_id=APP_ID, app_secret=secret, base_url=fake.base_url)
    return f"{toml}{extra}\n"


@pytest.fixture
def profile(write_profile: Any, wechat: FakeWeChat) -> Path:
    return write_profile(account(wechat))


# -- text -------------------------------------------------------------------------------------


def test_text_is_a_customer_service_message(cli, profile, wechat):
    r = cli("push", "text", "-p", "wechat", "-u", ALICE, "disk full", "-t", "Alert")
    assert (r.code, r.stdout, r.stderr) == (0, "1\n", "")
    [sent] = wechat.sent()
    assert sent.body == {
        "touser": ALICE,
        "msgtype": "text",
        "text": {"content": "Alert\ndisk full"},
    }
    [tok] = wechat.calls("/cgi-bin/stable_token")
    assert tok.json == {"grant_type": "client_credential", "appid": APP_ID, "secret": SECRET}
    [call] = wechat.calls("/cgi-bin/message/custom/send")
    assert call.query["access_token"] == wechat.stable_token


def test_markdown_is_plain_text(cli, profile, wechat):
    r = cli("push", "text", "-p", "wx", "-u", ALICE, "--markdown", "**ok**, see [x](https://e.com)")
    assert r.code == 0, r.stderr
    assert wechat.sent()[0].body["text"]["content"] == "ok, see x (https://e.com)"


def test_not_a_follower_names_the_reason(cli, profile, wechat):
    r = cli("push", "text", "-p", "wechat", "-u", "o-stranger", "hi")
    assert (r.code, r.stdout) == (1, "0\n")
    assert r.stderr == (
        "wechat user:o-stranger: require subscribe (43004): the user does not follow the account\n"
    )


# -- media ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kind,name,data",
    [("image", "a.png", PNG), ("voice", "v.mp3", b"ID3" + bytes(500)), ("video", "c.mp4", None)],
)
def test_media_is_uploaded_once_then_sent(cli, profile, wechat, tmp_path, kind, name, data):
    path = media_file(tmp_path, name, data)
    wechat.closed_window.clear()
    r = cli("push", kind, "-p", "wechat", "-u", ALICE, "-u", BOB, str(path))
    assert (r.code, r.stdout) == (0, "2\n"), r.stderr
    [up] = wechat.calls("/cgi-bin/media/upload")
    assert up.query["type"] == kind and up.files["media"].filename == name
    sends = wechat.sent()
    assert [s.msgtype for s in sends] == [kind, kind]
    media_id = sends[0].body[kind]["media_id"]
    assert wechat.media[media_id].size == path.stat().st_size
    assert sends[1].body[kind]["media_id"] == media_id


def test_video_title_and_image_title(cli, profile, wechat, tmp_path):
    vid, img = media_file(tmp_path, "c.mp4"), media_file(tmp_path, "a.png", PNG)
    assert cli("push", "video", "-p", "wechat", "-u", ALICE, str(vid), "-t", "Demo").code == 0
    assert cli("push", "image", "-p", "wechat", "-u", ALICE, str(img), "-t", "Chart").code == 0
    video, title, image = wechat.sent()
    assert video.body["video"]["title"] == "Demo" and "thumb_media_id" not in video.body["video"]
    assert title.body["text"] == {"content": "Chart"}
    assert image.msgtype == "image"


@pytest.mark.parametrize(
    "kind,name,size,limit",
    [("image", "a.png", 3, "2 MB"), ("voice", "v.amr", 3, "2 MB"), ("video", "c.mp4", 11, "10 MB")],
)
def test_size_limits_are_refused_before_any_request(
    cli, profile, wechat, tmp_path, kind, name, size, limit
):
    path = tmp_path / name
    with open(path, "wb") as fh:
        fh.truncate(size * 1024 * 1024)
    r = cli("push", kind, "-p", "wechat", "-u", ALICE, str(path))
    assert (r.code, r.stdout) == (2, "0\n")
    assert limit in r.stderr
    assert wechat.requests == []


def test_voice_must_be_amr_or_mp3(cli, profile, wechat, tmp_path, no_ffmpeg):
    r = cli("push", "voice", "-p", "wechat", "-u", ALICE, str(media_file(tmp_path, "v.ogg")))
    assert (r.code, r.stdout) == (2, "0\n") and "AMR or MP3" in r.stderr
    assert wechat.requests == []


def test_mixed_joins_the_texts_and_sends_media_on_their_own(cli, profile, wechat, tmp_path):
    img = media_file(tmp_path, "a.png", PNG)
    r = cli("push", "mixed", "-p", "wechat", "-u", ALICE, "-t", "Nightly", "--item", "text=one",
            "--item", f"image={img}", "--item", "markdown=**two**")  # fmt: skip
    assert r.code == 0, r.stderr
    text, image = wechat.sent()
    assert text.body["text"]["content"] == "Nightly\none\n\ntwo"
    assert image.msgtype == "image"


# -- the matrix -----------------------------------------------------------------------------------


def test_group_and_file_pushes_are_refused(cli, profile, wechat, tmp_path):
    r = cli("push", "text", "-p", "wechat", "-g", "g1", "hi")
    assert (r.code, r.stdout) == (2, "0\n") and "wechat: group push is not supported" in r.stderr
    doc = media_file(tmp_path, "r.pdf")
    r = cli("push", "file", "-p", "wechat", "-u", ALICE, str(doc))
    assert (r.code, r.stdout) == (2, "0\n") and "no file type" in r.stderr
    r = cli(
        "push", "mixed", "-p", "wechat", "-u", ALICE, "--item", "text=a", "--item", f"file={doc}"
    )
    assert (r.code, r.stdout) == (2, "0\n") and "item 1: file" in r.stderr
    assert wechat.requests == []


# -- the 48-hour window ------------------------------------------------------------------------------


def test_closed_window_without_a_template_fails_saying_why(cli, profile, wechat):
    r = cli("push", "text", "-p", "wechat", "-u", ALICE, "-u", BOB, "hi")
    assert (r.code, r.stdout) == (1, "1\n")
    assert r.stderr.startswith("wechat user:o-bob-openid: 48-hour window closed")
    assert "(45015)" in r.stderr and "template_id" in r.stderr
    assert wechat.templates_sent() == []


def test_closed_window_falls_back_to_the_template(cli, write_profile, wechat):
    write_profile(account(wechat, extra=TEMPLATE + FIELDS))
    long = "the nightly backup of the production database failed twice"
    r = cli("push", "text", "-p", "wechat", "-u", ALICE, "-u", BOB, long, "-t", "Backup", "--json")
    assert r.code == 0, r.stderr
    assert json.loads(r.stdout)["sent"] == 2
    assert r.stderr == (
        "imcli: wechat user:o-bob-openid: 48-hour window closed; "
        "sent as template message tmpl-alert\n"
    )
    [sent] = wechat.sent()
    assert sent.touser == ALICE
    [tmpl] = wechat.templates_sent()
    assert (tmpl.touser, tmpl.template_id) == (BOB, "tmpl-alert")
    assert tmpl.data["thing1"] == {"value": "Backup"}
    assert tmpl.data["thing2"]["value"] == long[:18] + "…"  # thing: at most 20 characters
    assert re.fullmatch(r"\d{4}年\d{1,2}月\d{1,2}日 \d\d:\d\d", tmpl.data["time3"]["value"])
    out = json.loads(r.stdout)
    bob = next(t for t in out["targets"] if t["target"] == f"user:{BOB}")
    assert bob["message_ids"] == [str(tmpl.msgid)]


def test_a_used_up_quota_fails_saying_why_or_falls_back_to_the_template(cli, write_profile, wechat):
    wechat.quota_used = {ALICE}
    write_profile(account(wechat))
    r = cli("push", "text", "-p", "wechat", "-u", ALICE, "hi")
    assert (r.code, r.stdout) == (1, "0\n")
    assert r.stderr.startswith(
        "wechat user:o-alice-openid: customer-service quota used up: no more messages may be "
        "sent to this user until they write again (out of response count limit (45047)); "
        "set template_id"
    ), r.stderr
    assert wechat.sent() == [] and wechat.templates_sent() == []
    write_profile(account(wechat, extra=TEMPLATE + FIELDS))
    r = cli("push", "text", "-p", "wechat", "-u", ALICE, "disk full", "-t", "Alert")
    assert (r.code, r.stdout) == (0, "1\n"), r.stderr
    assert r.stderr == (
        "imcli: wechat user:o-alice-openid: customer-service quota used up; "
        "sent as template message tmpl-alert\n"
    )
    [tmpl] = wechat.templates_sent()
    assert tmpl.touser == ALICE and tmpl.data["thing2"] == {"value": "disk full"}
    assert len(wechat.calls("/cgi-bin/message/custom/send")) == 2  # one per push, not resent


def test_default_template_fields(cli, write_profile, wechat):
    write_profile(account(wechat, extra=TEMPLATE))
    r = cli("push", "text", "-p", "wechat", "-u", BOB, "line one\nline two", "-t", "T")
    assert r.code == 0, r.stderr
    data = wechat.templates_sent()[0].data
    assert data["title"] == {"value": "T"} and data["content"] == {"value": "line one / line two"}
    assert set(data) == {"title", "content", "time"}


def test_template_values_are_shown_whole_one_line_within_their_caps(cli, write_profile, wechat):
    fields = 'template_fields = {title = "first", content = "keyword1", time = "time2"}\n'
    write_profile(account(wechat, extra=TEMPLATE + fields))
    text = "disk full on db-1\n  /var at 99%\n\nrotate logs now, or the backup at 03:00 fails"
    r = cli("push", "text", "-p", "wechat", "-u", BOB, text, "-t", "Nightly\ncheck")
    assert r.code == 0, r.stderr
    [tmpl] = wechat.templates_sent()
    # every value arrives whole: nothing is lost at a line break or past the cap unmarked
    assert tmpl.shown() == {k: v["value"] for k, v in tmpl.data.items()}
    assert tmpl.data["first"]["value"] == "Nightly / check"
    assert tmpl.data["keyword1"]["value"] == "disk full on db-1…"
    assert len(tmpl.data["keyword1"]["value"]) <= 20


@pytest.mark.parametrize(
    "key,value,want",
    [
        ("thing1", "a" * 25, "a" * 19 + "…"),
        ("character_string2", "x" * 40, "x" * 31 + "…"),
        ("number3", "1" * 40, "1" * 32),
        ("phrase4", "配送中配送中", "配送中配送"),
        ("keyword1", "line\nbreak", "line / break"),
    ],
)
def test_template_value_caps_by_key_type(key, value, want):
    from imcli.platforms.wechat import template_value

    assert template_value(key, value) == want


def test_a_failing_template_says_both_reasons(cli, write_profile, wechat):
    write_profile(account(wechat, extra='template_id = "tmpl-gone"\n'))
    r = cli("push", "text", "-p", "wechat", "-u", BOB, "hi")
    assert (r.code, r.stdout) == (1, "0\n")
    assert "48-hour window closed" in r.stderr and "invalid template_id (40037)" in r.stderr


def test_media_pushes_do_not_fall_back(cli, write_profile, wechat, tmp_path):
    write_profile(account(wechat, extra=TEMPLATE))
    r = cli("push", "image", "-p", "wechat", "-u", BOB, str(media_file(tmp_path, "a.png", PNG)))
    assert (r.code, r.stdout) == (1, "0\n")
    assert "text pushes only" in r.stderr
    assert wechat.templates_sent() == []


# -- tokens -----------------------------------------------------------------------------------------


def test_the_token_is_cached_across_runs(cli, profile, wechat):
    for i in range(3):
        assert cli("push", "text", "-p", "wechat", "-u", ALICE, f"run {i}").code == 0
    assert wechat.token_requests == 1
    assert len(wechat.sent()) == 3


def test_two_runs_started_together_fetch_one_token(cli_proc, profile, wechat):
    results: list[Any] = []

    def run(i: int) -> None:
        results.append(cli_proc("push", "text", "-p", "wechat", "-u", ALICE, f"proc {i}"))

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [r.code for r in results] == [0, 0], [r.stderr for r in results]
    assert wechat.token_requests == 1


def test_an_expired_token_is_renewed_once(cli, profile, wechat):
    assert cli("push", "text", "-p", "wechat", "-u", ALICE, "one").code == 0
    wechat.expire_all_tokens()
    r = cli("push", "text", "-p", "wechat", "-u", ALICE, "two")
    assert (r.code, r.stdout) == (0, "1\n"), r.stderr
    assert wechat.token_requests == 2
    assert "force_refresh" not in wechat.calls("/cgi-bin/stable_token")[-1].json
    assert len(wechat.sent()) == 2


def test_force_refresh_only_when_the_same_token_comes_back(cli, profile, wechat):
    assert cli("push", "text", "-p", "wechat", "-u", ALICE, "one").code == 0
    wechat.queue(
        "/cgi-bin/message/custom/send",
        Reply(json={"errcode": 40001, "errmsg": "invalid credential, access_token is invalid"}),
    )
    r = cli("push", "text", "-p", "wechat", "-u", ALICE, "two")
    assert (r.code, r.stdout) == (0, "1\n"), r.stderr
    calls = wechat.calls("/cgi-bin/stable_token")
    assert [c.json.get("force_refresh") for c in calls] == [None, None, True]
    sends = wechat.calls("/cgi-bin/message/custom/send")
    assert sends[1].query["access_token"] != sends[2].query["access_token"]


def test_wrong_secret_is_exit_3_and_fails_over(cli, write_profile, wechat):
    write_profile(account(wechat, secret="wrong-secret-value"))
    r = cli("push", "text", "-p", "wechat", "-u", ALICE, "hi")
    assert (r.code, r.stdout) == (3, "0\n")
    assert "invalid appsecret (40125)" in r.stderr and "rid:" not in r.stderr
    write_profile(
        account(wechat, "bad", secret="wrong-secret-value", extra="default = true")
        + account(wechat, "good")
    )
    r = cli("push", "text", "-p", "wechat", "-u", ALICE, "hi", "--json")
    assert r.code == 0, r.stderr
    assert json.loads(r.stdout)["targets"][0]["account"] == "good"


def test_ip_not_whitelisted_is_offline(cli, write_profile):
    with FakeWeChat(APP_ID, SECRET, ip_blocked=True) as fake:
        write_profile(account(fake))
        r = cli("push", "text", "-p", "wechat", "-u", ALICE, "hi")
        assert (r.code, r.stdout) == (3, "0\n")
        assert "(40164)" in r.stderr


@pytest.mark.parametrize("reply", [RATE_LIMITED, SYSTEM_BUSY])
def test_rate_limit_and_busy_are_retried(cli, profile, wechat, reply):
    wechat.queue("/cgi-bin/message/custom/send", reply)
    r = cli("push", "text", "-p", "wechat", "-u", ALICE, "hi")
    assert (r.code, r.stdout) == (0, "1\n"), r.stderr
    assert len(wechat.calls("/cgi-bin/message/custom/send")) == 2


def test_a_used_up_daily_quota_is_retried_once_only(cli, profile, wechat):
    wechat.queue("/cgi-bin/message/custom/send", RATE_LIMITED, times=5)
    r = cli("push", "text", "-p", "wechat", "-u", ALICE, "hi", "--timeout", "60000")
    assert (r.code, r.stdout) == (1, "0\n")
    assert "(45009)" in r.stderr
    assert len(wechat.calls("/cgi-bin/message/custom/send")) == 2


def test_bmp_is_not_a_temporary_media_format(cli, profile, wechat, tmp_path):
    bmp = tmp_path / "a.bmp"
    bmp.write_bytes(b"BM" + bytes(200))
    r = cli("push", "image", "-p", "wechat", "-u", ALICE, str(bmp))
    assert (r.code, r.stdout) == (2, "0\n")
    assert "JPG, PNG or GIF" in r.stderr
    assert wechat.requests == []


# -- accounts test, dry run, secrets, platforms ----------------------------------------------------


def test_accounts_test_gets_a_token(cli, profile, wechat):
    r = cli("accounts", "test", "-v")
    assert r.code == 0, r.output
    assert "online" in r.stdout and APP_ID in r.stdout
    assert wechat.token_requests == 1
    assert_swept(SECRET, *wechat.tokens)


def test_dry_run_sends_nothing_and_shows_no_secret(cli, profile, wechat):
    r = cli("push", "text", "-p", "wechat", "-u", ALICE, "hi", "--dry-run")
    assert (r.code, r.stdout) == (0, "1\n"), r.stderr
    assert wechat.requests == []
    assert "dry-run: POST" in r.stderr and "/cgi-bin/message/custom/send" in r.stderr
    assert SECRET not in r.output


def test_verbose_never_shows_a_secret(cli, write_profile, wechat):
    write_profile(account(wechat, extra=TEMPLATE))
    r = cli("push", "text", "-p", "wechat", "-u", ALICE, "-u", BOB, "hi", "-v")
    assert r.code == 0, r.stderr
    assert "POST http://127.0.0.1" in r.stderr
    assert_swept(SECRET, *wechat.tokens)


def test_platforms_json_shows_wechat_with_all_but_file(cli):
    rows = json.loads(cli("platforms", "--json").stdout)
    rows = rows["platforms"] if isinstance(rows, dict) else rows
    row = next(p for p in rows if p["platform"] == "wechat")
    assert row["built"] is True
    assert {k for k, ok in row["kinds"].items() if not ok} == {"file"}
    assert row["user"] and row["group"] is None
