"""Named recipients: `push --to NAME` across platforms, fallbacks, target files,
`imcli recipients list|show|add|remove`, completion of recipient names, the API's `to=`.

The pushes run against the five fake platforms at once (Telegram, Slack, WeCom, QQ/OneBot
and Lark), each on 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from imcli.errors import UsageError
from imcli.models import Target
from imcli.recipients import Entry, parse_entry
from tests._clock import departures
from tests.conftest import ROOT
from tests.fakes.lark import FakeLark
from tests.fakes.onebot import FakeOneBot
from tests.fakes.slack import FakeSlack
from tests.fakes.telegram import DEFAULT_TOKEN, FakeTelegram
from tests.fakes.webhooks import FakeDingTalkRobot
from tests.fakes.wecom import FakeWeCom

SLACK_TOKEN = "xoxb-test-token"
CORP_SECRET = "wecom-test-secret"
LARK_SECRET = "test-app-secret"
QQ_TOKEN = "onebot-TEST-access-token"
DD_TOKEN, DD_SECRET = "dingtalk-token-0001", "SEC-dingtalk-secret-0001"


@dataclass
class Five:
    telegram: FakeTelegram
    slack: FakeSlack
    wecom: FakeWeCom
    qq: FakeOneBot
    lark: FakeLark
    dingtalk: FakeDingTalkRobot  # a webhook robot: the account is the destination

    def all(self) -> list[Any]:
        return [self.telegram, self.slack, self.wecom, self.qq, self.lark, self.dingtalk]

    def requests(self) -> int:
        return sum(len(f.requests) for f in self.all())


@pytest.fixture
def five() -> Iterator[Five]:
    with (
        FakeTelegram(unknown_chats=[4040]) as tg,
        FakeSlack(tokens=[SLACK_TOKEN], unknown_channels=["C0GONE"]) as sl,
        FakeWeCom(corp_secret=CORP_SECRET) as wc,
        FakeOneBot(access_token=QQ_TOKEN) as qq,
        FakeLark(app_secret=LARK_SECRET, unknown_receive_ids=["oc_gone"]) as lk,
        FakeDingTalkRobot(DD_TOKEN, DD_SECRET) as dd,
    ):
        yield Five(tg, sl, wc, qq, lk, dd)  # type: ignore[arg-type]


def accounts(f: Five) -> str:
    return f"""\
[accounts.ops-bot]
platform = "telegram"
token = "{DEFAULT_TOKEN}"
base_url = "{f.telegram.api_url}"

[accounts.team]
platform = "slack"
token = "{SLACK_TOKEN}"
base_url = "{f.slack.url}"

[accounts.corp]
platform = "wecom"
corp_id = "ww0123456789abcdef"
corp_secret = "{CORP_SECRET}"
agent_id = 1000002
base_url = "{f.wecom.base_url}"

[accounts.home-qq]
platform = "qq"
base_url = "{f.qq.base_url}"
access_token = "{QQ_TOKEN}"

[accounts.feishu]
platform = "lark"
app_id = "cli_test_app"
app_secret = "{LARK_SECRET}"
base_url = "{f.lark.url}"

[accounts.ops-dd]
platform = "dingtalk-robot"
url = "https://oapi.dingtalk.com/robot/send?access_token={DD_TOKEN}"
secret = "{DD_SECRET}"
base_url = "{f.dingtalk.url}"
"""


ONCALL = """
[recipients.oncall]
targets = ["telegram:user:1001", "slack:group:C0123", "wecom:user:alice",
           "qq@home-qq:group:30001", "lark:group:oc_team"]

[recipients.everyone]  # the five platforms and a webhook robot
targets = ["telegram:user:1001", "slack:group:C0123", "wecom:user:alice",
           "qq@home-qq:group:30001", "lark:group:oc_team", "dingtalk-robot@ops-dd"]
"""


@pytest.fixture
def profile(write_profile: Any, five: Five) -> Path:
    return write_profile(accounts(five) + ONCALL)


def delivered(f: Five) -> dict[str, list[str]]:
    """Where each fake delivered a message."""
    return {
        "telegram": [str(m.chat_id) for m in f.telegram.sent_messages()],
        "slack": [m.channel for m in f.slack.posted_messages()],
        "wecom": [u for m in f.wecom.sent() for u in m.touser],
        "qq": [f"{s.action}:{s.target}" for s in f.qq.sent()],
        "lark": [m.receive_id for m in f.lark.sent_messages()],
        "dingtalk-robot": [m["msgtype"] for m in f.dingtalk.messages],
    }


# -- parsing the entries ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "entry"),
    [
        ("telegram:user:1001", Entry("telegram:user:1001", "telegram", None, Target("user", "1001"))),
        ("slack:group:C0123", Entry("slack:group:C0123", "slack", None, Target("group", "C0123"))),
        ("qq@home-qq:group:123456",
         Entry("qq@home-qq:group:123456", "qq", "home-qq", Target("group", "123456"))),
        ("tg:group:@MyChannel", Entry("tg:group:@MyChannel", "tg", None, Target("group", "@MyChannel"))),
        ("telegram:group:-1001234", Entry("telegram:group:-1001234", "telegram", None,
                                          Target("group", "-1001234"))),
        (" lark:user:ann@example.com ",
         Entry("lark:user:ann@example.com", "lark", None, Target("user", "ann@example.com"))),
        # a webhook account alone: the account is the destination
        ("dingtalk-robot@ops", Entry("dingtalk-robot@ops", "dingtalk-robot", "ops", None)),
        ("wecom-robot@ci.alerts", Entry("wecom-robot@ci.alerts", "wecom-robot", "ci.alerts", None)),
    ],
)  # fmt: skip
def test_entries_parse_into_platform_account_and_target(text, entry):
    assert parse_entry(text) == entry


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("telegram", "no target"),
        ("telegram:chat:1", "'chat' is not user or group"),
        ("telegram:user:", "no user id"),
        ("telegram:user", "no user id"),
        (":user:1", "no platform"),
        ("qq@:group:1", "no account name after '@'"),
        ("qq@bad name:group:1", "bad account name"),
        ("", "no platform"),
    ],
)
def test_malformed_entries_say_what_is_wrong_and_the_format(text, why):
    with pytest.raises(UsageError) as info:
        parse_entry(text)
    assert why in info.value.message
    assert "PLATFORM[@ACCOUNT]:user|group:ID" in info.value.message


def test_a_webhook_entry_resolves_to_its_account(tmp_path):
    """A webhook platform takes no -u/-g (the account is the destination): the entry is
    `PLATFORM@ACCOUNT` alone; a user/group id or a missing account is refused."""
    from imcli import recipients
    from imcli.profile import Account, Profile

    prof = Profile(
        path=tmp_path / "p.toml", exists=False, data={},
        accounts=[Account("ops", "dingtalk-robot", {"platform": "dingtalk-robot"}),
                  Account("t", "telegram", {"platform": "telegram"})],
    )  # fmt: skip
    r = recipients.resolve_entry("dd-robot@ops", "oncall", prof, "text")
    assert (r.platform, r.account, r.target) == ("dingtalk-robot", "ops", None)
    with pytest.raises(UsageError, match="the webhook is the destination: drop -g/-u"):
        recipients.resolve_entry("dingtalk-robot@ops:group:1", "oncall", prof, "text")
    with pytest.raises(UsageError, match="needs user:ID or group:ID"):
        recipients.resolve_entry("telegram@t", "oncall", prof, "text")
    with pytest.raises(UsageError, match="account 't' is a telegram account, not dingtalk-robot"):
        recipients.resolve_entry("dingtalk-robot@t", "oncall", prof, "text")


# -- five platforms in one push ------------------------------------------------------------


def test_a_recipient_on_five_platforms_and_a_webhook_gets_each_exactly_once(cli, profile, five):
    r = cli("push", "text", "--to", "everyone", "--json", "disk full")
    assert r.code == 0, r.stderr
    out = json.loads(r.stdout)
    assert (out["sent"], out["failed"], out["fallbacks"]) == (6, 0, [])
    rows = {(t["platform"], t["target"], t["account"], t["recipient"]) for t in out["targets"]}
    assert rows == {
        ("telegram", "user:1001", "ops-bot", "everyone"),
        ("slack", "group:C0123", "team", "everyone"),
        ("wecom", "user:alice", "corp", "everyone"),
        ("qq", "group:30001", "home-qq", "everyone"),
        ("lark", "group:oc_team", "feishu", "everyone"),
        ("dingtalk-robot", "webhook", "ops-dd", "everyone"),
    }
    assert delivered(five) == {
        "telegram": ["1001"], "slack": ["C0123"], "wecom": ["alice"],
        "qq": ["send_group_msg:30001"], "lark": ["oc_team"], "dingtalk-robot": ["text"],
    }  # fmt: skip
    assert r.stderr == ""


def test_the_six_platforms_are_pushed_concurrently(cli, profile, five):
    """Each fake holds its first request until every one of the six (five platforms and
    a webhook robot) has a request in flight: pushed concurrently, they all get there
    at once however slowly a loaded machine runs; one after another, the first would
    wait out the 10 s hold alone."""
    fakes = five.all()
    arrived: set[int] = set()
    lock = threading.Lock()
    all_in = threading.Event()
    alone: list[str] = []  # the fakes whose first request waited in vain

    def hold_first(i: int, fake: Any) -> Callable[[Any], None]:
        def before(rec: Any) -> None:
            with lock:
                first = i not in arrived
                arrived.add(i)
                if len(arrived) == len(fakes):
                    all_in.set()
            if first and not all_in.wait(10):
                alone.append(type(fake).__name__)

        return before

    for i, f in enumerate(fakes):
        f.before = hold_first(i, f)
    r = cli("push", "text", "--to", "everyone", "all six")
    assert (r.code, r.stdout) == (0, "6\n"), r.stderr
    assert all_in.is_set() and alone == [], alone  # all six in flight at once
    sends = [
        five.telegram.calls("sendMessage"), five.slack.calls("chat.postMessage"),
        five.wecom.calls("message/send"), five.qq.calls("send_group_msg"),
        five.lark.calls("im/v1/messages"), five.dingtalk.calls("robot/send"),
    ]  # fmt: skip
    assert [len(s) for s in sends] == [1] * 6


@pytest.mark.real_clock  # concurrent sends: the pace on the system clock
def test_each_platform_keeps_its_own_rate_limit(cli, write_profile, five, monkeypatch):
    """QQ sends 2/s: four QQ targets take over a second, while the Telegram target of
    the same push goes at once."""
    write_profile(
        accounts(five)
        + '[recipients.mixed]\ntargets = ["qq:user:20001", "qq:user:20002", "qq:group:30001",'
        ' "qq:group:30002", "telegram:user:1001"]\n'
    )
    sent = departures(monkeypatch)
    r = cli("push", "text", "--to", "mixed", "hello")
    assert (r.code, r.stdout) == (0, "5\n"), r.stderr
    assert len(five.qq.calls("send_")) == 4 and len(five.telegram.calls("sendMessage")) == 1
    qq_times = sorted(t for t, url in sent if "/send_" in url)
    [tg_time] = [t for t, url in sent if url.endswith("/sendMessage")]
    assert len(qq_times) == 4
    assert qq_times[-1] - qq_times[0] >= 1.4  # 4 sends at 2/s: three gaps of 0.5 s
    assert tg_time < qq_times[-1] - 0.5  # not held behind QQ's pace


def test_to_combines_with_platform_targets_and_each_destination_goes_once(cli, profile, five):
    r = cli("push", "text", "-p", "tg", "-u", "1001", "-u", "1002", "--to", "oncall",
            "--to", "oncall", "--json", "hi")  # fmt: skip
    assert r.code == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["sent"] == 6
    assert sorted(delivered(five)["telegram"]) == ["1001", "1002"]
    first = [t for t in out["targets"] if t["target"] == "user:1001"]
    assert len(first) == 1 and first[0]["recipient"] is None  # the command line's, first


def test_a_recipient_naming_an_account_uses_it(cli, write_profile, five):
    write_profile(
        accounts(five).replace("[accounts.home-qq]", "[accounts.other-qq]\nplatform = \"qq\"\n"
                               'base_url = "http://127.0.0.1:9"\n\n[accounts.home-qq]')
        + '[recipients.r]\ntargets = ["qq@home-qq:user:20001"]\n'
    )  # fmt: skip
    r = cli("push", "text", "--to", "r", "--json", "hi")
    assert r.code == 0, r.stderr
    assert json.loads(r.stdout)["targets"][0]["account"] == "home-qq"


# -- fallback ------------------------------------------------------------------------------


FALLBACK = """
[recipients.primary]
targets = ["telegram:user:4040", "slack:group:C0GONE"]
fallback = ["secondary"]

[recipients.secondary]
targets = ["qq:user:20001", "lark:group:oc_team"]
"""


def test_a_recipient_that_reached_no_target_falls_back_and_says_so(cli, write_profile, five):
    write_profile(accounts(five) + FALLBACK)
    r = cli("push", "text", "--to", "primary", "--json", "db down")
    assert r.code == 1  # two targets failed
    out = json.loads(r.stdout)
    assert (out["sent"], out["failed"]) == (2, 2)
    assert out["fallbacks"] == [
        {"recipient": "primary", "fallback": "secondary", "sent": 2, "targets": 2}
    ]
    assert "primary: none of its 2 targets was reached; falling back to 'secondary'" in r.stderr
    assert "fallback 'secondary': 2 of 2 target(s) sent" in r.stderr
    assert "telegram user:4040: Bad Request: chat not found" in r.stderr
    assert "slack group:C0GONE: channel_not_found" in r.stderr
    # in the order it happened: the failures, then the fallback and how it went
    assert (
        r.stderr.index("chat not found")
        < r.stderr.index("falling back")
        < r.stderr.index("2 of 2 target(s) sent")
    )
    got = delivered(five)
    assert (got["qq"], got["lark"]) == (["send_private_msg:20001"], ["oc_team"])
    plain = cli("push", "text", "--to", "primary", "again")
    assert (plain.code, plain.stdout) == (1, "2\n")
    assert "falling back to 'secondary'" in plain.stderr


def test_quiet_drops_the_failed_target_lines_but_not_the_fallback(cli, write_profile, five):
    write_profile(accounts(five) + FALLBACK)
    r = cli("push", "text", "--to", "primary", "-q", "db down")
    assert (r.code, r.stdout) == (1, "2\n")
    assert "chat not found" not in r.stderr and "channel_not_found" not in r.stderr
    assert "falling back to 'secondary'" in r.stderr


def test_no_fallback_when_some_target_was_reached(cli, write_profile, five):
    write_profile(accounts(five) + FALLBACK.replace('"slack:group:C0GONE"', '"slack:group:C0123"'))
    r = cli("push", "text", "--to", "primary", "--json", "db down")
    out = json.loads(r.stdout)
    assert (r.code, out["sent"], out["fallbacks"]) == (1, 1, [])
    assert "falling back" not in r.stderr
    assert five.qq.requests == [] and five.lark.requests == []


def test_fallbacks_are_tried_in_order_and_no_target_is_sent_twice(cli, write_profile, five):
    """primary fails; its first fallback (which names the same Telegram chat again, and
    another that fails) reaches nothing either, so the second fallback is tried. The
    failed chat is not tried a second time."""
    write_profile(
        accounts(five) + '[recipients.primary]\ntargets = ["telegram:user:4040"]\n'
        'fallback = ["first", "second", "third"]\n'
        '[recipients.first]\ntargets = ["telegram:user:4040", "lark:group:oc_gone"]\n'
        'fallback = ["primary"]\n'
        '[recipients.second]\ntargets = ["wecom:user:alice"]\n'
        '[recipients.third]\ntargets = ["qq:user:20001"]\n'
    )
    r = cli("push", "text", "--to", "primary", "--json", "x")
    out = json.loads(r.stdout)
    assert [(f["fallback"], f["sent"]) for f in out["fallbacks"]] == [("first", 0), ("second", 1)]
    assert len(five.telegram.calls("sendMessage")) == 1
    assert delivered(five)["wecom"] == ["alice"] and five.qq.requests == []
    assert (r.code, out["sent"], out["failed"]) == (1, 1, 2)


def test_a_send_that_may_have_arrived_is_not_reached_and_not_resent(cli, write_profile, five):
    """A 502 to Telegram: that target may have been delivered (not counted, not resent);
    the recipient reached nothing surely, so its fallback is tried, and says so."""
    from tests.fakes.base import Reply

    write_profile(
        accounts(five)
        + '[recipients.primary]\ntargets = ["telegram:user:1001"]\nfallback = ["backup"]\n'
        '[recipients.backup]\ntargets = ["telegram:user:1001", "qq:user:20001"]\n'
    )
    five.telegram.queue("sendMessage", Reply(502, body=b"<html>Bad Gateway</html>"))
    r = cli("push", "text", "--to", "primary", "--json", "x")
    out = json.loads(r.stdout)
    assert (r.code, out["sent"], out["uncertain"]) == (1, 1, 1)
    assert "none of its 1 target was reached (1 may have been delivered); falling back" in (
        r.stderr
    )
    assert len(five.telegram.calls("sendMessage")) == 1  # never sent to 1001 again
    assert delivered(five)["qq"] == ["send_private_msg:20001"]


def test_the_same_chat_spelt_two_ways_is_sent_once(cli, write_profile, five):
    """Telegram compares chat ids as numbers: 42 and 042 are one chat, whether named by
    -u or by a recipient."""
    write_profile(accounts(five) + '[recipients.r]\ntargets = ["tg:user:042", "qq:user:20001"]\n')
    r = cli("push", "text", "-p", "telegram", "-u", "42", "--to", "r", "--json", "x")
    out = json.loads(r.stdout)
    assert (r.code, out["sent"], len(out["targets"])) == (0, 2, 2), r.stderr
    assert delivered(five)["telegram"] == ["42"]


def test_media_from_stdin_goes_to_every_platform(cli, write_profile, five):
    write_profile(accounts(five) + '[recipients.r]\ntargets = ["tg:user:1", "qq:user:20001"]\n')
    png = b"\x89PNG\r\n\x1a\n" + b"\0" * 200
    r = cli("push", "image", "--to", "r", "-", input=png)
    assert (r.code, r.stdout) == (0, "2\n"), r.stderr
    assert [m.method for m in five.telegram.sent_messages()] == ["sendPhoto"]
    assert five.telegram.sent_messages()[0].fields["photo"].size == len(png)
    assert [s.action for s in five.qq.sent()] == ["send_private_msg"]


# -- bad entries: refused before any request --------------------------------------------


@pytest.mark.parametrize(
    ("entry", "why"),
    [
        ("wecom:group:G1", "wecom: group push is not supported"),
        ("telegram:chat:1", "'chat' is not user or group"),
        ("nosuch:user:1", "unknown platform 'nosuch'"),
        ("qq@nobody:user:1", "no account named 'nobody'"),
        ("qq@team:user:1", "account 'team' is a slack account, not qq"),
        ("discord:user:1", "discord"),
        ("telegram@ops-bot", "telegram needs user:ID or group:ID"),
        ("telegram:user:a b", "has a space"),
    ],
)
def test_a_bad_entry_fails_before_any_request(cli, write_profile, five, entry, why):
    write_profile(
        accounts(five) + ONCALL + f'\n[recipients.broken]\ntargets = ["qq:user:20001", "{entry}"]\n'
    )
    r = cli("push", "text", "--to", "oncall", "--to", "broken", "hello")
    assert (r.code, r.stdout) == (2, "0\n")
    assert f"recipient 'broken': target '{entry}'" in r.stderr and why in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    assert five.requests() == 0


def test_a_bad_fallback_is_found_before_any_request(cli, write_profile, five):
    write_profile(
        accounts(five) + ONCALL.replace("[recipients.oncall]", "[recipients.oncall]\n"
                                        'fallback = ["pager"]') + FALLBACK.replace(
            '"qq:user:20001"', '"wecom:group:x"').replace("[recipients.secondary]",
                                                          "[recipients.pager]")
    )  # fmt: skip
    r = cli("push", "text", "--to", "oncall", "x")
    assert r.code == 2 and "recipient 'pager': target 'wecom:group:x'" in r.stderr
    write_profile(accounts(five) + ONCALL.replace("]\n", ']\nfallback = ["pagr"]\n', 1))
    r = cli("push", "text", "--to", "oncall", "x")
    assert r.code == 2 and "fallback 'pagr'" in r.stderr
    assert five.requests() == 0


def test_an_unknown_recipient_suggests_a_close_name(cli, profile, five):
    r = cli("push", "text", "--to", "oncal", "x")
    assert (r.code, r.stdout) == (2, "0\n")
    assert "no recipient named 'oncal'" in r.stderr and "did you mean 'oncall'" in r.stderr
    assert five.requests() == 0


def test_an_entry_on_a_platform_without_accounts_is_exit_3(cli, write_profile, five):
    write_profile(accounts(five) + '[recipients.r]\ntargets = ["qq:user:1", "wechat:user:o1"]\n')
    r = cli("push", "text", "--to", "r", "x")
    assert (r.code, r.stdout) == (3, "0\n")
    assert "target 'wechat:user:o1': wechat: no account configured" in r.stderr
    assert five.requests() == 0


def test_a_platform_that_refuses_the_push_stops_every_platform(cli, write_profile, five):
    """Lark refuses `-o uuid=…` (imcli sets it on each send) before sending; QQ would
    take it. The push is refused as a whole (exit 2) and QQ sees no request: no group
    sends before all have passed their checks."""
    write_profile(
        accounts(five) + '[recipients.r]\ntargets = ["qq:user:20001", "lark:group:oc_team"]\n'
    )
    r = cli("push", "text", "--to", "r", "-o", "uuid=fixed", "x")
    assert (r.code, r.stdout) == (2, "0\n"), r.stderr
    assert "to 'r': option 'uuid': imcli sets it on every lark send itself" in r.stderr
    assert five.requests() == 0


def test_a_media_refusal_by_one_platform_stops_every_platform(
    cli, write_profile, five, tmp_path, no_ffmpeg
):
    """Without ffmpeg, a WAV voice is refused by QQ and Telegram; Slack and WeCom are
    in the same push: none of them sees a request."""
    wav = tmp_path / "a.wav"
    wav.write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt " + bytes(200))
    write_profile(
        accounts(five) + '[recipients.r]\ntargets = ["slack:group:C0123", "wecom:user:alice",'
        ' "qq:user:20001", "tg:user:1"]\n'
    )
    r = cli("push", "voice", "--to", "r", str(wav))
    assert (r.code, r.stdout) == (2, "0\n"), r.stderr
    assert "to 'r': " in r.stderr and "voice" in r.stderr
    assert five.requests() == 0


def test_platform_without_targets_is_refused_next_to_to(cli, profile, five):
    r = cli("push", "text", "-p", "telegram", "--to", "oncall", "x")
    assert r.code == 2 and "give -u/-g too" in r.stderr
    assert five.requests() == 0


def test_a_malformed_recipients_table_is_a_configuration_error(cli, write_profile, five):
    write_profile(accounts(five) + '[recipients.r]\ntargets = "telegram:user:1"\n')
    r = cli("push", "text", "--to", "r", "x")
    assert r.code == 3 and "[recipients.r] needs targets = [" in r.stderr


def test_a_misspelt_fallback_key_is_warned_about(cli, write_profile, five):
    write_profile(accounts(five) + ONCALL.replace("]\n", ']\nfallbacks = ["x"]\n', 1))
    r = cli("push", "text", "--to", "oncall", "x")
    assert (r.code, r.stdout) == (0, "5\n")
    assert "unknown key 'fallbacks' in [recipients.oncall], ignored (did you mean 'fallback'?)" in (
        r.stderr
    )
    assert len(r.stderr.splitlines()) == 1


def test_dry_run_lists_every_platform_and_sends_nothing(cli, profile, five):
    r = cli("push", "text", "--to", "oncall", "--dry-run", "--json", "x")
    assert r.code == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["sent"] == 5 and out["dry_run"] is True
    assert five.requests() == 0


# -- ids from a file ---------------------------------------------------------------------


def test_user_ids_from_a_file_with_comments(cli, write_profile, five, tmp_path):
    write_profile(accounts(five))
    ids = tmp_path / "users.txt"
    ids.write_text("# the on-call team\n20001\n\n  20002   # bob\n#20003\n")
    r = cli("push", "text", "-p", "qq", "-u", f"@{ids}", "--json", "x")
    assert r.code == 0, r.stderr
    assert [t["target"] for t in json.loads(r.stdout)["targets"]] == ["user:20001", "user:20002"]


def test_group_ids_from_stdin_with_the_content_on_the_command_line(cli, write_profile, five):
    write_profile(accounts(five))
    r = cli("push", "text", "-p", "qq", "-g", "@-", "-u", "20001", "hello", input="30001\n30002\n")
    assert (r.code, r.stdout) == (0, "3\n"), r.stderr
    assert sorted(delivered(five)["qq"]) == [
        "send_group_msg:30001", "send_group_msg:30002", "send_private_msg:20001",
    ]  # fmt: skip


def test_ids_from_stdin_need_the_content_elsewhere(cli, write_profile, five):
    write_profile(accounts(five))
    r = cli("push", "text", "-p", "qq", "-g", "@-", input="30001\n")
    assert r.code == 2 and "only one thing may read standard input" in r.stderr
    r = cli("push", "text", "-p", "qq", "-g", "@-", "-u", "@-", "x", input="30001\n")
    assert r.code == 2 and "only one thing may read standard input" in r.stderr
    assert five.requests() == 0


def test_a_missing_id_file_and_a_channel_name(cli, write_profile, five, tmp_path):
    write_profile(accounts(five))
    r = cli("push", "text", "-p", "qq", "-u", "@nofile.txt", "x")
    assert (r.code, r.stdout) == (2, "0\n") and "-u @nofile.txt: no such file" in r.stderr
    (tmp_path / "empty.txt").write_text("# nobody\n")
    r = cli("push", "text", "-p", "qq", "-u", f"@{tmp_path / 'empty.txt'}", "x")
    assert r.code == 2 and "no ids in it" in r.stderr
    # @name without '.' or '/' is a Telegram channel, not a file
    r = cli("push", "text", "-p", "tg", "-g", "@mychannel", "--json", "x")
    assert r.code == 0, r.stderr
    assert five.telegram.sent_messages()[0].chat_id == "@mychannel"


def test_a_long_id_file_is_read_without_the_command_line(cli, write_profile, five, tmp_path):
    write_profile(accounts(five).replace('platform = "wecom"', 'platform = "wecom"\nrate = 0'))
    ids = tmp_path / "ids.txt"
    ids.write_text("".join(f"u{i}\n" for i in range(20_000)))
    r = cli("push", "text", "-p", "wecom", "-u", f"@{ids}", "--dry-run", "x")
    assert (r.code, r.stdout) == (0, "20000\n"), r.stderr[-300:]
    assert five.wecom.requests == []


# -- imcli recipients ----------------------------------------------------------------------


def test_add_appends_and_keeps_every_byte(cli, write_profile, five, profile_path):
    before = accounts(five) + "# my notes, kept\n[settings]\ntimeout = 30000 # ms"
    write_profile(before)
    r = cli("recipients", "add", "ops", "telegram:user:1001", "qq@home-qq:group:30001")
    assert r.code == 0, r.stderr
    assert "added recipient 'ops'" in r.stderr
    r = cli("recipients", "add", "oncall", "slack:group:C0123", "--fallback", "ops")
    assert r.code == 0, r.stderr
    text = profile_path.read_text()
    assert text.startswith(before + "\n")
    assert stat.S_IMODE(profile_path.stat().st_mode) == 0o600
    assert not profile_path.with_name("profile.toml.bak").exists()
    shown = json.loads(cli("recipients", "list", "--json").stdout)["recipients"]
    assert shown == [
        {"name": "ops", "targets": ["telegram:user:1001", "qq@home-qq:group:30001"],
         "fallback": []},
        {"name": "oncall", "targets": ["slack:group:C0123"], "fallback": ["ops"]},
    ]  # fmt: skip
    r = cli("push", "text", "--to", "oncall", "x")
    assert (r.code, r.stdout) == (0, "1\n")


def test_a_new_profile_gets_0600(cli, isolated_env):
    path = isolated_env / "new" / "profile.toml"
    r = cli("--profile", str(path), "accounts", "add", "t", "-p", "telegram", "--set", "token=1:x")
    assert r.code == 0, r.stderr
    r = cli("--profile", str(path), "recipients", "add", "me", "telegram:user:1")
    assert r.code == 0, r.stderr
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


@pytest.mark.parametrize(
    ("args", "why"),
    [
        (["r", "wecom:group:1"], "wecom: group push is not supported"),
        (["r", "telegram"], "no target"),
        (["r", "qq@nobody:user:1"], "no account named 'nobody'"),
        (["r", "qq:user:1", "--fallback", "nobody"], "no recipient named 'nobody'"),
        (["r", "qq:user:1", "--fallback", "r"], "cannot be its own fallback"),
        (["bad name", "qq:user:1"], "recipient name 'bad name'"),
        (["oncall", "qq:user:1"], "recipient 'oncall' already exists"),
    ],
)
def test_add_refuses_what_a_push_would_refuse(cli, profile, five, args, why):
    before = profile.read_bytes()
    r = cli("recipients", "add", *args)
    assert r.code == 2 and why in r.stderr, r.stderr
    assert profile.read_bytes() == before


def test_add_extends_an_inline_recipients_table_by_rewriting_it(cli, write_profile, five):
    inline = 'recipients = { a = { targets = ["qq:user:1"] } }\n'
    path = write_profile(inline + accounts(five))
    r = cli("recipients", "add", "b", "qq:user:2")
    assert r.code == 0, r.stderr
    names = [
        x["name"] for x in json.loads(cli("recipients", "list", "--json").stdout)["recipients"]
    ]
    assert names == ["a", "b"]
    assert path.with_name("profile.toml.bak").read_text().startswith(inline)


def test_remove_rewrites_and_keeps_a_backup(cli, write_profile, five, profile_path):
    write_profile(accounts(five) + ONCALL + FALLBACK)
    before = profile_path.read_text()
    r = cli("recipients", "remove", "secondary")
    assert r.code == 2 and "is the fallback of 'primary'" in r.stderr
    r = cli("recipients", "remove", "oncall")
    assert r.code == 0, r.stderr
    assert profile_path.with_name("profile.toml.bak").read_text() == before
    assert stat.S_IMODE(profile_path.stat().st_mode) == 0o600
    names = [
        x["name"] for x in json.loads(cli("recipients", "list", "--json").stdout)["recipients"]
    ]
    assert names == ["everyone", "primary", "secondary"]
    r = cli("recipients", "remove", "oncall")
    assert r.code == 2 and "no recipient named 'oncall'" in r.stderr


def test_list_and_show(cli, write_profile, five):
    write_profile(accounts(five) + ONCALL + FALLBACK)
    r = cli("recipients", "list")
    assert r.code == 0
    assert r.stdout.splitlines()[2].startswith("primary    telegram:user:4040, slack:group:C0GONE")
    assert r.stdout.splitlines()[1].endswith(", dingtalk-robot@ops-dd")
    assert "(fallback: secondary)" in r.stdout
    r = cli("recipients", "show", "oncall", "--json")
    rows = json.loads(r.stdout)["targets"]
    assert rows[3] == {"entry": "qq@home-qq:group:30001", "platform": "qq",
                       "account": "home-qq", "target": "group:30001", "error": None}  # fmt: skip
    assert rows[0]["account"] == "ops-bot"  # the platform's first choice
    r = cli("recipients", "show", "everyone")
    assert "dingtalk-robot@ops-dd   dingtalk-robot webhook (ops-dd)" in r.stdout
    r = cli("recipients", "show", "primary")
    assert "telegram:user:4040  telegram user:4040 (ops-bot)" in r.stdout
    assert r.stdout.rstrip().endswith("fallback: secondary")


def test_show_flags_a_bad_entry(cli, write_profile, five):
    write_profile(accounts(five) + '[recipients.r]\ntargets = ["qq:user:1", "wecom:group:g"]\n')
    r = cli("recipients", "show", "r")
    assert r.code == 2
    assert "wecom:group:g  error: wecom: group push is not supported" in r.stdout


def test_list_with_no_recipients(cli, write_profile, five):
    write_profile(accounts(five))
    r = cli("recipients", "list")
    assert (r.code, r.stdout) == (0, "")
    assert "no recipients in" in r.stderr


# -- completion --------------------------------------------------------------------------


COMPLETION_PROFILE = """\
[accounts.work]
platform = "telegram"
token = "123:abc"

[recipients.oncall]
targets = ["telegram:user:1"]

[recipients.ops]
targets = ["telegram:user:2", "telegram:user:3"]
"""


@pytest.mark.parametrize(
    ("shell", "line"),
    [
        ("bash", "imcli push text --to "),
        ("bash", "imcli push image -u 1 --to o"),
        ("bash", "imcli recipients show "),
        ("bash", "imcli recipients remove on"),
        ("bash", "imcli recipients add x --fallback "),
        ("zsh", "imcli push text --to "),
        ("fish", "imcli recipients show o"),
    ],
)
def test_recipient_names_complete_on_the_fast_path_as_typer_would(isolated_env, shell, line):
    from tests.test_completion import _IMPORTS, _env, run_complete, typer_complete

    Path(os.environ["IMCLI_PROFILE"]).write_text(COMPLETION_PROFILE)
    fast = run_complete(shell, line)
    slow = typer_complete(shell, line)
    assert (fast.returncode, fast.stdout, fast.stderr) == (
        slow.returncode, slow.stdout, slow.stderr
    )  # fmt: skip
    incomplete = line.rsplit(" ", 1)[1]
    want = {n for n in ("oncall", "ops") if n.startswith(incomplete)}
    if shell == "bash":
        assert set(fast.stdout.split()) == want
    else:
        assert all(n in fast.stdout for n in want) and want
    proc = subprocess.run(
        [sys.executable, "-c", _IMPORTS], env=_env(shell, line),
        capture_output=True, text=True, cwd=str(ROOT),
    )  # fmt: skip
    assert "LOADED []" in proc.stderr, proc.stderr[-500:]


# -- the Python API --------------------------------------------------------------------------


def test_the_python_api_takes_to(profile, five):
    import imcli

    assert imcli.push("", None, None, "Disk", "full", to="oncall") == 5
    assert imcli.push("qq", None, 20001, None, "and you", to=["oncall"]) == 6
    assert len(five.telegram.sent_messages()) == 2


def test_the_python_api_raises_with_the_result_when_targets_fail(write_profile, five):
    import imcli
    from imcli.errors import PlatformError

    write_profile(accounts(five) + FALLBACK)
    with pytest.raises(PlatformError) as info:
        imcli.push(None, None, None, None, "x", to="primary")
    assert info.value.sent == 2 and "falling back to 'secondary'" in info.value.message
    with pytest.raises(UsageError, match="no recipient named"):
        imcli.push(None, None, None, None, "x", to="nobody")


# -- interrupted -------------------------------------------------------------------------


def test_an_interrupted_push_to_a_recipient_prints_what_was_sent(write_profile, five):
    import signal

    from tests.test_concurrency import spawn, wait_for

    groups = list(range(30001, 30011))
    five.qq.groups.update(groups)
    entries = ", ".join(f'"qq:group:{g}"' for g in groups)
    write_profile(accounts(five) + f'[recipients.r]\ntargets = ["tg:user:1", {entries}]\n')
    proc = spawn("push", "text", "--to", "r", "hi", "--json")
    wait_for(lambda: len(five.qq.calls("send_")) >= 3)  # 2 messages/s: 10 groups take 5 s
    time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=15)
    assert proc.returncode == 130, err
    data = json.loads(out)
    assert data["sent"] == sum(1 for t in data["targets"] if t["ok"])
    assert 4 <= data["sent"] < 11  # Telegram's, and the QQ groups answered so far
    assert {t["platform"] for t in data["targets"] if t["ok"]} == {"telegram", "qq"}
    assert f"interrupted; {data['sent']} of 11 target(s) sent" in err
    assert "Traceback" not in err


def test_concurrent_adds_and_removes_keep_every_recipient(
    cli, write_profile, profile_path, tmp_path
):
    """Eight processes add recipients and two remove others, all at once: the profile's
    lock keeps every change, and the file stays 0600 and valid."""
    from tests.test_concurrency import run_together

    write_profile(
        '[accounts.t]\nplatform = "telegram"\ntoken = "1:t-token-abcdef"\n'
        '[recipients.old1]\ntargets = ["tg:user:1"]\n[recipients.old2]\ntargets = ["tg:user:2"]\n'
    )
    commands = [("recipients", "add", f"r{i}", f"tg:user:{100 + i}") for i in range(8)]
    commands += [("recipients", "remove", "old1"), ("recipients", "remove", "old2")]
    done = run_together(commands, tmp_path / "gate")
    assert [d.code for d in done] == [0] * 10, [d.stderr for d in done]
    names = [
        x["name"] for x in json.loads(cli("recipients", "list", "--json").stdout)["recipients"]
    ]
    assert sorted(names) == [f"r{i}" for i in range(8)]
    assert stat.S_IMODE(profile_path.stat().st_mode) == 0o600


def test_an_interrupted_push_keeps_by_the_rule_of_an_ended_one():
    """What the outbox keeps of an interrupted push follows the rule of one that ended:
    a recipient's own failed target is kept unless a fallback reached someone for it --
    a fallback that ended doing so, or one whose wave was stopped after it did."""
    from imcli.models import Target, TargetResult
    from imcli.recipients import Progress, Started, kept_of_progress

    own = Target("group", "C0AAA")
    stand_in = Target("user", "21")

    def progress(fallback_ok: bool, ended: bool) -> Progress:
        p = Progress()
        p.append(Started("slack", "team", False, {own: TargetResult(own, error="not sent")},
                         recipients={own: "a"}))  # fmt: skip
        sent = TargetResult(stand_in, ok=fallback_ok, account="bot", error=None)
        p.append(Started("telegram", "bot", True, {stand_in: sent},
                         recipients={stand_in: "fa"}, stands_for="a"))  # fmt: skip
        if ended and fallback_ok:
            p.rescued.append("a")
        return p

    kept = [("slack", own, "team", "pending", "not sent")]
    assert kept_of_progress(progress(fallback_ok=False, ended=False)) == kept
    assert kept_of_progress(progress(fallback_ok=True, ended=True)) == []
    assert kept_of_progress(progress(fallback_ok=True, ended=False)) == []
