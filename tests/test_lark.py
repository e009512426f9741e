"""Lark / Feishu end to end: the CLI against the fake Open Platform on 127.0.0.1."""

from __future__ import annotations

import hashlib
import json
import os
import stat
import struct
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests._media import PNG, clip, kind_of
from tests.conftest import assert_swept
from tests.fakes.filehost import FileHost
from tests.fakes.lark import FakeLark

APP_ID = "cli_test_app"
APP_SECRET = "lark-SECRET-0123456789"
MB = 1 << 20


def ogg_page(granule: int, payload: bytes, header_type: int = 0, seq: int = 0) -> bytes:
    segs = [255] * (len(payload) // 255) + [len(payload) % 255]
    return (
        b"OggS" + bytes([0, header_type]) + struct.pack("<qIII", granule, 1, seq, 0)
        + bytes([len(segs)]) + bytes(segs) + payload
    )  # fmt: skip


def opus_file(seconds: float, pre_skip: int = 312) -> bytes:
    """An Ogg Opus stream: OpusHead page, OpusTags, one audio page ending at ``seconds``."""
    head = b"OpusHead" + bytes([1, 1]) + struct.pack("<HIhB", pre_skip, 48000, 0, 0)
    tags = b"OpusTags" + struct.pack("<I", 5) + b"imcli" + struct.pack("<I", 0)
    audio = os.urandom(3000)
    end = int(seconds * 48000) + pre_skip
    return (
        ogg_page(0, head, header_type=2) + ogg_page(0, tags, seq=1)
        + ogg_page(end, audio, header_type=4, seq=2)
    )  # fmt: skip


def mp4_file(ms: int) -> bytes:
    """ftyp + mdat + moov/mvhd (version 0, timescale 1000): moov after the media data."""
    ftyp = struct.pack(">I", 24) + b"ftypisom" + struct.pack(">I", 512) + b"isommp41"
    mdat_body = os.urandom(4000)
    mdat = struct.pack(">I", 8 + len(mdat_body)) + b"mdat" + mdat_body
    mvhd_body = bytes(4) + struct.pack(">IIII", 0, 0, 1000, ms) + bytes(80)
    mvhd = struct.pack(">I", 8 + len(mvhd_body)) + b"mvhd" + mvhd_body
    moov = struct.pack(">I", 8 + len(mvhd)) + b"moov" + mvhd
    return ftyp + mdat + moov


@pytest.fixture
def lark() -> Iterator[FakeLark]:
    with FakeLark(APP_ID, APP_SECRET, unknown_receive_ids=["oc_gone", "ou_gone"]) as s:
        yield s  # type: ignore[misc]


@pytest.fixture
def profile(account_profile: Any, lark: FakeLark) -> Path:
    return account_profile(
        "lark", "feishu", app_id=APP_ID, app_secret=APP_SECRET, base_url=lark.url
    )


def sent(lark: FakeLark) -> list[Any]:
    return lark.sent_messages()


# -- text ----------------------------------------------------------------------------------


def test_text_is_a_text_message_with_json_string_content(cli, profile, lark):
    r = cli("push", "text", "-p", "lark", "-g", "oc_team", 'hello "world" <b>')
    assert (r.code, r.stdout, r.stderr) == (0, "1\n", "")
    [rec] = lark.message_records()
    assert (rec["receive_id_type"], rec["receive_id"], rec["msg_type"]) == (
        "chat_id",
        "oc_team",
        "text",
    )
    assert rec["raw_content"] == json.dumps(
        {"text": 'hello "world" <b>'}, ensure_ascii=False, separators=(",", ":")
    )
    assert rec["content"] == {"text": 'hello "world" <b>'}
    assert rec["uuid"] and len(rec["uuid"]) <= 50
    [call] = lark.calls("/im/v1/messages")
    assert call.query == {"receive_id_type": "chat_id"}
    assert call.headers["authorization"].startswith("Bearer t-")
    assert call.headers["content-type"] == "application/json; charset=utf-8"


@pytest.mark.parametrize(
    "flag,target,id_type",
    [("-u", "ou_alice", "open_id"), ("-u", "on_alice", "union_id"),
     ("-u", "alice@example.com", "email"), ("-u", "oc_dm", "chat_id"),
     ("-g", "oc_group", "chat_id")],
)  # fmt: skip
def test_the_target_id_picks_receive_id_type(cli, profile, lark, flag, target, id_type):
    r = cli("push", "text", "-p", "feishu", flag, target, "hi")
    assert (r.code, r.stdout) == (0, "1\n"), r.stderr
    [m] = sent(lark)
    assert (m.receive_id_type, m.receive_id) == (id_type, target)


def test_title_makes_a_post_with_text_elements(cli, profile, lark):
    r = cli("push", "text", "-p", "lark", "-g", "oc_x", "-t", "Backup", "line 1\nline 2")
    assert r.code == 0, r.stderr
    [m] = sent(lark)
    assert m.msg_type == "post"
    assert m.content == {
        "zh_cn": {"title": "Backup", "content": [[{"tag": "text", "text": "line 1\nline 2"}]]}
    }


def test_title_alone_is_a_text_message(cli, profile, lark):
    assert cli("push", "text", "-p", "lark", "-g", "oc_x", "-t", "only title").code == 0
    [m] = sent(lark)
    assert (m.msg_type, m.content) == ("text", {"text": "only title"})


def test_markdown_is_a_post_with_md_elements(cli, profile, lark):
    md = "**done** see [logs](https://example.com)\n\n- one\n- two"
    r = cli("push", "text", "-p", "lark", "-g", "oc_x", "--markdown", md)
    assert r.code == 0, r.stderr
    [m] = sent(lark)
    assert m.msg_type == "post"
    assert m.content == {"zh_cn": {"content": [[{"tag": "md", "text": md}]]}}


def test_long_text_is_split_within_150_kb_bodies(cli, profile, lark):
    lines = [f"行 {i:05d} " + "数据" * 40 for i in range(1500)]  # ~380 KB of UTF-8
    r = cli("push", "text", "-p", "lark", "-g", "oc_x", "--json", "\n".join(lines))
    assert r.code == 0, r.stderr
    recs = lark.message_records()
    assert len(recs) == 3
    assert all(rec["body_size"] <= 150 * 1024 for rec in recs)
    assert "\n".join(rec["content"]["text"] for rec in recs).split("\n") == lines
    assert len(json.loads(r.stdout)["targets"][0]["message_ids"]) == 3


def test_a_title_too_long_to_head_a_post_is_its_own_message_and_counted(cli, profile, lark):
    """A title over half a post goes first as a text message: the push takes two
    messages, and says so (parts_total is what was sent, not one)."""
    title = "T" * 15_000
    r = cli("push", "text", "-p", "lark", "-g", "oc_x", "-t", title, "body", "--json")
    assert r.code == 0, r.stderr
    assert [(m.msg_type, m.content) for m in sent(lark)] == [
        ("text", {"text": title}),
        ("text", {"text": "body"}),
    ]
    [t] = json.loads(r.stdout)["targets"]
    assert (t.get("parts_sent"), t.get("parts_total")) == (2, 2), t


def test_long_post_is_split_within_30_kb_bodies(cli, profile, lark):
    lines = [f"para {i:04d} " + "z" * 90 for i in range(700)]  # ~70 KB
    r = cli("push", "text", "-p", "lark", "-g", "oc_x", "-t", "Report", "\n".join(lines))
    assert r.code == 0, r.stderr
    recs = lark.message_records()
    assert len(recs) >= 3
    assert all(rec["msg_type"] == "post" and rec["body_size"] <= 30 * 1024 for rec in recs)
    assert recs[0]["content"]["zh_cn"]["title"] == "Report"
    assert "title" not in recs[1]["content"]["zh_cn"]
    texts = [el["text"] for rec in recs for p in rec["content"]["zh_cn"]["content"] for el in p]
    assert "\n".join(texts).split("\n") == lines


# -- token ---------------------------------------------------------------------------------


def test_three_pushes_in_a_row_fetch_one_token(cli, profile, lark, isolated_env):
    for i in range(3):
        r = cli("push", "text", "-p", "lark", "-g", "oc_a", "-g", "oc_b", f"run {i}")
        assert (r.code, r.stdout) == (0, "2\n"), r.stderr
    assert lark.token_requests == 1
    assert len(sent(lark)) == 6
    [cached] = [p for p in (isolated_env / "cache").iterdir() if p.suffix == ".json"]
    assert stat.S_IMODE(cached.stat().st_mode) == 0o600
    assert APP_SECRET not in cached.read_text()
    assert lark.calls("tenant_access_token")[0].json == {"app_id": APP_ID, "app_secret": APP_SECRET}


def test_an_expired_token_is_refreshed_once_and_the_request_retried(cli, profile, lark):
    assert cli("push", "text", "-p", "lark", "-g", "oc_a", "warm up").code == 0
    lark.expire_all_tokens()
    r = cli("push", "text", "-p", "lark", "-g", "oc_a", "-g", "oc_b", "-g", "oc_c", "again")
    assert (r.code, r.stdout) == (0, "3\n"), r.stderr
    assert lark.token_requests == 2
    assert [m.content["text"] for m in sent(lark)].count("again") == 3
    assert lark.tokens_issued[-1] in lark.valid_tokens()


def test_wrong_secret_fails_over_to_the_next_account(cli, write_profile, lark):
    write_profile(
        f'[accounts.old]\nplatform = "lark"\napp_id = "{APP_ID}"\napp_secret = "old-wrong-secret"\n'
        f'base_url = "{lark.url}"\ndefault = true\n\n'
        f'[accounts.feishu]\nplatform = "lark"\napp_id = "{APP_ID}"\napp_secret = "{APP_SECRET}"\n'
        f'base_url = "{lark.url}"\n'
    )
    r = cli("push", "text", "-p", "lark", "-g", "oc_a", "-g", "oc_b", "hi", "--json")
    assert r.code == 0, r.stderr
    assert {t["account"] for t in json.loads(r.stdout)["targets"]} == {"feishu"}
    assert "old" in r.stderr and "app secret invalid (10014)" in r.stderr
    assert lark.token_requests == 2  # one refusal for the whole push, then the next account
    assert "old-wrong-secret" not in r.output
    assert_swept(APP_SECRET, *lark.tokens_issued)


def test_every_account_rejected_is_exit_3(cli, write_profile, lark):
    write_profile(
        f'[accounts.a]\nplatform = "lark"\napp_id = "cli_unknown"\napp_secret = "whatever-1"\n'
        f'base_url = "{lark.url}"\n'
    )
    r = cli("push", "text", "-p", "lark", "-g", "oc_a", "hi")
    assert (r.code, r.stdout) == (3, "0\n")
    assert "invalid param (10003)" in r.stderr and "imcli accounts test" in r.stderr
    assert sent(lark) == []


def test_accounts_test_fetches_a_token(cli, profile, lark):
    r = cli("accounts", "test", "-v")
    assert r.code == 0, r.output
    assert "tenant_access_token valid" in r.stdout
    assert lark.token_requests == 1
    assert_swept(APP_SECRET, *lark.tokens_issued)


# -- media -----------------------------------------------------------------------------------


def test_image_is_uploaded_once_for_every_target(cli, profile, lark, tmp_path):
    img = tmp_path / "pic.png"
    img.write_bytes(PNG)
    r = cli(
        "push", "image", "-p", "lark", "-g", "oc_a", "-u", "ou_b", "-u", "c@example.com", str(img)
    )
    assert (r.code, r.stdout) == (0, "3\n"), r.stderr
    [up] = lark.calls("/im/v1/images")
    assert up.form == {"image_type": "message"}
    assert up.files["image"].filename == "pic.png"
    assert up.files["image"].sha256 == hashlib.sha256(PNG).hexdigest()
    keys = {m.content["image_key"] for m in sent(lark)}
    assert len(keys) == 1 and {m.msg_type for m in sent(lark)} == {"image"}
    assert lark.uploads[keys.pop()].sha256 == hashlib.sha256(PNG).hexdigest()


def test_image_with_title_is_a_post_with_an_img(cli, profile, lark, tmp_path):
    img = tmp_path / "pic.png"
    img.write_bytes(PNG)
    r = cli("push", "image", "-p", "lark", "-g", "oc_a", str(img), "-t", "Chart")
    assert r.code == 0, r.stderr
    [m] = sent(lark)
    key = next(iter(k for k in lark.uploads))
    assert m.msg_type == "post"
    assert m.content == {
        "zh_cn": {"title": "Chart", "content": [[{"tag": "img", "image_key": key}]]}
    }


def test_voice_is_an_opus_upload_with_its_duration(cli, profile, lark, tmp_path):
    voice = tmp_path / "note.opus"
    data = opus_file(3.5)
    voice.write_bytes(data)
    r = cli("push", "voice", "-p", "lark", "-u", "ou_a", str(voice), "-t", "Listen")
    assert (r.code, r.stdout) == (0, "1\n"), r.stderr
    [up] = lark.calls("/im/v1/files")
    assert up.form == {"file_type": "opus", "file_name": "note.opus", "duration": "3500"}
    assert up.files["file"].sha256 == hashlib.sha256(data).hexdigest()
    title, audio = sent(lark)
    assert (title.msg_type, title.content) == ("text", {"text": "Listen"})
    assert audio.msg_type == "audio" and lark.uploads[audio.content["file_key"]].file_type == "opus"


def test_video_is_an_mp4_upload_sent_as_media(cli, profile, lark, tmp_path):
    video = tmp_path / "clip.mp4"
    data = mp4_file(12_345)
    video.write_bytes(data)
    r = cli("push", "video", "-p", "lark", "-g", "oc_a", str(video))
    assert r.code == 0, r.stderr
    [up] = lark.calls("/im/v1/files")
    assert up.form == {"file_type": "mp4", "file_name": "clip.mp4", "duration": "12345"}
    [m] = sent(lark)
    assert (
        m.msg_type == "media"
        and lark.uploads[m.content["file_key"]].sha256 == hashlib.sha256(data).hexdigest()
    )


@pytest.mark.parametrize(
    "name,file_type",
    [
        ("r.pdf", "pdf"),
        ("a.docx", "doc"),
        ("b.xls", "xls"),
        ("c.pptx", "ppt"),
        ("d.tar.gz", "stream"),
    ],
)
def test_file_type_follows_the_extension(cli, profile, lark, tmp_path, name, file_type):
    f = tmp_path / name
    f.write_bytes(os.urandom(2048))
    r = cli("push", "file", "-p", "lark", "-g", "oc_a", str(f))
    assert r.code == 0, r.stderr
    [up] = lark.calls("/im/v1/files")
    assert up.form == {"file_type": file_type, "file_name": name}
    [m] = sent(lark)
    assert m.msg_type == "file" and lark.uploads[m.content["file_key"]].file_name == name


def test_non_opus_voice_is_refused_without_ffmpeg(cli, profile, lark, tmp_path, no_ffmpeg):
    mp3 = tmp_path / "song.mp3"
    mp3.write_bytes(b"ID3" + os.urandom(1000))
    r = cli("push", "voice", "-p", "lark", "-u", "ou_a", str(mp3))
    assert (r.code, r.stdout) == (2, "0\n")
    assert "Ogg/Opus" in r.stderr and "song.mp3" in r.stderr
    assert lark.requests == []


FAKE_FFMPEG = """#!{python}
import sys
args = sys.argv[1:]
src, out = args[args.index("-i") + 1], args[-1]
assert args[args.index("-acodec") + 1] == "libopus", args
open({log!r}, "a").write(" ".join(args) + "\\n")
data = open(src, "rb").read()
open(out, "wb").write({opus!r})
"""


def test_non_opus_voice_is_converted_when_ffmpeg_is_on_path(
    cli, profile, lark, tmp_path, monkeypatch
):
    bindir = tmp_path / "bin"
    bindir.mkdir()
    converted = opus_file(2.0)
    log = tmp_path / "ffmpeg.log"
    script = bindir / "ffmpeg"
    script.write_text(FAKE_FFMPEG.format(python=sys.executable, log=str(log), opus=converted))
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}")
    wav = tmp_path / "memo.wav"
    wav.write_bytes(b"RIFF" + os.urandom(5000))
    r = cli("push", "voice", "-p", "lark", "-u", "ou_a", "-u", "ou_b", str(wav))
    assert (r.code, r.stdout) == (0, "2\n"), r.stderr
    assert len(log.read_text().splitlines()) == 1  # converted once per push
    [up] = lark.calls("/im/v1/files")
    assert up.form == {"file_type": "opus", "file_name": "memo.ogg", "duration": "2000"}
    assert up.files["file"].sha256 == hashlib.sha256(converted).hexdigest()
    assert {m.msg_type for m in sent(lark)} == {"audio"}


@pytest.mark.parametrize("kind,size,limit", [("image", 11 * MB, "10 MB"), ("file", 31 * MB, "30 MB"),
                                             ("video", 31 * MB, "30 MB")])  # fmt: skip
def test_size_limits_are_checked_before_any_request(
    cli, profile, lark, tmp_path, kind, size, limit
):
    big = tmp_path / "big.bin"
    with open(big, "wb") as fh:
        fh.truncate(size)
    r = cli("push", kind, "-p", "lark", "-g", "oc_a", str(big))
    assert (r.code, r.stdout) == (2, "0\n")
    assert f"{limit} limit" in r.stderr
    assert lark.requests == []


def test_url_source_is_downloaded_and_uploaded_once(cli, profile, lark):
    with FileHost() as host:
        r = cli("push", "image", "-p", "lark", "-g", "oc_a", "-g", "oc_b", f"{host.url}/shot.png")
        assert (r.code, r.stdout) == (0, "2\n"), r.stderr
        assert len(host.calls("/shot.png")) == 1
    [up] = lark.calls("/im/v1/images")
    assert up.files["image"].filename == "shot.png"
    assert up.files["image"].sha256 == hashlib.sha256(FileHost.body).hexdigest()


def test_mixed_is_one_post_then_the_other_media(cli, profile, lark, tmp_path):
    a = tmp_path / "a.png"
    a.write_bytes(PNG)
    voice = tmp_path / "v.opus"
    voice.write_bytes(opus_file(1.0))
    doc = tmp_path / "r.pdf"
    doc.write_bytes(b"%PDF-1 report")
    items = tmp_path / "items.json"
    items.write_text(json.dumps([
        {"type": "text", "text": "Nightly"},
        {"type": "image", "source": str(a), "caption": "the graph"},
        {"type": "markdown", "text": "**all green**"},
        {"type": "voice", "source": str(voice)},
        {"type": "file", "path": str(doc)},
    ]))  # fmt: skip
    r = cli("push", "mixed", "-p", "lark", "-g", "oc_a", str(items), "-t", "Title", "--json")
    assert r.code == 0, r.stderr
    msgs = sent(lark)
    assert [m.msg_type for m in msgs] == ["post", "audio", "file"]
    image_key = next(k for k, u in lark.uploads.items() if u.kind == "image")
    assert msgs[0].content == {
        "zh_cn": {
            "title": "Title",
            "content": [
                [{"tag": "text", "text": "Nightly"}],
                [{"tag": "img", "image_key": image_key}],
                [{"tag": "text", "text": "the graph"}],
                [{"tag": "md", "text": "**all green**"}],
            ],
        }
    }
    assert len(json.loads(r.stdout)["targets"][0]["message_ids"]) == 3


# -- errors and retries --------------------------------------------------------------------


def test_platform_error_names_code_and_message(cli, profile, lark):
    r = cli("push", "text", "-p", "lark", "-g", "oc_gone", "-g", "oc_ok", "hi")
    assert (r.code, r.stdout) == (1, "1\n")
    assert r.stderr == "lark group:oc_gone: Bot/User can NOT be out of the chat. (230002)\n"


def test_429_obeys_x_ogw_ratelimit_reset(cli, profile, lark):
    lark.queue("/im/v1/messages", FakeLark.rate_limited(1))
    r = cli("push", "text", "-p", "lark", "-g", "oc_a", "hi")
    assert (r.code, r.stdout) == (0, "1\n"), r.stderr
    calls = lark.calls("/im/v1/messages")
    assert len(calls) == 2 and calls[1].arrived - calls[0].arrived >= 0.95
    assert len(sent(lark)) == 1


def test_rate_limit_code_in_a_400_and_the_chat_frequency_limit_are_retried(cli, profile, lark):
    lark.queue("/im/v1/messages", FakeLark.rate_limited(1, status=400))
    lark.queue(
        "/im/v1/messages", FakeLark.error(230020, "This operation triggers the frequency limit.")
    )
    r = cli("push", "text", "-p", "lark", "-g", "oc_a", "hi")
    assert (r.code, r.stdout) == (0, "1\n"), r.stderr
    assert len(lark.calls("/im/v1/messages")) == 3 and len(sent(lark)) == 1


@pytest.mark.real_clock  # the fake counts arrivals on the system clock
def test_fan_out_to_one_chat_rate_does_not_provoke_limits(cli, profile, lark):
    lark.enforce_chat_rate = True
    lark.enforce_app_rate = True
    targets = [a for i in range(12) for a in ("-g", f"oc_{i}")]
    t0 = time.monotonic()
    r = cli("push", "text", "-p", "lark", *targets, "hi")
    assert (r.code, r.stdout) == (0, "12\n"), r.stderr
    assert lark.rate_limited_count == 0 and time.monotonic() - t0 < 5


# -- dry run and secrets ---------------------------------------------------------------------


def test_dry_run_makes_no_request_and_prints_no_secret(cli, profile, lark, tmp_path):
    img = tmp_path / "a.png"
    img.write_bytes(PNG)
    r = cli("push", "image", "-p", "lark", "-g", "oc_a", str(img), "--dry-run", "-v")
    assert (r.code, r.stdout) == (0, "1\n"), r.stderr
    assert lark.requests == []
    assert "/open-apis/im/v1/images" in r.stderr and "a.png" in r.stderr
    assert "receive_id_type=chat_id" in r.stderr
    assert_swept(APP_SECRET, *lark.tokens_issued)
    r = cli("push", "text", "-p", "lark", "-u", "ou_a", "hi", "--dry-run", "--json")
    plan = json.loads(r.stdout)
    token_req, send_req = plan["requests"]
    assert token_req["body"] == {"app_id": APP_ID, "app_secret": "***"}
    assert send_req["body"]["content"] == '{"text":"hi"}'
    assert lark.requests == []
    assert_swept(APP_SECRET, *lark.tokens_issued)


def test_no_secret_in_any_output(cli, profile, lark, tmp_path, monkeypatch):
    monkeypatch.setenv("LARK_SECRET_VAR", APP_SECRET)
    profile.write_text(
        f'[accounts.feishu]\nplatform = "lark"\napp_id = "{APP_ID}"\n'
        f'app_secret = "${{LARK_SECRET_VAR}}"\nbase_url = "{lark.url}"\n'
    )
    img = tmp_path / "a.png"
    img.write_bytes(PNG)
    outputs = [
        cli("push", "text", "-p", "lark", "-g", "oc_gone", "-g", "oc_a", "hi", "-v", "--json"),
        cli("push", "image", "-p", "lark", "-g", "oc_a", str(img), "-v"),
        cli("accounts", "list", "--json"),
        cli("accounts", "test", "-v"),
    ]
    assert "POST http://127.0.0.1:" in outputs[0].stderr
    assert lark.tokens_issued
    assert_swept(APP_SECRET, *lark.tokens_issued)  # every output above was scanned for them


@pytest.mark.parametrize("fmt", ["mov", "webm", "mkv"])
def test_a_video_that_is_not_mp4_is_converted_to_mp4(cli, profile, lark, tmp_path, fmt):
    path = tmp_path / "clip.mp4"  # the name says MP4: the content decides
    path.write_bytes(clip(fmt))
    r = cli("push", "video", "-p", "lark", "-g", "oc_a", "-g", "oc_b", str(path))
    assert (r.code, r.stdout) == (0, "2\n"), r.stderr
    [up] = lark.calls("/im/v1/files")
    assert up.form["file_type"] == "mp4"
    [key] = {m.content["file_key"] for m in sent(lark)}
    assert kind_of(lark.uploads[key].data or b"") == "mp4"


def test_an_mp4_video_goes_as_it_is(cli, profile, lark, tmp_path):
    path = tmp_path / "clip.mp4"
    path.write_bytes(clip("mp4"))
    r = cli("push", "video", "-p", "lark", "-g", "oc_a", str(path))
    assert (r.code, r.stdout) == (0, "1\n"), r.stderr
    [up] = lark.calls("/im/v1/files")
    assert up.files["file"].sha256 == hashlib.sha256(clip("mp4")).hexdigest()


def test_a_mov_video_is_refused_up_front_without_ffmpeg(cli, profile, lark, tmp_path, no_ffmpeg):
    path = tmp_path / "clip.mov"
    path.write_bytes(clip("mov"))
    r = cli("push", "video", "-p", "lark", "-g", "oc_a", str(path))
    assert (r.code, r.stdout) == (2, "0\n")
    assert "MP4" in r.stderr and "install ffmpeg to convert" in r.stderr
    assert lark.requests == []
