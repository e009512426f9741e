"""Personal QQ end to end: the CLI against the fake OneBot v11 server (NapCat and go-cqhttp)."""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests._clock import departures
from tests._media import PNG, media_file
from tests.conftest import account_toml, assert_swept
from tests.fakes.base import Reply
from tests.fakes.filehost import FileHost
from tests.fakes.onebot import FakeOneBot

TOKEN = "onebot-TEST-access-token"
USER, GROUP = 20001, 30001


@pytest.fixture(params=["napcat", "gocq"])
def onebot(request: pytest.FixtureRequest) -> Iterator[FakeOneBot]:
    with FakeOneBot(access_token=TOKEN, flavor=request.param) as fake:
        yield fake


@pytest.fixture
def napcat() -> Iterator[FakeOneBot]:
    with FakeOneBot(access_token=TOKEN, flavor="napcat") as fake:
        yield fake


@pytest.fixture
def gocq() -> Iterator[FakeOneBot]:
    with FakeOneBot(access_token=TOKEN, flavor="gocq") as fake:
        yield fake


def account(fake: FakeOneBot, name: str = "home-qq", *, token: str = TOKEN, extra: str = "") -> str:
    toml = account_toml("qq", name, base_url=fake.base_url, access_token=token, rate=0)
    return f"{toml}{extra}\n"


@pytest.fixture
def profile(write_profile: Any, onebot: FakeOneBot) -> Path:
    return write_profile(account(onebot))


# -- text ------------------------------------------------------------------------------------


def test_text_to_a_user_and_a_group_as_segment_arrays(cli, profile, onebot):
    r = cli("push", "text", "-p", "qq", "-u", str(USER), "-g", str(GROUP), "hello")
    assert (r.code, r.stdout, r.stderr) == (0, "2\n", "")
    by_action = {s.action: s for s in onebot.sent()}
    assert set(by_action) == {"send_private_msg", "send_group_msg"}
    assert by_action["send_private_msg"].target == USER
    assert by_action["send_group_msg"].message == [{"type": "text", "data": {"text": "hello"}}]
    private = onebot.calls("send_private_msg")[0]
    assert private.json["user_id"] == USER  # an integer, not "20001"
    assert onebot.calls("send_group_msg")[0].json["group_id"] == GROUP
    assert all(c.headers["authorization"] == f"Bearer {TOKEN}" for c in onebot.requests)


def test_title_is_the_first_line_and_markdown_is_plain_text(cli, profile, onebot):
    md = "**done** in _5 s_, see [logs](https://example.com/l)\n\n- a\n- b"
    r = cli("push", "text", "-p", "onebot", "-u", str(USER), "-t", "Backup", "--markdown", md)
    assert r.code == 0, r.stderr
    [sent] = onebot.sent()
    [seg] = sent.message
    text = seg["data"]["text"]
    assert text.startswith("Backup\n")
    assert "**" not in text and "_5 s_" not in text
    assert "done in 5 s" in text and "logs (https://example.com/l)" in text
    assert "• a" in text


def test_json_output_has_the_message_id(cli, profile, onebot):
    r = cli("push", "text", "-p", "qq", "-g", str(GROUP), "hi", "--json")
    out = json.loads(r.stdout)
    assert out["sent"] == 1
    assert out["targets"][0]["message_ids"] == [str(onebot.sent()[0].message_id)]


# -- media -----------------------------------------------------------------------------------


def test_image_from_a_local_file_goes_as_base64_with_the_title(cli, profile, onebot, tmp_path):
    img = media_file(tmp_path, "a.png", PNG)
    r = cli("push", "image", "-p", "qq", "-g", str(GROUP), str(img), "-t", "Chart")
    assert (r.code, r.stdout) == (0, "1\n"), r.stderr
    [sent] = onebot.sent()
    text, image = sent.message
    assert text == {"type": "text", "data": {"text": "Chart\n"}}
    assert image["type"] == "image"
    assert base64.b64decode(image["data"]["file"][len("base64://") :]) == PNG


def test_image_url_is_handed_over_as_given(cli, profile, onebot):
    r = cli("push", "image", "-p", "qq", "-u", str(USER), "https://example.com/cat.png")
    assert r.code == 0, r.stderr
    assert onebot.sent()[0].message == [
        {"type": "image", "data": {"file": "https://example.com/cat.png"}}
    ]


def test_shared_files_sends_file_uris(cli, write_profile, onebot, tmp_path):
    write_profile(account(onebot, extra="shared_files = true"))
    img = media_file(tmp_path, "a.png", PNG)
    vid = media_file(tmp_path, "clip.mp4")
    assert cli("push", "image", "-p", "qq", "-u", str(USER), str(img)).code == 0
    r = cli("push", "video", "-p", "qq", "-g", str(GROUP), str(vid))
    assert r.code == 0, r.stderr
    first, second = onebot.sent()
    assert first.message[0]["data"]["file"] == img.as_uri()
    assert second.message == [{"type": "video", "data": {"file": vid.as_uri()}}]
    assert second.sizes == [vid.stat().st_size]


def test_voice_is_a_record_message_of_its_own_after_the_title(cli, profile, onebot, tmp_path):
    voice = media_file(tmp_path, "v.amr", b"#!AMR\n" + os.urandom(500))
    r = cli("push", "voice", "-p", "qq", "-u", str(USER), str(voice), "-t", "Listen", "--json")
    assert r.code == 0, r.stderr
    title, record = onebot.sent()
    assert title.message == [{"type": "text", "data": {"text": "Listen"}}]
    assert [s["type"] for s in record.message] == ["record"]
    assert record.sizes == [voice.stat().st_size]
    assert len(json.loads(r.stdout)["targets"][0]["message_ids"]) == 2


def test_video_as_base64_on_napcat(cli, write_profile, napcat, tmp_path):
    write_profile(account(napcat))
    vid = media_file(tmp_path, "clip.mp4")
    r = cli("push", "video", "-p", "qq", "-g", str(GROUP), str(vid))
    assert r.code == 0, r.stderr
    [sent] = napcat.sent()
    assert sent.message[0]["type"] == "video" and sent.sizes == [2000]


def test_go_cqhttp_refuses_base64_video_and_says_so(cli, write_profile, gocq, tmp_path):
    write_profile(account(gocq))
    vid = media_file(tmp_path, "clip.mp4")
    r = cli("push", "video", "-p", "qq", "-g", str(GROUP), str(vid))
    assert (r.code, r.stdout) == (1, "0\n")
    assert r.stderr == "qq group:30001: invalid video (SEND_MSG_API_ERROR, retcode 100)\n"


def test_file_upload_on_napcat_goes_through_its_download_file_once(
    cli, write_profile, napcat, tmp_path
):
    write_profile(account(napcat))
    doc = media_file(tmp_path, "report.pdf", b"%PDF-1.4 " + os.urandom(100))
    r = cli("push", "file", "-p", "qq", "-g", str(GROUP), "-u", str(USER), str(doc),
            "--filename", "r.pdf")  # fmt: skip
    assert (r.code, r.stdout) == (0, "2\n"), r.stderr
    assert [c.path for c in napcat.requests].count("/get_version_info") == 1
    [dl] = napcat.downloads  # the base64 payload crossed once, for both targets
    assert dl == {"name": "r.pdf"}
    ups = napcat.sent()
    assert {u.action for u in ups} == {"upload_group_file", "upload_private_file"}
    for up in ups:
        assert up.name == "r.pdf" and up.file.startswith(napcat.cache_dir)
        assert up.payloads == [doc.read_bytes()]
    with FileHost() as host:
        url = f"{host.url}/x.zip"
        r = cli("push", "file", "-p", "qq", "-u", str(USER), url)
        assert r.code == 0, r.stderr
    assert napcat.downloads[-1] == {"url": url}
    assert napcat.sent()[-1].payloads == [FileHost.body]


def test_file_upload_with_shared_files_is_a_plain_path_for_go_cqhttp(
    cli, write_profile, gocq, tmp_path
):
    write_profile(account(gocq, extra="shared_files = true"))
    doc = media_file(tmp_path, "report.pdf")
    for flag, ident in (("-g", GROUP), ("-u", USER)):
        r = cli("push", "file", "-p", "qq", flag, str(ident), str(doc))
        assert r.code == 0, r.stderr
    group_up, private_up = gocq.sent()
    assert group_up.action == "upload_group_file" and private_up.action == "upload_private_file"
    assert group_up.file == str(doc) and group_up.name == "report.pdf"
    assert group_up.file_size == 2000


def test_a_url_file_on_go_cqhttp_is_fetched_by_its_download_file_then_uploaded(
    cli, write_profile, gocq
):
    write_profile(account(gocq))
    with FileHost() as host:
        url = f"{host.url}/build.zip"
        r = cli("push", "file", "-p", "qq", "-g", str(GROUP), "-u", str(USER), url)
        assert (r.code, r.stdout) == (0, "2\n"), r.stderr
    assert gocq.downloads == [{"url": url, "thread_count": 1, "headers": []}]
    for up in gocq.sent():
        assert up.file.startswith(gocq.cache_dir) and up.name == "build.zip"
        assert up.payloads == [FileHost.body]


def test_a_local_file_on_go_cqhttp_without_shared_files_is_refused_saying_why(
    cli, write_profile, gocq, tmp_path
):
    write_profile(account(gocq))
    doc = media_file(tmp_path, "report.pdf")
    r = cli("push", "file", "-p", "qq", "-g", str(GROUP), str(doc), "-t", "Nightly report")
    assert (r.code, r.stdout) == (2, "0\n")
    assert "go-cqhttp" in r.stderr and "shared_files = true" in r.stderr
    assert len(r.stderr.splitlines()) == 1
    assert gocq.sent() == [] and gocq.calls("upload_") == []


@pytest.fixture
def lagrange() -> Iterator[FakeOneBot]:
    with FakeOneBot(access_token=TOKEN, flavor="lagrange") as fake:
        yield fake


def test_lagrange_uploads_a_shared_local_path(cli, write_profile, lagrange, tmp_path):
    write_profile(account(lagrange, extra="shared_files = true"))
    doc = media_file(tmp_path, "report.pdf")
    r = cli("push", "file", "-p", "qq", "-g", str(GROUP), str(doc))
    assert (r.code, r.stdout) == (0, "1\n"), r.stderr
    [up] = lagrange.sent()
    assert up.file == str(doc) and up.payloads == [doc.read_bytes()]


@pytest.mark.parametrize("source", ["local", "url"])
def test_lagrange_without_shared_files_is_refused_saying_why(
    cli, write_profile, lagrange, tmp_path, source
):
    write_profile(account(lagrange))
    with FileHost() as host:
        spec = str(media_file(tmp_path, "r.pdf")) if source == "local" else f"{host.url}/r.zip"
        r = cli("push", "file", "-p", "qq", "-g", str(GROUP), spec)
    assert (r.code, r.stdout) == (2, "0\n")
    assert "Lagrange.OneBot" in r.stderr and "shared_files = true" in r.stderr
    assert lagrange.sent() == []


def test_the_fake_servers_refuse_what_their_sources_refuse(tmp_path):
    """What made file pushes fail before: a URL or base64:// to go-cqhttp or Lagrange."""
    import httpx

    for flavor in ("gocq", "lagrange"):
        with FakeOneBot(flavor=flavor) as fake:
            for file in ("https://example.com/a.zip", "base64://aGVsbG8="):
                body = {"group_id": GROUP, "file": file, "name": "a.zip"}
                reply = httpx.post(f"{fake.url}/upload_group_file", json=body).json()
                assert reply["status"] == "failed", (flavor, file)
            info = httpx.post(f"{fake.url}/get_version_info", json={}).json()["data"]
            assert info["app_name"] == {"gocq": "go-cqhttp", "lagrange": "Lagrange.OneBot"}[flavor]


def test_base64_media_over_30_mb_is_refused_before_any_request(
    cli, write_profile, onebot, tmp_path
):
    write_profile(account(onebot))
    big = tmp_path / "big.mp4"
    with open(big, "wb") as fh:
        fh.truncate(31 * 1024 * 1024)
    r = cli("push", "video", "-p", "qq", "-g", str(GROUP), str(big))
    assert (r.code, r.stdout) == (2, "0\n")
    assert "30 MB" in r.stderr and "shared_files" in r.stderr
    assert onebot.requests == []
    write_profile(account(onebot, extra="shared_files = true"))
    r = cli("push", "video", "-p", "qq", "-g", str(GROUP), str(big))
    assert r.code == 0, r.stderr  # a file:// path has no such limit


# -- mixed -----------------------------------------------------------------------------------


def test_mixed_is_one_segment_array_then_voice_video_and_file(cli, write_profile, napcat, tmp_path):
    write_profile(account(napcat))
    a, b = media_file(tmp_path, "a.png", PNG), media_file(tmp_path, "b.png", PNG[::-1])
    voice = media_file(tmp_path, "v.amr", b"#!AMR\n" + os.urandom(200))
    vid = media_file(tmp_path, "c.mp4")
    doc = media_file(tmp_path, "log.txt", b"log line\n" * 10)
    items = tmp_path / "items.json"
    items.write_text(json.dumps([
        {"type": "text", "text": "Nightly report"},
        {"type": "image", "source": str(a)},
        {"type": "voice", "source": str(voice)},
        {"type": "markdown", "text": "**all green**"},
        {"type": "image", "path": str(b)},
        {"type": "video", "source": str(vid)},
        {"type": "file", "source": str(doc)},
    ]))  # fmt: skip
    r = cli("push", "mixed", "-p", "qq", "-g", str(GROUP), str(items), "-t", "T", "--json")
    assert r.code == 0, r.stderr
    sent = napcat.sent()
    assert [s.action for s in sent] == ["send_group_msg"] * 3 + ["upload_group_file"]
    first = sent[0].message
    assert [s["type"] for s in first] == ["text", "image", "text", "image"]
    assert first[0]["data"]["text"] == "T\nNightly report\n"
    assert first[2]["data"]["text"] == "\nall green\n"
    assert [s["type"] for s in sent[1].message] == ["record"]
    assert [s["type"] for s in sent[2].message] == ["video"]
    assert sent[3].name == "log.txt"
    assert len(json.loads(r.stdout)["targets"][0]["message_ids"]) == 4


# -- failures, failover --------------------------------------------------------------------------


def test_failed_status_names_the_servers_message_and_retcode(cli, profile, onebot):
    r = cli("push", "text", "-p", "qq", "-g", str(GROUP), "-g", "99999", "hi")
    assert (r.code, r.stdout) == (1, "1\n")
    if onebot.flavor == "gocq":
        assert r.stderr == "qq group:99999: 群聊不存在 (GROUP_NOT_FOUND, retcode 100)\n"
    else:
        assert r.stderr == "qq group:99999: 发送消息失败 (retcode 200)\n"


def test_unknown_user_fails_only_that_target(cli, profile, onebot):
    r = cli("push", "text", "-p", "qq", "-u", str(USER), "-u", "12345", "hi")
    assert (r.code, r.stdout) == (1, "1\n")
    assert "qq user:12345:" in r.stderr and "retcode" in r.stderr
    assert [s.target for s in onebot.sent()] == [USER]


@pytest.mark.parametrize("bad_token", [None, "wrong-token-value"])
def test_rejected_token_fails_over_to_the_next_account(cli, write_profile, onebot, bad_token):
    first = (
        f'[accounts.first]\nplatform = "qq"\nbase_url = "{onebot.base_url}"\nrate = 0\n'
        f"default = true\n" + (f'access_token = "{bad_token}"\n' if bad_token else "")
    )
    write_profile(first + "\n" + account(onebot, "second"))
    r = cli("push", "text", "-p", "qq", "-g", str(GROUP), "-u", str(USER), "hi", "--json")
    assert r.code == 0, r.stderr
    out = json.loads(r.stdout)
    assert {t["account"] for t in out["targets"]} == {"second"}
    assert "account 'first' is offline" in r.stderr
    assert len(onebot.sent()) == 2
    statuses = {c.headers.get("authorization") for c in onebot.requests}
    assert f"Bearer {TOKEN}" in statuses


def test_only_a_rejected_account_is_exit_3(cli, write_profile, onebot):
    write_profile(account(onebot, token="wrong-token-value"))
    r = cli("push", "text", "-p", "qq", "-g", str(GROUP), "hi")
    assert (r.code, r.stdout) == (3, "0\n")
    assert "access token" in r.stderr and "imcli accounts test" in r.stderr


def test_503_is_retried(cli, profile, onebot):
    onebot.queue("send_group_msg", Reply(503, body=b"service unavailable"))
    r = cli("push", "text", "-p", "qq", "-g", str(GROUP), "hi")
    assert (r.code, r.stdout) == (0, "1\n"), r.stderr
    assert len(onebot.calls("send_group_msg")) == 2


def test_502_to_a_send_is_not_resent(cli, profile, onebot):
    onebot.queue("send_group_msg", Reply(502, body=b"bad gateway"))
    r = cli("push", "text", "-p", "qq", "-g", str(GROUP), "hi")
    assert (r.code, r.stdout) == (1, "0\n"), r.stderr
    assert "may have been delivered" in r.stderr
    assert len(onebot.calls("send_group_msg")) == 1


# -- accounts test, dry run, secrets, platforms ------------------------------------------------------


def test_accounts_test_prints_the_qq_number_and_nickname(cli, profile, onebot):
    r = cli("accounts", "test")
    assert r.code == 0, r.output
    assert "online" in r.stdout and "QQ 10001 (imcli-bot)" in r.stdout
    assert [c.path for c in onebot.requests] == ["/get_login_info"]


def test_dry_run_sends_nothing_and_shows_no_secret(cli, profile, onebot, tmp_path):
    img = media_file(tmp_path, "a.png", PNG)
    r = cli("push", "image", "-p", "qq", "-g", str(GROUP), str(img), "--dry-run", "--json")
    assert r.code == 0, r.stderr
    assert onebot.requests == []
    plan = json.loads(r.stdout)
    assert plan["sent"] == 1
    [req] = plan["requests"]
    assert req["url"].endswith("/send_group_msg")
    assert req["body"]["group_id"] == GROUP
    assert req["body"]["message"][0]["data"]["file"].startswith("base64://")
    assert_swept(TOKEN)


def test_verbose_never_shows_the_access_token(cli, profile, onebot):
    r = cli("push", "text", "-p", "qq", "-g", str(GROUP), "-g", "99999", "hi", "-v")
    assert "POST http://127.0.0.1" in r.stderr
    assert_swept(TOKEN)


@pytest.mark.real_clock  # concurrent sends: the pace on the system clock
def test_default_rate_is_two_messages_a_second(cli, write_profile, onebot, monkeypatch):
    write_profile(
        f'[accounts.q]\nplatform = "qq"\nbase_url = "{onebot.base_url}"\naccess_token = "{TOKEN}"\n'
    )
    sent = departures(monkeypatch)  # not the fake's arrival stamps, which load delays
    r = cli("push", "text", "-p", "qq", "-g", "30001", "-g", "30002", "-u", "20001",
            "-u", "20002", "hi")  # fmt: skip
    assert r.stdout == "4\n", r.stderr
    assert len(onebot.calls("send_")) == 4
    left = sorted(t for t, url in sent if "/send_" in url)
    assert len(left) == 4 and left[-1] - left[0] >= 1.4  # 4 sends at 2/s: three gaps of 0.5 s


def test_fan_out_to_200_groups_is_concurrent(cli, write_profile):
    """With ``rate = 0`` the sends go ``concurrency`` at a time: the fake holds its answers
    until that many are in flight at once (one at a time, the first would wait out the
    hold's 10 s and the most in flight would be 1), and never sees more."""
    from imcli.platforms.qq import QQAdapter

    groups = list(range(50001, 50201))
    with FakeOneBot(groups=groups) as fake:
        fake.latency = 0.02
        fake.hold(QQAdapter.concurrency, "send_group_msg")
        write_profile(f'[accounts.q]\nplatform = "qq"\nbase_url = "{fake.base_url}"\nrate = 0\n')
        args = [x for g in groups for x in ("-g", str(g))]
        r = cli("push", "text", "-p", "qq", *args, "fan-out")
        assert (r.code, r.stdout) == (0, "200\n"), r.stderr
        assert len(fake.sent()) == 200
        assert fake.max_in_flight == QQAdapter.concurrency == 16


def test_platforms_json_shows_qq_with_every_kind(cli):
    r = cli("platforms", "--json")
    rows = json.loads(r.stdout)
    rows = rows["platforms"] if isinstance(rows, dict) else rows
    qq = next(p for p in rows if p["platform"] == "qq")
    assert qq["built"] is True
    assert all(qq["kinds"].values()) and set(qq["kinds"]) >= {
        "text", "image", "voice", "video", "file", "mixed",
    }  # fmt: skip
    assert qq["user"] and qq["group"]
