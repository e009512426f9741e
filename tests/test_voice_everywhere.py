"""`push voice alert.<ext>` arrives as a playable voice on every platform.

Real clips (tests._media: one second, made by imageio-ffmpeg's ffmpeg) go to each
platform's fake; what arrived is judged by its content (mutagen tells Ogg/Opus from
Ogg/Vorbis), not by its name. With ffmpeg, every input arrives in a format the platform
plays; without it, the formats a platform does not take are refused up front (exit 2,
one line naming the accepted formats and "install ffmpeg to convert").
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

import pytest

from tests._media import AUDIO_FORMATS, clip, kind_of
from tests.conftest import TG_TOKEN
from tests.fakes.lark import FakeLark
from tests.fakes.onebot import FakeOneBot
from tests.fakes.slack import FakeSlack
from tests.fakes.telegram import FakeTelegram
from tests.fakes.wechat import FakeWeChat
from tests.fakes.wecom import FakeWeCom

EXT = {"mp3": "mp3", "wav": "wav", "m4a": "m4a", "ogg-vorbis": "ogg", "ogg-opus": "ogg",
       "amr": "amr"}  # fmt: skip

#: platform → input format → what arrives (the table of the README's "Voice" section)
ARRIVES: dict[str, dict[str, str]] = {
    "telegram": {"mp3": "mp3", "wav": "ogg-opus", "m4a": "m4a", "ogg-vorbis": "ogg-opus",
                 "ogg-opus": "ogg-opus", "amr": "ogg-opus"},
    "wechat": {"mp3": "mp3", "wav": "mp3", "m4a": "mp3", "ogg-vorbis": "mp3",
               "ogg-opus": "mp3", "amr": "amr"},
    "qq": {"mp3": "mp3", "wav": "amr", "m4a": "amr", "ogg-vorbis": "amr", "ogg-opus": "amr",
           "amr": "amr"},
    "lark": dict.fromkeys(AUDIO_FORMATS, "ogg-opus"),
    "wecom": dict.fromkeys(AUDIO_FORMATS, "amr"),
    # Slack has no voice messages: the file is uploaded, and plays inline unless AMR
    "slack": {f: "mp3" if f == "amr" else f for f in AUDIO_FORMATS},
}  # fmt: skip
LABELS = {"telegram": "OGG/Opus, MP3 or M4A", "wechat": "AMR or MP3", "qq": "SILK, AMR or MP3",
          "lark": "Ogg/Opus", "wecom": "AMR", "slack": "MP3, M4A, WAV, Ogg or FLAC"}  # fmt: skip
TARGET = {"telegram": "42", "wechat": "o-alice-openid", "qq": "20001", "lark": "ou_alice",
          "slack": "C0TEAM", "wecom": "alice"}  # fmt: skip


@contextmanager
def platform(name: str) -> Iterator[tuple[Any, str, Callable[[], bytes]]]:
    """(fake, profile TOML, a function returning the bytes of the one voice that arrived)."""
    with ExitStack() as stack:
        if name == "telegram":
            tg = stack.enter_context(FakeTelegram())
            toml = f'platform = "telegram"\ntoken = "{TG_TOKEN}"\nbase_url = "{tg.api_url}"\n'

            def got() -> bytes:
                [m] = tg.messages
                assert "voice" in m, m  # not turned into a document
                [call] = tg.calls("sendVoice")
                return call.files["voice"].data or b""

            yield tg, toml, got
        elif name == "wechat":
            wx = stack.enter_context(FakeWeChat())
            toml = (f'platform = "wechat"\napp_id = "wx0123456789abcdef"\n'
                    f'app_secret = "wechat-test-secret"\nbase_url = "{wx.base_url}"\n')  # fmt: skip

            def got() -> bytes:
                [sent] = wx.sent()
                assert sent.msgtype == "voice"
                return wx.media[sent.body["voice"]["media_id"]].data or b""

            yield wx, toml, got
        elif name == "wecom":
            wc = stack.enter_context(FakeWeCom())
            toml = (f'platform = "wecom"\ncorp_id = "ww0123456789abcdef"\n'
                    f'corp_secret = "wecom-test-secret"\nagent_id = 1000002\n'
                    f'base_url = "{wc.base_url}"\n')  # fmt: skip

            def got() -> bytes:
                [sent] = wc.sent()
                assert sent.msgtype == "voice"
                return wc.media[sent.body["voice"]["media_id"]].data or b""

            yield wc, toml, got
        elif name == "lark":
            lk = stack.enter_context(FakeLark())
            toml = (f'platform = "lark"\napp_id = "cli_test_app"\napp_secret = "test-app-secret"\n'
                    f'base_url = "{lk.url}"\n')  # fmt: skip

            def got() -> bytes:
                [m] = lk.sent_messages()
                assert m.msg_type == "audio"
                return lk.uploads[m.content["file_key"]].data or b""

            yield lk, toml, got
        elif name == "slack":
            sl = stack.enter_context(FakeSlack())
            toml = f'platform = "slack"\ntoken = "xoxb-test-token"\nbase_url = "{sl.url}"\n'

            def got() -> bytes:
                [f] = sl.uploaded_files().values()
                return f.data or b""

            yield sl, toml, got
        else:
            ob = stack.enter_context(FakeOneBot(flavor="napcat"))
            toml = f'platform = "qq"\nbase_url = "{ob.base_url}"\n'

            def got() -> bytes:
                [sent] = ob.sent()
                assert sent.message[0]["type"] == "record"
                return sent.payloads[0] or b""

            yield ob, toml, got


@pytest.mark.parametrize("fmt", AUDIO_FORMATS)
@pytest.mark.parametrize("name", list(ARRIVES))
def test_every_voice_arrives_playable(cli, write_profile, tmp_path, name, fmt):
    voice = tmp_path / f"alert.{EXT[fmt]}"
    voice.write_bytes(clip(fmt))
    with platform(name) as (_, toml, got):
        write_profile(f"[accounts.a]\n{toml}")
        r = cli(
            "push", "voice", "-a", "a", "-u" if name != "slack" else "-g", TARGET[name], str(voice)
        )
        assert (r.code, r.stdout) == (0, "1\n"), r.stderr
        assert kind_of(got()) == ARRIVES[name][fmt]


@pytest.mark.parametrize("fmt", AUDIO_FORMATS)
@pytest.mark.parametrize("name", list(LABELS))
def test_without_ffmpeg_what_a_platform_does_not_take_is_refused_up_front(
    cli, write_profile, tmp_path, no_ffmpeg, name, fmt
):
    voice = tmp_path / f"alert.{EXT[fmt]}"
    voice.write_bytes(clip(fmt))
    with platform(name) as (fake, toml, got):
        write_profile(f"[accounts.a]\n{toml}")
        kind = "-u" if name != "slack" else "-g"
        r = cli("push", "voice", "-a", "a", kind, TARGET[name], str(voice))
        if ARRIVES[name][fmt] == fmt:  # taken as it is
            assert (r.code, r.stdout) == (0, "1\n"), r.stderr
            assert kind_of(got()) == fmt
        else:
            assert (r.code, r.stdout) == (2, "0\n")
            assert LABELS[name] in r.stderr and "install ffmpeg to convert" in r.stderr
            assert len(r.stderr.splitlines()) == 1
            assert fake.requests == []


def test_the_readme_table_is_what_these_tests_measure():
    from tests.conftest import ROOT

    text = (ROOT / "README.md").read_text(encoding="utf-8")
    head = "| platform | " + " | ".join(AUDIO_FORMATS) + " |"
    assert head in text
    rows = text.split(head, 1)[1].split("\n\n", 1)[0].strip().splitlines()[1:]
    table = {}
    for row in rows:
        cells = [c.strip() for c in row.strip("|").split("|")]
        table[cells[0]] = dict(zip(AUDIO_FORMATS, cells[1:], strict=True))
    assert table == ARRIVES


def test_platforms_json_lists_the_formats_each_platform_takes(cli):
    import json

    rows = {row["platform"]: row for row in json.loads(cli("platforms", "--json").stdout)}
    assert rows["wecom"]["formats"]["voice"] == {"accepted": ["amr"], "convert_to": "amr"}
    assert rows["lark"]["formats"]["video"] == {"accepted": ["mp4"], "convert_to": "mp4"}
    for name, arrives in ARRIVES.items():
        accepted = rows[name]["formats"]["voice"]["accepted"]
        assert all(fmt in accepted for fmt in arrives.values()), name
