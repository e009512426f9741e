"""The webhook platforms (wecom-robot, lark-robot, dingtalk-robot, discord-webhook,
slack-webhook) against their fakes: every kind end to end, signatures, errors, retries,
rate limits, masking and the implicit target."""

from __future__ import annotations

import base64
import hashlib
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.base import Reply
from tests.fakes.webhooks import (
    FakeDingTalkRobot,
    FakeDiscordWebhook,
    FakeLarkRobot,
    FakeSlackWebhook,
    FakeWeComRobot,
)

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8
AMR = b"#!AMR\n" + bytes(range(256)) * 4
WECOM_KEY = "wecom-robot-key-0001"
DD_TOKEN, DD_SECRET = "dingtalk-token-0001", "SEC-dingtalk-secret-0001"
LARK_TOKEN, LARK_SECRET = "lark-hook-token-0001", "lark-bot-secret-0001"
DISCORD_ID, DISCORD_TOKEN = "112233445566778899", "discord-hook-token_0001"
SLACK_PATH = "/services/T0001/B0001/slack-hook-secret-0001"


@pytest.fixture
def wecom() -> Iterator[FakeWeComRobot]:
    with FakeWeComRobot(WECOM_KEY) as server:
        yield server  # type: ignore[misc]


@pytest.fixture
def dingtalk() -> Iterator[FakeDingTalkRobot]:
    with FakeDingTalkRobot(DD_TOKEN, DD_SECRET) as server:
        yield server  # type: ignore[misc]


@pytest.fixture
def lark() -> Iterator[FakeLarkRobot]:
    with FakeLarkRobot(LARK_TOKEN, LARK_SECRET) as server:
        yield server  # type: ignore[misc]


@pytest.fixture
def discord() -> Iterator[FakeDiscordWebhook]:
    with FakeDiscordWebhook(DISCORD_ID, DISCORD_TOKEN) as server:
        yield server  # type: ignore[misc]


@pytest.fixture
def slack() -> Iterator[FakeSlackWebhook]:
    with FakeSlackWebhook(SLACK_PATH) as server:
        yield server  # type: ignore[misc]


@pytest.fixture
def profile(
    write_profile: Any, wecom: Any, dingtalk: Any, lark: Any, discord: Any, slack: Any
) -> Path:
    """One account per webhook platform, each pointing at its fake through base_url."""
    return write_profile(
        f'[accounts.ops-wecom]\nplatform = "wecom-robot"\nkey = "{WECOM_KEY}"\n'
        f'base_url = "{wecom.url}"\n\n'
        f'[accounts.ops-dd]\nplatform = "dingtalk-robot"\n'
        f'url = "https://oapi.dingtalk.com/robot/send?access_token={DD_TOKEN}"\n'
        f'secret = "{DD_SECRET}"\nbase_url = "{dingtalk.url}"\n\n'
        f'[accounts.ops-lark]\nplatform = "lark-robot"\n'
        f'url = "https://open.feishu.cn/open-apis/bot/v2/hook/{LARK_TOKEN}"\n'
        f'secret = "{LARK_SECRET}"\nbase_url = "{lark.url}"\n\n'
        f'[accounts.ops-discord]\nplatform = "discord-webhook"\n'
        f'url = "https://discord.com/api/webhooks/{DISCORD_ID}/{DISCORD_TOKEN}"\n'
        f'base_url = "{discord.url}"\n\n'
        f'[accounts.ops-slack]\nplatform = "slack-webhook"\n'
        f'url = "https://hooks.slack.com{SLACK_PATH}"\nbase_url = "{slack.url}"\n'
    )


def no_token(*texts: str) -> None:
    """No webhook token, in any form, in any output (the conftest sweep checks the
    whole secret fields; these are the parts taken out of the URLs)."""
    for text in texts:
        for token in (WECOM_KEY, DD_TOKEN, DD_SECRET, LARK_TOKEN, LARK_SECRET, DISCORD_TOKEN,
                      "slack-hook-secret-0001"):  # fmt: skip
            assert token not in text


@pytest.fixture
def media(tmp_path: Path) -> dict[str, Path]:
    out = {}
    for name, data in (("a.png", PNG), ("v.amr", AMR), ("report.txt", b"log line\n" * 50),
                       ("clip.mp4", b"\x00\x00\x00\x18ftypmp42" + bytes(300))):  # fmt: skip
        (tmp_path / name).write_bytes(data)
        out[name] = tmp_path / name
    return out


# -- acceptance: every kind, end to end, as a subprocess -------------------------------------


def test_dingtalk_robot_text_markdown_and_link_end_to_end(cli_proc, profile, dingtalk):
    r = cli_proc("push", "text", "-p", "dingtalk-robot", "deploy done")
    assert (r.code, r.stdout) == (0, "1\n"), r.stderr
    r = cli_proc("push", "text", "-p", "dd-robot", "--markdown", "## Deploy\n\n**done** in 3 min")
    assert (r.code, r.stdout) == (0, "1\n"), r.stderr
    r = cli_proc("push", "image", "-p", "dd-robot", "-t", "Chart", "https://example.com/c.png")
    assert (r.code, r.stdout) == (0, "1\n"), r.stderr
    text, md, link = dingtalk.messages
    assert text == {"msgtype": "text", "text": {"content": "deploy done"}}
    assert md["markdown"] == {"title": "Deploy", "text": "## Deploy\n\n**done** in 3 min"}
    assert link["link"] == {"title": "Chart", "text": "Chart", "picUrl": "https://example.com/c.png",
                            "messageUrl": "https://example.com/c.png"}  # fmt: skip
    # every request was signed (the fake refuses a missing or wrong sign)
    assert all(c.query.get("sign") and c.query["timestamp"].isdigit() for c in dingtalk.requests)
    assert len(dingtalk.requests[0].query["timestamp"]) == 13  # milliseconds


def test_wecom_robot_every_kind_end_to_end(cli_proc, profile, wecom, media):
    def push(*args: str) -> None:
        r = cli_proc("push", *args[:1], "-p", "wecom-robot", *args[1:])
        assert (r.code, r.stdout) == (0, "1\n"), r.stderr
        no_token(r.stdout, r.stderr)

    push("text", "deploy done")
    push("text", "--markdown", "-t", "Deploy", "**done**")
    push("image", str(media["a.png"]))
    push("voice", str(media["v.amr"]))
    push("file", str(media["report.txt"]))
    push("video", str(media["clip.mp4"]))
    push("mixed", "--item", "text=build 42", "--item", f"image={media['a.png']}",
         "--item", f"file={media['report.txt']}")  # fmt: skip
    kinds = [m["msgtype"] for m in wecom.messages]
    assert kinds == ["text", "markdown", "image", "voice", "file", "file", "text", "image", "file"]
    assert wecom.messages[1]["markdown"]["content"] == "# Deploy\n\n**done**"
    image = wecom.messages[2]["image"]
    assert base64.b64decode(image["base64"]) == PNG
    assert image["md5"] == hashlib.md5(PNG).hexdigest()  # noqa: S324
    uploads = [c for c in wecom.requests if c.path.endswith("upload_media")]
    assert [c.query["type"] for c in uploads] == ["voice", "file", "file", "file"]
    assert uploads[0].files["media"].data == AMR


def test_lark_robot_text_post_and_card_end_to_end(cli_proc, profile, lark):
    for args in (
        ["deploy done"],
        ["-t", "Deploy", "done"],
        ["--markdown", "-t", "Deploy", "**done**"],
    ):
        r = cli_proc("push", "text", "-p", "feishu-robot", *args)
        assert (r.code, r.stdout) == (0, "1\n"), r.stderr
    text, post, card = lark.messages
    assert (text["msg_type"], text["content"]) == ("text", {"text": "deploy done"})
    assert post["content"]["post"]["zh_cn"] == {
        "title": "Deploy",
        "content": [[{"tag": "text", "text": "done"}]],
    }
    assert card["msg_type"] == "interactive"
    assert card["card"]["header"]["title"]["content"] == "Deploy"
    assert card["card"]["elements"] == [{"tag": "markdown", "content": "**done**"}]
    assert all(m["sign"] and len(m["timestamp"]) == 10 for m in lark.messages)  # seconds


def test_discord_webhook_every_kind_end_to_end(cli_proc, profile, discord, media):
    def push(*args: str) -> None:
        r = cli_proc("push", *args[:1], "-p", "discord-webhook", "--json", *args[1:])
        assert r.code == 0, r.stderr
        out = json.loads(r.stdout)
        assert out["sent"] == 1 and out["targets"][0]["target"] == "webhook"
        assert out["targets"][0]["message_ids"][0].isdigit()  # ?wait=true: the message id
        no_token(r.stdout, r.stderr)

    push("text", "deploy done")
    push("text", "-t", "Deploy", "--markdown", "**done**")
    for kind, name in (
        ("image", "a.png"),
        ("voice", "v.amr"),
        ("video", "clip.mp4"),
        ("file", "report.txt"),
    ):
        push(kind, "-t", f"a {kind}", str(media[name]))
    push("mixed", "--item", "text=build 42", "--item", f"image={media['a.png']}",
         "--item", f"file={media['report.txt']}")  # fmt: skip
    m = discord.messages
    assert m[0]["content"] == "deploy done" and not m[0]["_files"]
    assert m[1]["embeds"] == [{"title": "Deploy", "description": "**done**"}]
    for n, (kind, name) in enumerate((("image", "a.png"), ("voice", "v.amr"), ("video", "clip.mp4"),
                                      ("file", "report.txt")), start=2):  # fmt: skip
        assert m[n]["content"] == f"a {kind}"
        assert m[n]["attachments"] == [{"id": 0, "filename": name}]
        assert m[n]["_files"][0][:2] == (name, media[name].stat().st_size)
    mixed = m[6]
    assert mixed["content"] == "build 42"  # the text and both files in one message
    assert [f[0] for f in mixed["_files"]] == ["a.png", "report.txt"]
    assert all(c.query.get("wait") == "true" for c in discord.requests)


def test_slack_webhook_text_and_mrkdwn_end_to_end(cli_proc, profile, slack):
    r = cli_proc("push", "text", "-p", "slack-webhook", "a < b & c")
    assert (r.code, r.stdout) == (0, "1\n"), r.stderr
    r = cli_proc("push", "text", "-p", "slack-webhook", "-t", "Deploy", "--markdown", "**done**")
    assert (r.code, r.stdout) == (0, "1\n"), r.stderr
    plain, md = slack.messages
    assert plain == {"text": "a &lt; b &amp; c"}
    assert md["blocks"] == [
        {"type": "header", "text": {"type": "plain_text", "text": "Deploy", "emoji": True}},
        {"type": "section", "text": {"type": "mrkdwn", "text": "*done*"}},
    ]
    assert md["text"] == "Deploy\n\n*done*"


# -- the implicit target and the matrix ------------------------------------------------------


@pytest.mark.parametrize(
    "platform", ["wecom-robot", "lark-robot", "dingtalk-robot", "discord-webhook", "slack-webhook"]
)
@pytest.mark.parametrize("flag", ["-g", "-u"])
def test_targets_are_refused_with_exit_2(
    cli, profile, platform, flag, wecom, dingtalk, lark, discord, slack
):
    r = cli("push", "text", "-p", platform, flag, "123", "hi")
    assert (r.code, r.stdout) == (2, "0\n")
    assert f"{platform}: the webhook is the destination: drop -g/-u" in r.stderr
    assert not (
        wecom.requests or dingtalk.requests or lark.requests or discord.requests or slack.requests
    )


@pytest.mark.parametrize(
    "platform,kind,needle",
    [
        ("lark-robot", "image", "cannot upload"),
        ("lark-robot", "file", "cannot upload"),
        ("slack-webhook", "image", "cannot upload"),
        ("slack-webhook", "voice", "cannot upload"),
        ("dingtalk-robot", "file", "cannot upload"),
    ],
)
def test_media_a_webhook_cannot_take_is_refused_with_the_reason(
    cli, profile, platform, kind, needle
):
    r = cli("push", kind, "-p", platform, "https://example.com/a.png")
    assert (r.code, r.stdout) == (2, "0\n")
    assert needle in r.stderr


def test_dingtalk_refuses_a_local_image_and_an_intranet_url(cli, profile, dingtalk, media):
    r = cli("push", "image", "-p", "dd-robot", str(media["a.png"]))
    assert r.code == 2 and "give the image as an http(s) URL" in r.stderr
    r = cli("push", "image", "-p", "dd-robot", "http://10.0.0.5/a.png")
    assert r.code == 2 and "cannot reach" in r.stderr
    assert not dingtalk.requests


def test_the_python_api_pushes_to_a_webhook_without_a_target(profile, dingtalk):
    from imcli import push

    assert push("dingtalk-robot", None, None, None, "from python") == 1
    assert dingtalk.messages[0]["text"]["content"] == "from python"


def test_the_old_rows_point_to_the_webhook_platforms(cli):
    r = cli("platforms", "--json")
    rows = {row["platform"]: row for row in json.loads(r.stdout)}
    assert "-p discord-webhook" in rows["discord"]["reason"]
    assert "-p dingtalk-robot" in rows["dingtalk"]["reason"]
    assert rows["discord"]["supported"] is False
    for name in ("wecom-robot", "lark-robot", "dingtalk-robot", "discord-webhook", "slack-webhook"):
        assert rows[name]["webhook"] is True and rows[name]["user"] is None
    r = cli("platforms")
    assert (
        r.stdout.index("qq-official")
        < r.stdout.index("Webhook robots")
        < r.stdout.index("dd-robot")
    )


# -- signatures ----------------------------------------------------------------------------------


def test_dingtalk_signature_is_exactly_what_dingtalk_computes(profile, dingtalk, cli):
    import hmac

    r = cli("push", "text", "-p", "dd-robot", "signed")
    assert r.code == 0, r.stderr
    q = dingtalk.requests[0].query
    mac = hmac.new(DD_SECRET.encode(), f"{q['timestamp']}\n{DD_SECRET}".encode(), hashlib.sha256)
    assert q["sign"] == base64.b64encode(mac.digest()).decode()
    assert abs(int(q["timestamp"]) - time.time() * 1000) < 60_000


def test_lark_signature_is_exactly_what_lark_computes(profile, lark, cli):
    import hmac

    r = cli("push", "text", "-p", "lark-robot", "signed")
    assert r.code == 0, r.stderr
    body = lark.messages[0]
    mac = hmac.new(f"{body['timestamp']}\n{LARK_SECRET}".encode(), b"", hashlib.sha256)
    assert body["sign"] == base64.b64encode(mac.digest()).decode()


def test_a_wrong_dingtalk_secret_is_310000_and_exit_1(cli, write_profile, dingtalk):
    write_profile(
        f'[accounts.dd]\nplatform = "dingtalk-robot"\ntoken = "{DD_TOKEN}"\n'
        f'secret = "SEC-not-the-secret"\nbase_url = "{dingtalk.url}"\n'
    )
    r = cli("push", "text", "-p", "dingtalk-robot", "hi")
    assert (r.code, r.stdout) == (1, "0\n")
    assert "sign not match (310000)" in r.stderr and "security settings" in r.stderr
    assert "ding-doc" not in r.stderr  # the ", more: [url]" tail is cut
    assert not dingtalk.messages


@pytest.mark.parametrize("fake", ["dingtalk", "lark"])
def test_a_stale_timestamp_is_refused_by_the_fakes(cli, profile, dingtalk, lark, fake):
    """A clock two hours off: both platforms refuse the signature, as the real ones do."""
    server = dingtalk if fake == "dingtalk" else lark
    server.clock_skew = 7200
    r = cli("push", "text", "-p", f"{fake}-robot", "late")
    assert (r.code, r.stdout) in {(1, "0\n"), (3, "0\n")}
    assert ("310000" if fake == "dingtalk" else "19021") in r.stderr
    assert not server.messages


def test_a_wrong_lark_secret_is_the_credentials_exit_3(cli, write_profile, lark):
    write_profile(
        f'[accounts.fs]\nplatform = "lark-robot"\ntoken = "{LARK_TOKEN}"\n'
        f'secret = "not-the-secret"\nbase_url = "{lark.url}"\n'
    )
    r = cli("push", "text", "-p", "lark-robot", "hi")
    assert (r.code, r.stdout) == (3, "0\n")
    assert "19021" in r.stderr and "check secret" in r.stderr


def test_an_unsigned_robot_takes_no_signature(cli, write_profile):
    with FakeDingTalkRobot(DD_TOKEN, None) as dd:
        write_profile(
            f'[accounts.dd]\nplatform = "dingtalk-robot"\ntoken = "{DD_TOKEN}"\nbase_url = "{dd.url}"\n'
        )
        r = cli("push", "text", "-p", "dingtalk-robot", "hi")
        assert r.code == 0, r.stderr
        assert "sign" not in dd.requests[0].query


def test_a_missing_keyword_is_named(cli, write_profile):
    with FakeDingTalkRobot(DD_TOKEN, None, keywords=("deploy",)) as dd:
        write_profile(
            f'[accounts.dd]\nplatform = "dingtalk-robot"\ntoken = "{DD_TOKEN}"\nbase_url = "{dd.url}"\n'
        )
        r = cli("push", "text", "-p", "dingtalk-robot", "hello")
        assert r.code == 1 and "keywords not in content (310000)" in r.stderr
        assert cli("push", "text", "-p", "dingtalk-robot", "deploy ok").code == 0


# -- long texts ------------------------------------------------------------------------------------


def test_wecom_text_is_split_at_2048_bytes_and_markdown_at_4096(cli, profile, wecom):
    text = "\n".join(f"第{i}行 " + "字" * 40 for i in range(200))  # ~25 KB of UTF-8
    wecom.window.count = 1000  # two runs of many parts within a minute: not the test here
    r = cli("push", "text", "-p", "wecom-robot", "--max-parts", "0", text)
    assert r.code == 0, r.stderr
    parts = [m["text"]["content"] for m in wecom.messages]
    assert len(parts) > 10 and all(len(p.encode()) <= 2048 for p in parts)
    assert "\n".join(parts) == text
    wecom.messages.clear()
    r = cli("push", "text", "-p", "wecom-robot", "--max-parts", "0", "--markdown", text)
    assert r.code == 0, r.stderr
    md = [m["markdown"]["content"] for m in wecom.messages]
    assert all(len(p.encode()) <= 4096 for p in md) and len(md) < len(parts)


def test_discord_text_is_split_at_2000_characters(cli, profile, discord):
    text = "\n".join(f"line {i} " + "x" * 90 for i in range(60))
    r = cli("push", "text", "-p", "discord-webhook", "--json", text)
    assert r.code == 0, r.stderr
    assert len(json.loads(r.stdout)["targets"][0]["message_ids"]) == len(discord.messages) > 2
    assert all(len(m["content"]) <= 2000 for m in discord.messages)


def test_dingtalk_markdown_title_is_the_first_line_when_none_is_given(cli, profile, dingtalk):
    r = cli("push", "text", "-p", "dd-robot", "--markdown", "> **Build 42** passed\n\nall green")
    assert r.code == 0, r.stderr
    assert dingtalk.messages[0]["markdown"]["title"] == "**Build 42** passed"
    r = cli("push", "text", "-p", "dd-robot", "--markdown", "-t", "CI", "all green")
    assert dingtalk.messages[1]["markdown"] == {"title": "CI", "text": "### CI\n\nall green"}


# -- media limits --------------------------------------------------------------------------------


def test_wecom_image_over_2_mb_and_non_amr_voice_are_refused_before_any_request(
    cli, profile, wecom, tmp_path
):
    big = tmp_path / "big.png"
    big.write_bytes(PNG + bytes(2 * 1024 * 1024))
    r = cli("push", "image", "-p", "wecom-robot", str(big))
    assert r.code == 2 and "2 MB limit" in r.stderr
    mp3 = tmp_path / "v.mp3"
    mp3.write_bytes(b"ID3" + bytes(100))
    r = cli("push", "voice", "-p", "wecom-robot", str(mp3))
    assert r.code == 2 and "must be AMR" in r.stderr
    gif = tmp_path / "a.gif"
    gif.write_bytes(b"GIF89a" + bytes(100))
    r = cli("push", "image", "-p", "wecom-robot", str(gif))
    assert r.code == 2 and "JPG or PNG" in r.stderr
    assert not wecom.requests


def test_discord_over_25_mib_is_refused_and_more_than_10_files_go_in_two_messages(
    cli, profile, discord, tmp_path
):
    big = tmp_path / "big.bin"
    with open(big, "wb") as fh:
        fh.truncate(25 * 1024 * 1024 + 1)
    r = cli("push", "file", "-p", "discord-webhook", str(big))
    assert r.code == 2 and "25 MB limit" in r.stderr
    items = []
    for i in range(12):
        (tmp_path / f"f{i}.txt").write_text(f"file {i}\n")
        items += ["--item", f"file={tmp_path / f'f{i}.txt'}"]
    r = cli("push", "mixed", "-p", "discord-webhook", "--item", "text=twelve files", *items)
    assert r.code == 0, r.stderr
    assert [len(m["_files"]) for m in discord.messages] == [10, 2]
    assert discord.messages[0]["content"] == "twelve files"


# -- errors, retries and rate limits -----------------------------------------------------------


def test_wecom_bad_key_is_93000_exit_3_and_the_key_never_shows(cli, write_profile, wecom):
    write_profile(
        '[accounts.w]\nplatform = "wecom-robot"\nkey = "wecom-not-a-key-9999"\n'
        f'base_url = "{wecom.url}"\n'
    )
    r = cli("push", "text", "-p", "wecom-robot", "-v", "hi")
    assert (r.code, r.stdout) == (3, "0\n")
    assert "invalid webhook url (93000)" in r.stderr
    assert "wecom-not-a-key-9999" not in r.output and "hint" not in r.stderr


@pytest.mark.parametrize("status", [500, 502, 504])
def test_a_send_answered_500_502_504_may_have_been_delivered_and_is_not_resent(
    cli, profile, dingtalk, status
):
    dingtalk.queue(
        "/robot/send",
        Reply(status, body=b"<html>gateway</html>", headers={"Content-Type": "text/html"}),
    )
    r = cli("push", "text", "-p", "dd-robot", "--json", "once")
    out = json.loads(r.stdout)
    assert (r.code, out["sent"], out["targets"][0]["uncertain"]) == (1, 0, True)
    assert "may have been delivered" in r.stderr
    assert len(dingtalk.requests) == 1


def test_resend_uncertain_resends_a_502_send(cli, write_profile, discord):
    write_profile(
        f'[settings]\nresend_uncertain = true\n\n[accounts.d]\nplatform = "discord-webhook"\n'
        f'url = "https://discord.com/api/webhooks/{DISCORD_ID}/{DISCORD_TOKEN}"\n'
        f'base_url = "{discord.url}"\n'
    )
    discord.queue("/api/webhooks/", Reply(502, body=b"<html>bad gateway</html>"))
    r = cli("push", "text", "-p", "discord-webhook", "--json", "twice if need be")
    assert r.code == 0, r.stderr
    assert json.loads(r.stdout)["targets"][0]["resent"] is True
    assert len(discord.requests) == 2 and len(discord.messages) == 1


def test_a_send_that_times_out_is_not_resent(cli, profile, slack):
    slack.queue("/services", Reply(200, body=b"ok", delay=3))
    r = cli("push", "text", "-p", "slack-webhook", "--timeout", "1000", "slow")
    assert (r.code, r.stdout) == (1, "0\n")
    assert "may have been delivered" in r.stderr
    assert len(slack.requests) == 1


def test_503_and_busy_codes_are_retried(cli, profile, wecom, dingtalk, lark):
    wecom.queue("/webhook/send", Reply(json={"errcode": 45009, "errmsg": "api freq out of limit"}))
    dingtalk.queue("/robot/send", Reply(503, body=b"busy"))
    lark.queue("/hook/", Reply(json={"code": 11232, "msg": "frequency limited", "data": {}}))
    for platform in ("wecom-robot", "dingtalk-robot", "lark-robot"):
        r = cli("push", "text", "-p", platform, "again")
        assert (r.code, r.stdout) == (0, "1\n"), r.stderr
    assert len(wecom.requests) == len(dingtalk.requests) == len(lark.requests) == 2


def test_discord_429_waits_retry_after_then_sends(cli, profile, discord):
    discord.queue(
        "/api/webhooks/",
        Reply(
            429,
            json={"message": "You are being rate limited.", "retry_after": 0.6, "global": False},
        ),
    )
    r = cli("push", "text", "-p", "discord-webhook", "hi")
    assert (r.code, r.stdout) == (0, "1\n"), r.stderr
    first, second = discord.requests
    assert second.arrived - first.arrived >= 0.55


def test_discord_waits_for_an_empty_bucket_instead_of_provoking_a_429(cli, write_profile):
    with FakeDiscordWebhook(DISCORD_ID, DISCORD_TOKEN, bucket=2, window=1.0) as hook:
        write_profile(
            f'[accounts.d]\nplatform = "discord-webhook"\nbase_url = "{hook.url}"\n'
            f'url = "https://discord.com/api/webhooks/{DISCORD_ID}/{DISCORD_TOKEN}"\n'
        )
        text = "\n".join("y" * 1500 for _ in range(4))  # four messages
        r = cli("push", "text", "-p", "discord-webhook", text)
        assert (r.code, r.stdout) == (0, "1\n"), r.stderr
        assert len(hook.messages) == 4 and len(hook.requests) == 4  # no 429 was needed


def test_discord_errors_are_named_and_an_unknown_webhook_is_offline(cli, write_profile, discord):
    write_profile(
        f'[accounts.d]\nplatform = "discord-webhook"\nbase_url = "{discord.url}"\n'
        f'url = "https://discord.com/api/webhooks/{DISCORD_ID}/wrong-token-123"\n'
    )
    r = cli("push", "text", "-p", "discord-webhook", "hi")
    assert (r.code, r.stdout) == (3, "0\n")
    assert "Invalid Webhook Token (50027)" in r.stderr
    assert "wrong-token-123" not in r.output


@pytest.mark.parametrize("platform", ["wecom-robot", "dingtalk-robot"])
@pytest.mark.real_clock  # the limiter's wait is measured on the system clock
def test_wecom_and_dingtalk_robots_hold_20_messages_a_minute(platform):
    """The 21st send of a minute waits (the robot would answer 45009/410100): checked on
    the limiter the push builds from the spec, without sleeping through the minute."""
    import asyncio

    from imcli import platforms
    from imcli.http import RateLimiter
    from imcli.models import WEBHOOK_TARGET

    limiter = RateLimiter(platforms.get(platform).rate_limits, None)

    async def run() -> tuple[float, bool]:
        started = time.monotonic()
        for _ in range(20):
            await limiter.acquire(WEBHOOK_TARGET)
        burst = time.monotonic() - started
        try:
            await asyncio.wait_for(limiter.acquire(WEBHOOK_TARGET), 0.3)
        except asyncio.TimeoutError:
            return burst, True
        return burst, False

    burst, held = asyncio.run(run())
    assert burst < 0.5  # twenty go at once: a split text is not spaced out
    assert held  # the twenty-first waits for the minute


@pytest.mark.real_clock  # the fake counts arrivals on the system clock
def test_a_rate_setting_paces_a_robot_and_the_fake_sees_no_refusal(cli, write_profile):
    with FakeWeComRobot(WECOM_KEY, per_minute=3) as fake:
        fake.window.period = 1.0  # a robot that takes 3 a second
        write_profile(
            f'[accounts.w]\nplatform = "wecom-robot"\nkey = "{WECOM_KEY}"\n'
            f'base_url = "{fake.url}"\nrate = 3\n'
        )
        text = "\n".join("字" * 600 for _ in range(5))  # five messages of ~1800 bytes
        r = cli("push", "text", "-p", "wecom-robot", text)
        assert (r.code, r.stdout) == (0, "1\n"), r.stderr
        assert len(fake.messages) == 5 == len(fake.requests)


def test_slack_webhook_errors(cli, profile, slack):
    slack.archived = True
    r = cli("push", "text", "-p", "slack-webhook", "hi")
    assert (r.code, r.stdout) == (1, "0\n")
    assert "channel_is_archived (410)" in r.stderr
    slack.paths.clear()
    r = cli("push", "text", "-p", "slack-webhook", "hi")
    assert r.code == 3 and "no_service (404)" in r.stderr


# -- accounts, environment, masking ------------------------------------------------------------


def test_env_accounts_turn_the_hyphen_into_an_underscore(cli, monkeypatch, dingtalk, wecom):
    monkeypatch.setenv(
        "IMCLI_DINGTALK_ROBOT_URL", f"{dingtalk.url}/robot/send?access_token={DD_TOKEN}"
    )
    monkeypatch.setenv("IMCLI_DINGTALK_ROBOT_SECRET", DD_SECRET)
    monkeypatch.setenv("IMCLI_WECOM_ROBOT_KEY", WECOM_KEY)
    monkeypatch.setenv("IMCLI_WECOM_ROBOT_BASE_URL", wecom.url)
    r = cli("push", "text", "-p", "dingtalk-robot", "deploy done")
    assert (r.code, r.stdout) == (0, "1\n"), r.stderr
    r = cli("push", "text", "-p", "wecom-robot", "deploy done")
    assert (r.code, r.stdout) == (0, "1\n"), r.stderr
    r = cli("accounts", "list")
    assert "env-dingtalk-robot" in r.stdout and "env-wecom-robot" in r.stdout
    # The variables are the ones imcli reads: none draws the "names no imcli setting" warning.
    assert "warning" not in r.stderr, r.stderr
    no_token(r.stdout, r.stderr)


def test_secrets_are_masked_in_verbose_dry_run_and_accounts_list(cli, profile):
    for platform in (
        "wecom-robot",
        "lark-robot",
        "dingtalk-robot",
        "discord-webhook",
        "slack-webhook",
    ):
        r = cli("push", "text", "-p", platform, "--dry-run", "-vv", "masked")
        assert (r.code, r.stdout) == (0, "1\n"), r.stderr
        assert "***" in r.stderr
        no_token(r.stdout, r.stderr)
        r = cli("push", "text", "-p", platform, "-v", "masked")
        assert r.code == 0, r.stderr
        no_token(r.stdout, r.stderr)
    r = cli("accounts", "list")
    assert r.code == 0
    no_token(r.stdout, r.stderr)
    assert "dingtalk.com" not in r.stdout  # the whole URL is the secret


def test_a_malformed_webhook_url_is_exit_3_without_showing_it(cli, write_profile):
    write_profile(
        '[accounts.d]\nplatform = "discord-webhook"\n'
        'url = "https://discord.com/api/not-a-webhook/secret-part-12345"\n'
    )
    r = cli("push", "text", "-p", "discord-webhook", "hi")
    assert (r.code, r.stdout) == (3, "0\n")
    assert "discord.com/api/webhooks/ID/TOKEN" in r.stderr  # the shape it should have
    assert "secret-part-12345" not in r.output


def test_accounts_test_does_not_post(cli, profile, wecom, dingtalk, lark, discord, slack):
    r = cli("accounts", "test", "--json")
    rows = {row["name"]: row for row in json.loads(r.stdout)}
    assert all(row["online"] for row in rows.values()), rows
    assert "imcli-test" in rows["ops-discord"]["detail"]  # the GET answers the webhook's name
    assert "no_text" in rows["ops-slack"]["detail"]  # an empty payload: alive, nothing posted
    assert "(40008)" in rows["ops-wecom"]["detail"]
    assert "(40035)" in rows["ops-dd"]["detail"]  # signed: the signature was accepted
    assert "(19002)" in rows["ops-lark"]["detail"]
    assert not (
        wecom.messages or dingtalk.messages or lark.messages or discord.messages or slack.messages
    )
    no_token(r.stdout, r.stderr)


def test_accounts_test_finds_a_dead_webhook_and_a_bad_signature(
    cli, write_profile, wecom, dingtalk
):
    write_profile(
        f'[accounts.w]\nplatform = "wecom-robot"\nkey = "not-the-key-1234"\nbase_url = "{wecom.url}"\n\n'
        f'[accounts.d]\nplatform = "dingtalk-robot"\ntoken = "{DD_TOKEN}"\n'
        f'secret = "SEC-wrong-secret"\nbase_url = "{dingtalk.url}"\n'
    )
    r = cli("accounts", "test", "--json")
    rows = {row["name"]: row for row in json.loads(r.stdout)}
    assert not rows["w"]["online"] and "93000" in rows["w"]["detail"]
    assert not rows["d"]["online"] and "310000" in rows["d"]["detail"]


def test_options_are_merged_and_reserved_ones_refused(cli, profile, wecom, dingtalk, lark):
    r = cli("push", "text", "-p", "wecom-robot", "-o", 'mentioned_list=["@all"]', "hi")
    assert r.code == 0, r.stderr
    assert wecom.messages[0]["text"]["mentioned_list"] == ["@all"]
    r = cli("push", "text", "-p", "dingtalk-robot", "-o", 'at={"isAtAll": true}', "hi")
    assert r.code == 0, r.stderr
    assert dingtalk.messages[0]["at"] == {"isAtAll": True}
    r = cli("push", "text", "-p", "lark-robot", "-o", "sign=forged", "hi")
    assert r.code == 2 and "would replace" in r.stderr
    assert not lark.requests


def test_accounts_add_needs_the_key_or_the_url(cli, write_profile):
    write_profile("")
    r = cli("accounts", "add", "ci", "-p", "lark-robot")
    assert r.code == 2 and "lark-robot accounts need token or url" in r.stderr
    r = cli("accounts", "add", "ci", "-p", "wecom-robot", "--set", "key=wecom-k-123456")
    assert r.code == 0, r.stderr
    r = cli("accounts", "list")
    assert "wecom-k-123456" not in r.stdout and "key=***" in r.stdout


# -- more of each platform's shapes -------------------------------------------------------------


def test_wecom_image_from_a_url_is_downloaded_then_sent_as_base64(cli, profile, wecom):
    from tests.fakes.filehost import PNG as HOSTED
    from tests.fakes.filehost import FileHost

    with FileHost() as host:
        r = cli("push", "image", "-p", "wecom-robot", f"{host.url}/chart.png")
    assert (r.code, r.stdout) == (0, "1\n"), r.stderr
    image = wecom.messages[0]["image"]
    assert base64.b64decode(image["base64"]) == HOSTED * 10
    assert image["md5"] == hashlib.md5(HOSTED * 10).hexdigest()  # noqa: S324


def test_wecom_a_failed_upload_sends_nothing(cli, profile, wecom, media):
    wecom.queue(
        "upload_media", Reply(json={"errcode": 40006, "errmsg": "invalid file size"}), times=9
    )
    r = cli(
        "push",
        "mixed",
        "-p",
        "wecom-robot",
        "--item",
        "text=before",
        "--item",
        f"file={media['report.txt']}",
    )
    assert (r.code, r.stdout) == (1, "0\n")
    assert "upload failed: invalid file size (40006)" in r.stderr
    assert not wecom.messages  # the text was not sent ahead of a file that cannot follow


def test_wecom_captions_and_titles_go_as_a_text_before_the_media(
    cli, profile, wecom, media, tmp_path
):
    items = tmp_path / "items.json"
    items.write_text(
        json.dumps([{"type": "image", "source": str(media["a.png"]), "caption": "the chart"}])
    )
    r = cli("push", "mixed", "-p", "wecom-robot", str(items))
    assert r.code == 0, r.stderr
    r = cli("push", "file", "-p", "wecom-robot", "-t", "nightly log", str(media["report.txt"]))
    assert r.code == 0, r.stderr
    kinds = [(m["msgtype"], m.get("text", {}).get("content")) for m in wecom.messages]
    assert kinds == [
        ("text", "the chart"),
        ("image", None),
        ("text", "nightly log"),
        ("file", None),
    ]


def test_lark_long_text_is_split_under_the_20_kb_body_limit(cli, profile, lark):
    text = "\n".join("飞书" * 500 for _ in range(12))  # 36 KB of UTF-8
    r = cli("push", "text", "-p", "lark-robot", text)
    assert (r.code, r.stdout) == (0, "1\n"), r.stderr
    parts = [m["content"]["text"] for m in lark.messages]
    assert len(parts) == 3 and "\n".join(parts) == text
    assert all(len(c.body or b"") <= 20 * 1024 for c in lark.requests)


def test_lark_unknown_token_is_offline_and_a_keyword_miss_is_named(cli, write_profile, lark):
    write_profile(
        f'[accounts.fs]\nplatform = "lark-robot"\ntoken = "no-such-hook-1234"\nbase_url = "{lark.url}"\n'
    )
    r = cli("push", "text", "-p", "lark-robot", "hi")
    assert (r.code, r.stdout) == (3, "0\n")
    assert "incoming webhook access token invalid (19001)" in r.stderr
    lark.queue("/hook/", Reply(json={"code": 19024, "msg": "Key Words Not Found", "data": {}}))
    write_profile(
        f'[accounts.fs]\nplatform = "lark-robot"\ntoken = "{LARK_TOKEN}"\n'
        f'secret = "{LARK_SECRET}"\nbase_url = "{lark.url}"\n'
    )
    r = cli("push", "text", "-p", "lark-robot", "hi")
    assert (r.code, r.stdout) == (1, "0\n")
    assert "Key Words Not Found (19024): the text lacks a keyword" in r.stderr


def test_discord_names_the_field_of_an_invalid_form_body(cli, profile, discord):
    discord.queue(
        "/api/webhooks/",
        Reply(
            400,
            json={
                "message": "Invalid Form Body",
                "code": 50035,
                "errors": {
                    "embeds": {
                        "0": {
                            "title": {
                                "_errors": [
                                    {
                                        "code": "BASE_TYPE_MAX_LENGTH",
                                        "message": "Must be 256 or fewer in length.",
                                    }
                                ]
                            }
                        }
                    }
                },
            },
        ),  # fmt: skip
    )
    r = cli("push", "text", "-p", "discord-webhook", "-t", "T", "hi")
    assert (r.code, r.stdout) == (1, "0\n")
    assert "Invalid Form Body (50035): embeds.0.title: Must be 256 or fewer in length." in r.stderr
    assert len(discord.requests) == 1  # a definite error is not retried


def test_discord_long_title_is_cut_to_the_embed_limit(cli, profile, discord):
    r = cli("push", "text", "-p", "discord-webhook", "-t", "T" * 300, "body")
    assert r.code == 0, r.stderr
    title = discord.messages[0]["embeds"][0]["title"]
    assert len(title) == 256 and title.endswith("…")


@pytest.mark.real_clock  # the fake counts arrivals on the system clock
def test_slack_long_text_is_split_at_40000_and_sections_at_3000(cli, profile, slack):
    text = "\n".join(f"row {i} " + "z" * 200 for i in range(250))  # ~52,000 characters
    r = cli("push", "text", "-p", "slack-webhook", text)
    assert r.code == 0, r.stderr
    assert len(slack.messages) == 2 and all(len(m["text"]) <= 40_000 for m in slack.messages)
    slack.messages.clear()
    r = cli("push", "text", "-p", "slack-webhook", "-t", "Report", text)
    assert r.code == 0, r.stderr
    blocks = [b for m in slack.messages for b in m["blocks"]]
    assert blocks[0]["type"] == "header"
    assert all(len(b["text"]["text"]) <= 3000 for b in blocks)
    assert all(len(m["blocks"]) <= 50 for m in slack.messages)


def test_dry_run_json_shows_the_plan_with_the_token_and_sign_masked(cli, profile, dingtalk):
    r = cli("push", "text", "-p", "dingtalk-robot", "--dry-run", "--json", "planned")
    assert r.code == 0, r.stderr
    plan = json.loads(r.stdout)
    (req,) = plan["requests"]
    assert req["url"].startswith(f"{dingtalk.url}/robot/send?access_token=***&timestamp=")
    assert req["url"].endswith("&sign=***")
    assert req["body"] == {"msgtype": "text", "text": {"content": "planned"}}
    assert plan["targets"][0]["target"] == "webhook"
    assert not dingtalk.requests


def test_discord_thread_id_goes_in_the_query_and_other_options_in_the_body(cli, profile, discord):
    r = cli(
        "push", "text", "-p", "discord-webhook", "-o", "thread_id=987", "-o", "username=CI", "hi"
    )
    assert r.code == 0, r.stderr
    assert discord.requests[0].query == {"wait": "true", "thread_id": "987"}
    assert discord.messages[0]["username"] == "CI" and "thread_id" not in discord.messages[0]


def test_the_url_form_posts_to_its_own_host_and_the_token_form_to_the_default(
    cli, write_profile, lark, wecom
):
    """No base_url: a url's own scheme and host are used (a larksuite URL goes to Lark);
    a bare token goes to the platform's default host. A whole URL is a secret, so
    --dry-run shows it masked; a token's host stays readable."""
    write_profile(
        f'[accounts.intl]\nplatform = "lark-robot"\nsecret = "{LARK_SECRET}"\n'
        f'url = "{lark.url}/open-apis/bot/v2/hook/{LARK_TOKEN}"\n\n'
        f'[accounts.w]\nplatform = "wecom-robot"\n'
        f'url = "{wecom.url}/cgi-bin/webhook/send?key={WECOM_KEY}"\n\n'
        '[accounts.fs]\nplatform = "lark-robot"\ntoken = "cn-token-1234"\n'
    )
    for account in ("intl", "w"):
        r = cli("push", "text", "-a", account, "hi")
        assert (r.code, r.stdout) == (0, "1\n"), r.stderr
    assert len(lark.messages) == len(wecom.messages) == 1
    r = cli("push", "text", "-a", "fs", "--dry-run", "--json", "hi")
    assert json.loads(r.stdout)["requests"][0]["url"] == (
        "https://open.feishu.cn/open-apis/bot/v2/hook/***"
    )
    r = cli("push", "text", "-a", "intl", "--dry-run", "--json", "hi")
    assert json.loads(r.stdout)["requests"][0]["url"] == "***"


def test_overflow_attaches_the_text_where_the_robot_takes_files_and_cuts_it_elsewhere(
    cli, profile, wecom, dingtalk, discord
):
    text = "\n".join(f"line {i} " + "w" * 300 for i in range(200))  # ~62 KB
    r = cli("push", "text", "-p", "wecom-robot", "--max-parts", "3", "--json", text)
    assert r.code == 0, r.stderr
    assert [m["msgtype"] for m in wecom.messages] == ["text", "file"]
    assert "attached as message.txt" in wecom.messages[0]["text"]["content"]
    (upload,) = [c for c in wecom.requests if c.path.endswith("upload_media")]
    assert upload.files["media"].filename == "message.txt"
    assert upload.files["media"].data == text.encode()
    r = cli("push", "text", "-p", "discord-webhook", "--max-parts", "3", text)
    assert r.code == 0, r.stderr
    assert len(discord.messages) == 1 and discord.messages[0]["_files"][0][0] == "message.txt"
    dingtalk.messages.clear()
    long_dd = "\n".join(f"line {i} " + "d" * 900 for i in range(100))  # ~90 KB: 5 messages
    r = cli("push", "text", "-p", "dingtalk-robot", "--max-parts", "2", long_dd)
    assert r.code == 0, r.stderr
    assert len(dingtalk.messages) == 2
    assert "not sent" in dingtalk.messages[-1]["text"]["content"]
    assert "cut to 2" in r.stderr


def test_wecom_robot_voice_in_another_format_arrives_as_amr(cli, profile, wecom, tmp_path):
    from tests import _media

    mp3 = tmp_path / "note.mp3"
    mp3.write_bytes(_media.clip("mp3"))
    r = cli("push", "voice", "-p", "wecom-robot", str(mp3))
    assert (r.code, r.stdout) == (0, "1\n"), r.stderr
    (upload,) = [c for c in wecom.requests if c.path.endswith("upload_media")]
    assert upload.query["type"] == "voice"
    assert _media.kind_of(upload.files["media"].data or b"") == "amr"
    assert wecom.messages[0]["msgtype"] == "voice"


def test_a_missing_url_is_one_error_before_any_send(cli, profile, wecom, discord):
    from tests.fakes.filehost import FileHost

    with FileHost() as host:
        for platform in ("wecom-robot", "discord-webhook"):
            r = cli("push", "mixed", "-p", platform, "--item", "text=first",
                    "--item", f"file={host.url}/missing.png")  # fmt: skip
            assert r.stdout == "0\n" and r.code != 0
            assert "404" in r.stderr
    assert not wecom.messages and not discord.messages


@pytest.mark.parametrize(
    "platform, path",
    [
        ("slack-webhook", "/services/T000/B000/ABCDEFGHIJKLMNOPQRSTUVWX"),
        ("discord-webhook", "/api/webhooks/1/ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"),
    ],
)
def test_an_error_page_echoing_the_url_is_masked_before_it_is_cut(
    cli, write_profile, platform, path
):
    """A proxy or gateway that answers a plain-text error quoting the request line: the
    webhook's secret straddles the 200-character cut, and no part of it may show."""
    import http.server
    import threading

    class Echo(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - the handler's name
            self.rfile.read(int(self.headers.get("content-length") or 0))
            body = ("x" * 160 + " " + self.path).encode()
            self.send_response(400)
            self.send_header("content-type", "text/plain")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Echo)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}{path}"
        write_profile(f'[accounts.hook]\nplatform = "{platform}"\nurl = "{url}"\n')
        r = cli("push", "text", "-a", "hook", "--json", "hi")
    finally:
        server.shutdown()
        server.server_close()
    assert r.code == 1, r.stderr
    secret = path.rsplit("/", 1)[1]
    for n in range(8, len(secret) + 1):  # not even a part of it
        assert secret[:n] not in r.stdout + r.stderr, (n, r.stderr)


@pytest.mark.parametrize(
    "args, error",
    [
        (("dh", "--platform", "discord-webhook", "--set", "url=notaurl"),
         "url must be an http(s) URL"),
        (("lr", "--platform", "lark-robot", "--set", "url=https://example.com/hook"),
         "url is not a custom bot webhook"),
        (("dh", "--platform", "discord-webhook", "--set",
          "url=https://discord.com/api/webhooks/1/TOKENabc", "--set", "rate=-1"),
         "rate must be messages per second"),
    ],
)  # fmt: skip
def test_accounts_add_refuses_a_webhook_a_push_would_refuse(cli, tmp_path, args, error):
    """Nothing is stored that only fails at push time: the webhook's shape is worked out
    as a push works it out (without showing the URL, which is the secret)."""
    path = tmp_path / "p.toml"
    r = cli("accounts", "add", "--profile", str(path), *args)
    assert r.code == 2 and error in r.stderr, r.stderr
    assert not path.exists() or "[accounts." not in path.read_text()
    assert "TOKENabc" not in r.stderr


def test_accounts_set_refuses_a_webhook_url_of_another_shape(cli, tmp_path):
    path = tmp_path / "p.toml"
    good = "url=https://open.feishu.cn/open-apis/bot/v2/hook/abc"
    r = cli("accounts", "add", "--profile", str(path), "lr", "--platform", "lark-robot",
            "--set", good)  # fmt: skip
    assert r.code == 0, r.stderr
    before = path.read_bytes()
    r = cli("accounts", "set", "--profile", str(path), "lr", "url=https://example.com/hook")
    assert r.code == 2 and "url is not a custom bot webhook" in r.stderr, r.stderr
    assert path.read_bytes() == before
