"""WeCom end to end: the CLI against the fake WeCom API on 127.0.0.1."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests._media import PNG, media_file
from tests.conftest import account_toml, assert_swept
from tests.fakes.wecom import RATE_LIMITED, SYSTEM_BUSY, FakeWeCom

CORP_ID = "ww0123456789abcdef"
SECRET = "wecom-test-secret"
AGENT = 1000002


@pytest.fixture
def wecom() -> Iterator[FakeWeCom]:
    with FakeWeCom(CORP_ID, SECRET, AGENT) as fake:
        yield fake


def account(fake: FakeWeCom, name: str = "corp", *, secret: str = SECRET, extra: str = "") -> str:
    toml = account_toml(
        "wecom", name, corp_id=CORP_ID, corp_secret=secret, agent_id=AGENT, base_url=fake.base_url
    )
    return f"{toml}{extra}\n"


@pytest.fixture
def profile(write_profile: Any, wecom: FakeWeCom) -> Path:
    return write_profile(account(wecom))


# -- text --------------------------------------------------------------------------------------


def test_text_to_several_users_is_one_request(cli, profile, wecom):
    r = cli("push", "text", "-p", "wecom", "-u", "alice", "-u", "bob", "hello", "-t", "Deploy")
    assert (r.code, r.stdout, r.stderr) == (0, "2\n", "")
    [sent] = wecom.sent()
    assert sent.touser == ["alice", "bob"]
    assert sent.body["touser"] == "alice|bob"
    assert sent.body["agentid"] == AGENT  # an integer
    assert sent.body["msgtype"] == "text"
    assert sent.body["text"] == {"content": "Deploy\nhello"}
    [call] = wecom.calls("/cgi-bin/message/send")
    assert call.query["access_token"] == wecom.current_token
    [tok] = wecom.calls("/cgi-bin/gettoken")
    assert tok.query == {"corpid": CORP_ID, "corpsecret": SECRET}


def test_invaliduser_fails_exactly_those_targets(cli, profile, wecom):
    r = cli("push", "text", "-p", "qywx", "-u", "alice", "-u", "ghost", "hi", "--json")
    assert r.code == 1
    out = json.loads(r.stdout)
    by = {t["target"]: t for t in out["targets"]}
    assert by["user:alice"]["ok"] is True and by["user:alice"]["message_ids"] == [
        wecom.sent()[0].msgid
    ]
    assert by["user:ghost"]["ok"] is False and "invalid user" in by["user:ghost"]["error"]
    assert "wecom user:ghost: invalid user" in r.stderr
    assert wecom.sent()[0].invaliduser == ["ghost"]


def test_unlicenseduser_fails_those_targets_though_errcode_is_0(cli, profile, wecom):
    wecom.unlicensed = {"bob"}
    r = cli("push", "text", "-p", "wecom", "-u", "alice", "-u", "bob", "hi", "--json")
    assert r.code == 1
    by = {t["target"]: t for t in json.loads(r.stdout)["targets"]}
    assert by["user:alice"]["ok"] is True
    assert by["user:bob"]["ok"] is False and by["user:bob"]["message_ids"] == []
    assert "no basic interface license (unlicenseduser)" in by["user:bob"]["error"]
    assert r.stderr.splitlines() == [
        "wecom user:bob: the user has no basic interface license (unlicenseduser): assign "
        "one in the WeCom admin console"
    ]
    [sent] = wecom.sent()
    assert sent.touser == ["alice"] and sent.body["touser"] == "alice|bob"


def test_all_users_invalid_is_81013_for_each(cli, profile, wecom):
    r = cli("push", "text", "-p", "wecom", "-u", "ghost", "-u", "nobody", "hi")
    assert (r.code, r.stdout) == (1, "0\n")
    assert r.stderr.count("user & party & tag all invalid (81013)") == 2


def test_markdown_uses_the_markdown_msgtype_with_a_heading(cli, profile, wecom):
    r = cli("push", "text", "-p", "wecom", "-u", "alice", "--markdown", "**ok** `x`", "-t", "Build")
    assert r.code == 0, r.stderr
    body = wecom.sent()[0].body
    assert body["msgtype"] == "markdown"
    assert body["markdown"] == {"content": "# Build\n\n**ok** `x`"}


def test_long_text_is_split_at_2048_utf8_bytes(cli, profile, wecom):
    lines = [f"第{i:03d}行 " + "汉字" * 40 for i in range(60)]  # ~15 KB of UTF-8
    r = cli("push", "text", "-p", "wecom", "-u", "alice", "\n".join(lines), "--json")
    assert r.code == 0, r.stderr
    parts = [s.body["text"]["content"] for s in wecom.sent()]
    assert len(parts) >= 7
    assert all(len(p.encode()) <= 2048 for p in parts)
    assert "\n".join(parts).split("\n") == lines
    assert len(json.loads(r.stdout)["targets"][0]["message_ids"]) == len(parts)


# -- media -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kind,name,data",
    [("image", "a.png", PNG), ("voice", "v.amr", b"#!AMR\n" + bytes(300)),
     ("video", "c.mp4", None), ("file", "report.pdf", None)],
)  # fmt: skip
def test_each_media_kind_is_uploaded_once_then_sent(
    cli, profile, wecom, tmp_path, kind, name, data
):
    path = media_file(tmp_path, name, data)
    r = cli("push", kind, "-p", "wecom", "-u", "alice", "-u", "bob", str(path))
    assert (r.code, r.stdout) == (0, "2\n"), r.stderr
    [up] = wecom.calls("/cgi-bin/media/upload")
    assert up.query["type"] == kind
    assert up.files["media"].filename == name
    assert up.files["media"].size == path.stat().st_size
    [sent] = wecom.sent()
    media_id = sent.body[kind]["media_id"]
    assert wecom.media[media_id].sha256 == up.files["media"].sha256
    assert sent.touser == ["alice", "bob"]


def test_title_is_the_video_title_and_a_text_before_other_media(cli, profile, wecom, tmp_path):
    vid = media_file(tmp_path, "c.mp4")
    img = media_file(tmp_path, "a.png", PNG)
    assert cli("push", "video", "-p", "wecom", "-u", "alice", str(vid), "-t", "Demo").code == 0
    assert cli("push", "image", "-p", "wecom", "-u", "alice", str(img), "-t", "Chart").code == 0
    video, title, image = wecom.sent()
    assert video.body["video"]["title"] == "Demo"
    assert title.body["text"] == {"content": "Chart"}
    assert image.msgtype == "image"


@pytest.mark.parametrize(
    "kind,name,size,limit",
    [("image", "a.png", 11, "10 MB"), ("voice", "v.amr", 3, "2 MB"),
     ("video", "c.mp4", 11, "10 MB"), ("file", "f.bin", 21, "20 MB")],
)  # fmt: skip
def test_size_limits_are_refused_before_any_request(
    cli, profile, wecom, tmp_path, kind, name, size, limit
):
    path = tmp_path / name
    with open(path, "wb") as fh:
        fh.truncate(size * 1024 * 1024)
    r = cli("push", kind, "-p", "wecom", "-u", "alice", str(path))
    assert (r.code, r.stdout) == (2, "0\n")
    assert limit in r.stderr
    assert wecom.requests == []


def test_voice_must_be_amr(cli, profile, wecom, tmp_path, no_ffmpeg):
    ogg = media_file(tmp_path, "v.ogg", b"OggS" + bytes(300))
    r = cli("push", "voice", "-p", "wecom", "-u", "alice", str(ogg))
    assert (r.code, r.stdout) == (2, "0\n")
    assert "AMR" in r.stderr
    assert wecom.requests == []


def test_mixed_joins_texts_then_sends_each_media(cli, profile, wecom, tmp_path):
    img = media_file(tmp_path, "a.png", PNG)
    doc = media_file(tmp_path, "log.txt", b"line\n" * 20)
    r = cli("push", "mixed", "-p", "wecom", "-u", "alice", "--item", "text=Nightly",
            "--item", f"image={img}", "--item", "markdown=**green**", "--item", f"file={doc}")  # fmt: skip
    assert r.code == 0, r.stderr
    types = [s.msgtype for s in wecom.sent()]
    assert types == ["markdown", "image", "file"]
    assert wecom.sent()[0].body["markdown"]["content"] == "Nightly\n\n**green**"


def test_more_than_1000_users_are_batched_and_media_uploaded_once(cli, write_profile, tmp_path):
    users = [f"u{i:04d}" for i in range(1500)]
    with FakeWeCom(CORP_ID, SECRET, AGENT, users=users) as fake:
        write_profile(account(fake, extra="rate = 0"))
        img = media_file(tmp_path, "a.png", PNG)
        args = [x for u in users for x in ("-u", u)]
        r = cli("push", "image", "-p", "wecom", *args, str(img))
        assert (r.code, r.stdout) == (0, "1500\n"), r.stderr[-500:]
        assert len(fake.calls("/cgi-bin/media/upload")) == 1
        sizes = sorted(len(s.touser) for s in fake.sent())
        assert sizes == [500, 1000]


# -- the matrix and the ids --------------------------------------------------------------------------


def test_group_push_is_refused(cli, profile, wecom):
    r = cli("push", "text", "-p", "wecom", "-g", "g1", "hi")
    assert (r.code, r.stdout) == (2, "0\n")
    assert "wecom: group push is not supported" in r.stderr
    assert wecom.requests == []


def test_an_id_with_a_pipe_is_refused(cli, profile, wecom):
    r = cli("push", "text", "-p", "wecom", "-u", "alice|bob", "hi")
    assert (r.code, r.stdout) == (2, "0\n")
    assert "'|'" in r.stderr
    assert wecom.requests == []


def test_at_all_needs_allow_all(cli, write_profile, wecom):
    write_profile(account(wecom))
    r = cli("push", "text", "-p", "wecom", "-u", "@all", "hi")
    assert (r.code, r.stdout) == (2, "0\n")
    assert "allow_all = true" in r.stderr
    assert wecom.requests == []
    write_profile(account(wecom, extra="allow_all = true"))
    r = cli("push", "text", "-p", "wecom", "-u", "@all", "-u", "alice", "hi")
    assert (r.code, r.stdout) == (0, "2\n"), r.stderr
    tousers = sorted(s.body["touser"] for s in wecom.sent())
    assert tousers == ["@all", "alice"]


# -- tokens ---------------------------------------------------------------------------------------


def test_the_token_is_cached_across_runs(cli, profile, wecom, tmp_path):
    for i in range(3):
        r = cli("push", "text", "-p", "wecom", "-u", "alice", f"run {i}")
        assert r.code == 0, r.stderr
    assert wecom.token_requests == 1
    assert len(wecom.sent()) == 3
    files = list((tmp_path / "cache").glob("wecom-*.json"))
    assert len(files) == 1 and files[0].stat().st_mode & 0o777 == 0o600
    assert SECRET not in files[0].read_text()


def test_two_runs_started_together_fetch_one_token(cli_proc, profile, wecom):
    results: list[Any] = []

    def run(i: int) -> None:
        results.append(cli_proc("push", "text", "-p", "wecom", "-u", "alice", f"proc {i}"))

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [r.code for r in results] == [0, 0], [r.stderr for r in results]
    assert wecom.token_requests == 1
    assert len(wecom.sent()) == 2


def test_an_expired_token_is_renewed_once(cli, profile, wecom):
    assert cli("push", "text", "-p", "wecom", "-u", "alice", "one").code == 0
    wecom.expire_all_tokens()
    r = cli("push", "text", "-p", "wecom", "-u", "alice", "-u", "bob", "two")
    assert (r.code, r.stdout) == (0, "2\n"), r.stderr
    assert wecom.token_requests == 2
    sends = wecom.calls("/cgi-bin/message/send")
    assert len(sends) == 3  # one, then two refused with 42001, then two again
    assert sends[1].query["access_token"] != sends[2].query["access_token"]


def test_wrong_secret_is_exit_3_and_fails_over(cli, write_profile, wecom):
    write_profile(account(wecom, secret="wrong-secret-value"))
    r = cli("push", "text", "-p", "wecom", "-u", "alice", "hi")
    assert (r.code, r.stdout) == (3, "0\n")
    assert "invalid credential (40001)" in r.stderr
    write_profile(
        account(wecom, "bad", secret="wrong-secret-value", extra="default = true")
        + account(wecom, "good")
    )
    r = cli("push", "text", "-p", "wecom", "-u", "alice", "hi", "--json")
    assert r.code == 0, r.stderr
    assert json.loads(r.stdout)["targets"][0]["account"] == "good"
    assert "wrong-secret-value" not in r.output


def test_ip_not_allowed_is_offline(cli, write_profile):
    with FakeWeCom(CORP_ID, SECRET, AGENT, ip_blocked=True) as fake:
        write_profile(account(fake))
        r = cli("push", "text", "-p", "wecom", "-u", "alice", "hi")
        assert (r.code, r.stdout) == (3, "0\n")
        assert "not allow to access from your ip (60020)" in r.stderr


@pytest.mark.parametrize("reply", [RATE_LIMITED, SYSTEM_BUSY])
def test_rate_limit_and_busy_are_retried(cli, profile, wecom, reply):
    wecom.queue("/cgi-bin/message/send", reply)
    r = cli("push", "text", "-p", "wecom", "-u", "alice", "hi")
    assert (r.code, r.stdout) == (0, "1\n"), r.stderr
    assert len(wecom.calls("/cgi-bin/message/send")) == 2


# -- accounts test, dry run, secrets, platforms --------------------------------------------------


def test_accounts_test_gets_a_token(cli, profile, wecom):
    r = cli("accounts", "test", "-v")
    assert r.code == 0, r.output
    assert "online" in r.stdout and f"agent {AGENT}" in r.stdout
    assert wecom.token_requests == 1
    assert_swept(SECRET, *wecom.tokens)


def test_dry_run_sends_nothing_and_shows_no_secret(cli, profile, wecom, tmp_path):
    img = media_file(tmp_path, "a.png", PNG)
    r = cli("push", "image", "-p", "wecom", "-u", "alice", str(img), "--dry-run", "--json")
    assert r.code == 0, r.stderr
    assert wecom.requests == []
    plan = json.loads(r.stdout)
    assert plan["sent"] == 1
    urls = [q["url"] for q in plan["requests"]]
    assert [u.split("?")[0].split("/cgi-bin")[1] for u in urls] == [
        "/gettoken", "/media/upload", "/message/send",
    ]  # fmt: skip
    assert plan["requests"][-1]["body"]["agentid"] == AGENT
    assert SECRET not in r.output and "corpsecret=***" in r.output


def test_verbose_masks_the_secret_and_the_token_in_urls(cli, profile, wecom):
    r = cli("push", "text", "-p", "wecom", "-u", "alice", "-u", "ghost", "hi", "-v")
    assert "GET http://127.0.0.1" in r.stderr and "/cgi-bin/message/send" in r.stderr
    assert_swept(SECRET, *wecom.tokens)


def test_platforms_json_shows_wecom_for_users_with_every_kind(cli):
    rows = json.loads(cli("platforms", "--json").stdout)
    rows = rows["platforms"] if isinstance(rows, dict) else rows
    row = next(p for p in rows if p["platform"] == "wecom")
    assert row["built"] is True and all(row["kinds"].values())
    assert row["user"] and row["group"] is None


def test_an_oversize_mixed_item_is_named_by_its_index(cli, profile, wecom, tmp_path):
    big = tmp_path / "big.png"
    with open(big, "wb") as fh:
        fh.write(PNG)
        fh.truncate(11 * 1024 * 1024)
    r = cli("push", "mixed", "-p", "wecom", "-u", "alice", "--item", "text=a",
            "--item", f"image={big}")  # fmt: skip
    assert (r.code, r.stdout) == (2, "0\n")
    assert "item 1: image" in r.stderr and "10 MB" in r.stderr
    assert wecom.requests == []


# -- interrupts ----------------------------------------------------------------------------------


def test_an_interrupt_while_the_shared_request_is_out_leaves_every_user_uncertain(
    write_profile, wecom
):
    """SIGTERM while the one message/send carrying three users is unanswered: none is
    counted as sent, and each may have been delivered (the request was out)."""
    import os
    import signal
    import subprocess
    import sys
    import time

    from tests.conftest import ROOT
    from tests.fakes.base import Reply

    write_profile(account(wecom))
    ok = {"errcode": 0, "errmsg": "ok", "invaliduser": "", "msgid": "m1"}
    wecom.queue("/cgi-bin/message/send", Reply(200, json=ok, delay=10))
    proc = subprocess.Popen(
        [sys.executable, "-m", "imcli", "push", "text", "-p", "wecom",
         "-u", "a", "-u", "b", "-u", "c", "hi", "--json"],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, cwd=str(ROOT), env=dict(os.environ),
    )  # fmt: skip
    deadline = time.monotonic() + 20
    while not wecom.calls("/cgi-bin/message/send") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert wecom.calls("/cgi-bin/message/send"), "the send never went out"
    proc.send_signal(signal.SIGTERM)
    stdout, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 128 + signal.SIGTERM, stderr
    assert "interrupted; 0 of 3 target(s) sent, 3 more may have been delivered" in stderr
    out = json.loads(stdout)
    assert (out["sent"], out["uncertain"]) == (0, 3), out
    assert all(t["uncertain"] and not t["ok"] for t in out["targets"]), out
