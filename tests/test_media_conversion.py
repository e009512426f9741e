"""Media formats checked by content, URL media checked after download and before upload,
conversions with ffmpeg bounded by --timeout and cleaned up afterwards."""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests._media import AUDIO_FORMATS, VIDEO_FORMATS, clip, kind_of
from tests.fakes.filehost import FileHost
from tests.fakes.wechat import FakeWeChat
from tests.fakes.wecom import FakeWeCom

GIF = b"GIF89a" + bytes(200)
WEBP = b"RIFF" + (200).to_bytes(4, "little") + b"WEBPVP8 " + bytes(200)


@pytest.fixture
def wecom(write_profile: Any) -> Iterator[FakeWeCom]:
    with FakeWeCom() as fake:
        write_profile(
            f'[accounts.corp]\nplatform = "wecom"\ncorp_id = "ww0123456789abcdef"\n'
            f'corp_secret = "wecom-test-secret"\nagent_id = 1000002\nbase_url = "{fake.base_url}"\n'
        )
        yield fake


@pytest.fixture
def wechat(write_profile: Any) -> Iterator[FakeWeChat]:
    with FakeWeChat() as fake:
        write_profile(
            f'[accounts.mp]\nplatform = "wechat"\napp_id = "wx0123456789abcdef"\n'
            f'app_secret = "wechat-test-secret"\nbase_url = "{fake.base_url}"\n'
        )
        yield fake


@pytest.fixture
def temp_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Where imcli's temporary files go during the test."""
    d = tmp_path / "tmp"
    d.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(d))
    return d


def _host(body: bytes) -> FileHost:
    host = FileHost()
    host.body = body
    return host


def test_an_mp3_voice_url_to_wecom_arrives_as_amr(cli, wecom, temp_dir):
    with _host(clip("mp3")) as host:
        r = cli("push", "voice", "-p", "wecom", "-u", "alice", "-u", "bob", f"{host.url}/a.mp3")
        assert (r.code, r.stdout) == (0, "2\n"), r.stderr
        assert len(host.requests) == 1
    [up] = wecom.calls("/cgi-bin/media/upload")
    assert up.files["media"].filename == "a.amr"
    assert kind_of(up.files["media"].data or b"") == "amr"
    assert list(temp_dir.iterdir()) == []  # the download and the conversion are gone


def test_an_mp3_voice_url_to_wecom_without_ffmpeg_is_refused_before_upload(cli, wecom, no_ffmpeg):
    with _host(clip("mp3")) as host:
        r = cli("push", "voice", "-p", "wecom", "-u", "alice", f"{host.url}/a.amr")
    assert (r.code, r.stdout) == (2, "0\n")
    assert "MP3" in r.stderr and "AMR" in r.stderr and "install ffmpeg to convert" in r.stderr
    assert len(r.stderr.splitlines()) == 1
    assert wecom.calls("/cgi-bin/media/upload") == [] and wecom.sent() == []


@pytest.mark.parametrize("body,what", [(GIF, "GIF"), (WEBP, "WEBP")])
def test_an_image_url_wecom_does_not_take_is_refused_before_upload(cli, wecom, body, what):
    with _host(body) as host:
        r = cli("push", "image", "-p", "wecom", "-u", "alice", f"{host.url}/shot.png")
    assert (r.code, r.stdout) == (2, "0\n")
    assert what in r.stderr and "JPG or PNG" in r.stderr
    assert len(r.stderr.splitlines()) == 1
    assert wecom.calls("/cgi-bin/media/upload") == [] and wecom.sent() == []


def test_a_webp_image_url_to_wechat_is_refused_and_a_gif_goes(cli, wechat):
    with _host(WEBP) as host:
        r = cli("push", "image", "-p", "wechat", "-u", "o-alice-openid", f"{host.url}/a.jpg")
    assert (r.code, r.stdout) == (2, "0\n") and "JPG, PNG or GIF" in r.stderr
    assert wechat.calls("/cgi-bin/media/upload") == []
    with _host(GIF) as host:
        r = cli("push", "image", "-p", "wechat", "-u", "o-alice-openid", f"{host.url}/a")
    assert (r.code, r.stdout) == (0, "1\n"), r.stderr
    [up] = wechat.calls("/cgi-bin/media/upload")
    assert up.files["media"].filename == "a.gif"


@pytest.mark.parametrize("fmt", ["mov", "webm"])
def test_a_video_wecom_does_not_take_arrives_as_mp4(cli, wecom, tmp_path, fmt):
    path = tmp_path / f"clip.{fmt}"
    path.write_bytes(clip(fmt))
    r = cli("push", "video", "-p", "wecom", "-u", "alice", str(path))
    assert (r.code, r.stdout) == (0, "1\n"), r.stderr
    [up] = wecom.calls("/cgi-bin/media/upload")
    assert up.query["type"] == "video" and up.files["media"].filename == "clip.mp4"
    assert kind_of(up.files["media"].data or b"") == "mp4"


def test_a_mov_to_wecom_without_ffmpeg_is_refused_up_front(cli, wecom, tmp_path, no_ffmpeg):
    path = tmp_path / "clip.mp4"
    path.write_bytes(clip("mov"))
    r = cli("push", "video", "-p", "wecom", "-u", "alice", str(path))
    assert (r.code, r.stdout) == (2, "0\n")
    assert "MOV" in r.stderr and "install ffmpeg to convert" in r.stderr
    assert wecom.requests == []


SLOW_FFMPEG = """#!{python}
import os, sys, time
open({pidfile!r}, "w").write(str(os.getpid()))
open(sys.argv[-1], "wb").write(b"partial")
time.sleep(30)
"""


def test_a_conversion_is_bounded_by_the_timeout_and_cleaned_up(
    cli, wecom, tmp_path, temp_dir, monkeypatch
):
    bindir = tmp_path / "bin"
    bindir.mkdir()
    pidfile = tmp_path / "ffmpeg.pid"
    script = bindir / "ffmpeg"
    script.write_text(SLOW_FFMPEG.format(python=sys.executable, pidfile=str(pidfile)))
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}")
    wav = tmp_path / "alert.wav"
    wav.write_bytes(clip("wav"))
    start = time.monotonic()
    r = cli("push", "voice", "-p", "wecom", "-u", "alice", str(wav), "--timeout", "2000")
    assert time.monotonic() - start < 10
    assert (r.code, r.stdout) == (1, "0\n"), r.stderr
    assert "timeout" in r.stderr
    assert wecom.calls("/cgi-bin/media/upload") == []
    pid = int(pidfile.read_text())
    for _ in range(50):  # the ffmpeg process was killed
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.05)
    else:
        pytest.fail("ffmpeg still runs after the push ended")
    assert list(temp_dir.iterdir()) == []


@pytest.mark.parametrize("fmt", AUDIO_FORMATS + VIDEO_FORMATS)
def test_probe_tells_formats_by_content(fmt):
    from imcli.media import probe

    assert probe.detect(clip(fmt)) == fmt


@pytest.mark.parametrize(
    ("head", "fmt"),
    [
        (b"\x89PNG\r\n\x1a\n" + b"\0" * 8, "png"),
        (b"\xff\xd8\xff\xe0\0\x10JFIF", "jpeg"),
        (b"GIF89a", "gif"),
        (b"BM" + b"\x46\0\0\0" + b"\0" * 4 + b"\x36\0\0\0\x28", "bmp"),
        (b"BM, not a bitmap", None),  # "BM" alone is not enough
        (b"%PDF-1.7\n", "pdf"),
        (b"PK\x03\x04\x14\0", "zip"),
        (b"RIFF\0\0\0\0WEBPVP8 ", "webp"),
        (b"RIFF\0\0\0\0CDXA", None),  # a RIFF form imcli does not know
        (b"\xff\xd8\xff\xe0ftypqt  ", "jpeg"),  # the first signature that matches wins
        (b"\xff\xf1\x50\x80", "aac"),  # ADTS: layer 00
        (b"\xff\xfb\x90\x00", "mp3"),  # MPEG-1 layer III frame
        (b"", None),
        (b"hello world", None),
    ],
)
def test_probe_tells_images_documents_and_look_alikes_by_content(head, fmt):
    from imcli.media import probe

    assert probe.detect(head) == fmt


def test_a_voice_url_is_checked_before_the_first_message_of_a_mixed_push(
    cli, write_profile, no_ffmpeg
):
    from tests.fakes.lark import FakeLark

    with FakeLark() as lark, _host(clip("mp3")) as host:
        write_profile(
            f'[accounts.f]\nplatform = "lark"\napp_id = "cli_test_app"\n'
            f'app_secret = "test-app-secret"\nbase_url = "{lark.url}"\n'
        )
        r = cli("push", "mixed", "-p", "lark", "-g", "oc_a", "--item", "text=Nightly",
                "--item", f"voice={host.url}/note.opus")  # fmt: skip
        assert (r.code, r.stdout) == (2, "0\n")
        assert "Ogg/Opus" in r.stderr and "install ffmpeg to convert" in r.stderr
        assert "item 1: voice" in r.stderr
        assert lark.sent_messages() == []


def test_a_voice_from_stdin_is_converted_too(cli, wecom, temp_dir):
    r = cli("push", "voice", "-p", "wecom", "-u", "alice", "-", input=clip("wav"))
    assert (r.code, r.stdout) == (0, "1\n"), r.stderr
    [up] = wecom.calls("/cgi-bin/media/upload")
    assert kind_of(up.files["media"].data or b"") == "amr"
    assert [p for p in temp_dir.iterdir() if p.name.startswith("imcli-conv")] == []
