"""The outbox: `push --spool` keeps what could not go out, `imcli outbox list|flush|drop`.

Against the real fakes: an outage is a fake server that is stopped (its port refuses
connections) and started again on the same port. Pacing is not under test here, so the
accounts set ``rate = 0`` (no client-side pacing) unless a test says otherwise.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT, TG_TOKEN


def outbox_dir(home: Path) -> Path:
    return home / "home" / ".local" / "share" / "imcli" / "outbox"


def tg(write_profile: Any, fake: Any, extra: str = "", settings: str = "") -> Path:
    head = f"[settings]\n{settings}\n" if settings else ""
    return write_profile(
        f'{head}[accounts.bot]\nplatform = "telegram"\ntoken = "{TG_TOKEN}"\n'
        f'base_url = "{fake.api_url}"\nrate = 0\n{extra}'
    )


def listed(cli: Any) -> dict[str, Any]:
    r = cli("outbox", "list", "--json")
    assert r.code == 0, r.output
    return json.loads(r.stdout)


def received(fake: Any) -> Counter[str]:
    return Counter(str(m.chat_id) for m in fake.sent_messages())


def _spawn(args: list[str], **kw: Any) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "imcli", *args],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, cwd=str(ROOT), env=dict(os.environ), **kw,
    )  # fmt: skip


# -- an outage ------------------------------------------------------------------------------


def test_an_outage_is_kept_and_flushed_exactly_once(cli, write_profile, telegram, isolated_env):
    tg(write_profile, telegram)
    telegram.stop()  # the platform is down: connections are refused
    r = cli("push", "text", "-p", "tg", "-u", "11", "-g", "-22", "disk full", "--spool",
            "--timeout", "3000")  # fmt: skip
    assert r.code == 1, r.output
    assert r.stdout == "0\n"
    assert "2 target(s) kept" in r.stderr, r.stderr
    box = listed(cli)
    assert [(e["target"], e["state"], e["tries"]) for e in box["entries"]] == [
        ("group:-22", "pending", 1),
        ("user:11", "pending", 1),
    ], box
    assert "cannot connect" in box["entries"][0]["reason"]
    assert box["entries"][0]["account"] == "bot"
    # files 0600, folders 0700, and no secret in the entry
    root = outbox_dir(isolated_env)
    for p in [root, *root.rglob("*")]:
        want = 0o700 if p.is_dir() else 0o600
        assert p.stat().st_mode & 0o777 == want, p
    for p in root.rglob("*.json"):
        assert TG_TOKEN not in p.read_text() and TG_TOKEN.split(":")[1] not in p.read_text()

    r = cli("outbox", "flush", "--timeout", "3000")  # still down: both wait, one more try
    assert r.code == 1 and r.stdout == "0\n", r.output
    assert [e["tries"] for e in listed(cli)["entries"]] == [2, 2]

    telegram.start()  # recovered, same port
    r = cli("outbox", "flush")
    assert r.code == 0 and r.stdout == "2\n", r.output
    assert received(telegram) == Counter({"11": 1, "-22": 1})
    assert [m.fields["text"] for m in telegram.sent_messages()] == ["disk full", "disk full"]
    assert listed(cli)["entries"] == []
    r = cli("outbox", "flush")  # nothing waits: nothing is sent again
    assert r.code == 0 and r.stdout == "0\n", r.output
    assert len(telegram.sent_messages()) == 2
    assert not list((root / "media").iterdir())


def test_spool_in_settings_and_definite_failures_are_not_kept(cli, write_profile, isolated_env):
    from tests.fakes.telegram import FakeTelegram

    with FakeTelegram(unknown_chats=[404]) as fake:
        tg(write_profile, fake, settings="spool = true")
        busy = fake.error(429, "Too Many Requests: retry after 30", 30)
        fake.before = lambda req: busy if str(req.field("chat_id")) == "5" else None
        r = cli("push", "text", "-p", "tg", "-u", "404", "-u", "5", "hello", "--timeout", "2000")
        assert r.code == 1, r.output
        assert "chat not found" in r.stderr
        entries = listed(cli)["entries"]
        # chat 404 failed for good (not kept); 5 met a 429 past the budget (kept)
        assert [(e["target"], e["state"]) for e in entries] == [("user:5", "pending")], entries
        assert "429" in entries[0]["reason"] or "Too Many" in entries[0]["reason"]
        fake.before = None
        r = cli("outbox", "flush")
        assert r.code == 0 and r.stdout == "1\n", r.output
        assert received(fake) == Counter({"5": 1})


def test_without_spool_nothing_is_kept(cli, write_profile, telegram):
    tg(write_profile, telegram)
    telegram.stop()
    r = cli("push", "text", "-p", "tg", "-u", "1", "hi", "--timeout", "2000")
    assert r.code == 1
    assert listed(cli)["entries"] == []
    telegram.start()


def test_media_is_copied_and_a_url_stays_a_url(cli, write_profile, telegram, tmp_path):
    tg(write_profile, telegram)
    img = tmp_path / "chart.png"
    img.write_bytes(b"\x89PNG\r\n\x1a\n" + b"x" * 2000)
    telegram.stop()
    r = cli("push", "image", "-p", "tg", "-u", "7", str(img), "-t", "cpu", "--spool",
            "--timeout", "2000")  # fmt: skip
    assert r.code == 1, r.output
    r = cli("push", "image", "-p", "tg", "-u", "8", "https://example.com/a.png", "--spool",
            "--timeout", "2000")  # fmt: skip
    assert r.code == 1, r.output
    img.unlink()  # the original is gone: the outbox has its own copy
    telegram.start()
    r = cli("outbox", "flush")
    assert r.code == 0 and r.stdout == "2\n", r.output
    photos = {str(c.field("chat_id")): c for c in telegram.calls("sendPhoto")}
    assert photos["7"].files["photo"].size == 2008
    assert photos["7"].field("caption") == "cpu"
    assert photos["8"].field("photo") == "https://example.com/a.png"


# -- list, drop, corrupt entries, old entries -------------------------------------------------


def test_drop_and_a_corrupt_entry(cli, write_profile, telegram, isolated_env):
    tg(write_profile, telegram)
    telegram.stop()
    for chat in ("1", "2", "3"):
        assert cli("push", "text", "-p", "tg", "-u", chat, "m" + chat, "--spool",
                   "--timeout", "2000").code == 1  # fmt: skip
    telegram.start()
    ids = [e["id"] for e in listed(cli)["entries"]]
    assert len(ids) == 3
    # one entry is damaged (a disk that filled up mid-way, a hand edit)
    bad = outbox_dir(isolated_env) / "entries" / f"{ids[1]}.json"
    bad.write_text('{"v": 1, "id": "')
    # and a stray file that is not JSON at all
    (outbox_dir(isolated_env) / "entries" / "zzz-000000.json").write_bytes(b"\xff\xfe")
    r = cli("outbox", "list")
    assert r.code == 0, r.output
    assert "corrupt" in r.stdout and ids[1] in r.stdout
    box = listed(cli)
    assert [e["id"] for e in box["entries"]] == [ids[0], ids[2]]
    assert sorted(c["id"] for c in box["corrupt"]) == sorted([ids[1], "zzz-000000"])
    r = cli("outbox", "drop", ids[0])
    assert r.code == 0 and r.stdout == "1\n", r.output
    r = cli("outbox", "drop", "nope-1")
    assert r.code == 2 and "no entry nope-1" in r.stderr
    r = cli("outbox", "flush")  # the corrupt one never stops the others
    assert r.code == 0 and r.stdout == "1\n", r.output
    assert received(telegram) == Counter({"3": 1})
    r = cli("outbox", "drop", "--all")
    assert r.code == 0 and r.stdout == "2\n", r.output
    assert listed(cli) == {"path": str(outbox_dir(isolated_env)), "entries": [], "corrupt": []}
    r = cli("outbox", "drop")
    assert r.code == 2


def test_entries_older_than_max_age_are_dropped_on_flush(cli, write_profile, telegram,
                                                         isolated_env):  # fmt: skip
    tg(write_profile, telegram, settings='outbox_max_age = "1h"')
    telegram.stop()
    for chat in ("1", "2"):
        cli("push", "text", "-p", "tg", "-u", chat, "x", "--spool", "--timeout", "2000")
    telegram.start()
    entries = listed(cli)["entries"]
    old = outbox_dir(isolated_env) / "entries" / f"{entries[0]['id']}.json"
    data = json.loads(old.read_text())
    data["created"] -= 2 * 3600
    old.write_text(json.dumps(data))
    r = cli("outbox", "flush")
    assert r.code == 1, r.output
    assert r.stdout == "1\n"
    assert f"dropped {entries[0]['id']}" in r.stderr and "outbox_max_age" in r.stderr
    assert received(telegram) == Counter({"2": 1})
    assert listed(cli)["entries"] == []


def test_flush_on_push_sends_what_waits_first(cli, write_profile, telegram):
    tg(write_profile, telegram, settings="flush_on_push = true")
    telegram.stop()
    cli("push", "text", "-p", "tg", "-u", "1", "first", "--spool", "--timeout", "2000")
    telegram.start()
    r = cli("push", "text", "-p", "tg", "-u", "2", "second")
    assert r.code == 0 and r.stdout == "1\n", r.output  # stdout: this push's count only
    assert "1 waiting message(s) sent before this push" in r.stderr
    assert [(str(m.chat_id), m.fields["text"]) for m in telegram.sent_messages()] == [
        ("1", "first"),
        ("2", "second"),
    ]


# -- concurrency and crashes ------------------------------------------------------------------


@pytest.mark.timeout(120)
@pytest.mark.real_clock  # the outage push waits on real time, as the flushes do
def test_ten_concurrent_flushes_send_each_entry_once(cli, write_profile, telegram, isolated_env):
    tg(write_profile, telegram)
    telegram.latency = 0.02
    telegram.stop()
    targets = [a for i in range(60) for a in ("-u", str(100 + i))]
    r = cli("push", "text", "-p", "tg", *targets, "hello", "--spool", "--timeout", "2000")
    assert r.code == 1 and "60 target(s) kept" in r.stderr, r.output
    assert {e["state"] for e in listed(cli)["entries"]} == {"pending"}
    telegram.start()
    procs = [_spawn(["outbox", "flush"]) for _ in range(10)]
    counts = []
    for p in procs:
        out, err = p.communicate(timeout=90)
        assert p.returncode == 0, err
        counts.append(int(out))
    got = received(telegram)
    assert sum(counts) == 60, (counts, listed(cli), len(got))
    assert len(got) == 60 and set(got.values()) == {1}, got
    assert listed(cli)["entries"] == []
    root = outbox_dir(isolated_env)
    assert not list((root / "sending").iterdir())


@pytest.mark.timeout(240)
def test_kill_9_mid_flush_loses_nothing_and_repeats_nothing_confirmed(cli, write_profile,
                                                                     telegram):  # fmt: skip
    """kill -9 at random moments of a flush, then flush again, several rounds: every
    target got at most one message; one that got none still waits; one whose fate the
    dead flush never learned waits as "uncertain" and only `flush --uncertain` sends it."""
    tg(write_profile, telegram)
    rng = random.Random()
    for round_ in range(4):
        telegram.reset()
        telegram.latency = 0.03
        telegram.stop()
        targets = [a for i in range(150) for a in ("-u", str(1000 * round_ + i + 1))]
        cli("push", "text", "-p", "tg", *targets, "x", "--spool", "--timeout", "2000")
        telegram.start()
        proc = _spawn(["outbox", "flush"])
        time.sleep(rng.uniform(0.3, 1.5))
        proc.kill()
        proc.communicate(timeout=30)
        time.sleep(0.2)
        got = received(telegram)
        assert set(got.values()) <= {1}, got
        box = listed(cli)["entries"]
        waiting = {e["target"].split(":")[1]: e["state"] for e in box}
        everyone = {str(1000 * round_ + i + 1) for i in range(150)}
        assert everyone == set(got) | set(waiting), "lost: " + str(
            everyone - set(got) - set(waiting)
        )
        # delivered and still waiting: only as uncertain (a plain flush does not repeat it)
        assert all(waiting[t] == "uncertain" for t in set(got) & set(waiting))
        r = cli("outbox", "flush")
        assert r.code in (0, 1), r.output
        got = received(telegram)
        assert set(got.values()) <= {1}, got  # nothing confirmed was sent twice
        left = listed(cli)["entries"]
        assert all(e["state"] == "uncertain" for e in left), left
        assert everyone == set(got) | {e["target"].split(":")[1] for e in left}
        cli("outbox", "drop", "--all")


@pytest.mark.timeout(240)
def test_an_interrupted_1000_target_fan_out_is_finished_by_flush(cli, write_profile, telegram):
    """SIGTERM in the middle of a 1,000-target push with --spool, then `outbox flush`:
    every target received exactly one message, except those reported uncertain (at most
    one, and only those)."""
    telegram.latency = 0.05
    tg(write_profile, telegram, extra="")
    id_file = Path(os.environ["IMCLI_PROFILE"]).with_name("ids.txt")
    id_file.write_text("".join(f"{5000 + i}\n" for i in range(1000)))
    proc = _spawn(["push", "text", "-p", "tg", "-u", f"@{id_file}", "broadcast", "--spool",
                   "--json", "--timeout", "120000"])  # fmt: skip
    deadline = time.monotonic() + 30
    while len(telegram.sent_messages()) < 200 and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, (proc.returncode, err)
    result = json.loads(out)
    uncertain = {t["target"].split(":")[1] for t in result["targets"] if t["uncertain"]}
    sent = {t["target"].split(":")[1] for t in result["targets"] if t["ok"]}
    assert 100 <= len(sent) < 1000, len(sent)
    box = listed(cli)["entries"]
    assert {e["target"].split(":")[1] for e in box} == {
        str(5000 + i) for i in range(1000)
    } - sent, "the outbox holds exactly the targets not surely sent"
    assert {e["target"].split(":")[1] for e in box if e["state"] == "uncertain"} == uncertain
    time.sleep(0.3)
    before = received(telegram)
    assert {t for t in before if t not in sent} <= uncertain, sorted(set(before) - sent - uncertain)
    r = cli("outbox", "flush")
    assert r.code == 0, r.output
    assert int(r.stdout) == 1000 - len(sent) - len(uncertain)
    got = received(telegram)
    everyone = {str(5000 + i) for i in range(1000)}
    # exactly one message each, except the uncertain ones: at most one (not resent)
    assert {t for t in everyone if got[t] != 1} <= uncertain, sorted(
        (t, got[t]) for t in everyone if got[t] != 1 and t not in uncertain
    )
    assert all(got[t] <= 1 for t in uncertain)
    assert {e["target"].split(":")[1] for e in listed(cli)["entries"]} == uncertain


# -- uncertain entries, a budget that runs out ------------------------------------------------


def test_an_uncertain_send_waits_for_flush_uncertain(cli, write_profile, telegram):
    from tests.fakes.base import Reply

    tg(write_profile, telegram)
    # a gateway answers 502 after passing the message on: it may have been delivered
    telegram.queue(r"sendMessage", Reply(502, body=b"<html>502 Bad Gateway</html>"))
    r = cli("push", "text", "-p", "tg", "-u", "9", "maybe", "--spool")
    assert r.code == 1, r.output
    assert "may have been delivered" in r.stderr
    entries = listed(cli)["entries"]
    assert [(e["target"], e["state"]) for e in entries] == [("user:9", "uncertain")]
    r = cli("outbox", "flush")  # a plain flush never repeats it
    assert r.code == 0 and r.stdout == "0\n", r.output
    assert telegram.sent_messages() == []
    assert len(listed(cli)["entries"]) == 1
    r = cli("outbox", "flush", "--uncertain", "--json")
    assert r.code == 0, r.output
    out = json.loads(r.stdout)
    assert out["sent"] == 1 and out["targets"][0]["target"] == "user:9", out
    assert received(telegram) == Counter({"9": 1})
    assert listed(cli)["entries"] == []


@pytest.mark.timeout(120)
def test_a_budget_exhausted_fan_out_leaves_exactly_its_unsent_targets(cli, write_profile,
                                                                      telegram):  # fmt: skip
    """60 targets at 20/s with a 1.5 s budget: what was not sent when the budget ended
    waits in the outbox, and a flush sends exactly those.

    A send that left just before the end of the budget can run out of it in flight (the
    last slot may come with a few milliseconds left, and a loaded machine answers later
    than that): its fate is unknown, so it is not counted, it waits as "uncertain", and a
    plain flush does not repeat it."""
    profile = tg(write_profile, telegram)
    profile.write_text(profile.read_text().replace("rate = 0", "rate = 20"))
    everyone = {f"user:{300 + i}" for i in range(60)}
    targets = [a for i in range(60) for a in ("-u", str(300 + i))]
    r = cli("push", "text", "-p", "tg", *targets, "news", "--spool", "--timeout", "1500",
            "--json")  # fmt: skip
    assert r.code == 1, r.output
    out = json.loads(r.stdout)
    sent = {t["target"] for t in out["targets"] if t["ok"]}
    maybe = {t["target"] for t in out["targets"] if t["uncertain"]}
    assert 10 <= len(sent) < 60, len(sent)
    assert len(maybe) == out["uncertain"] and not sent & maybe, out
    box = listed(cli)["entries"]
    assert {e["target"] for e in box} == everyone - sent
    assert {e["target"] for e in box if e["state"] == "uncertain"} == maybe
    unsent = everyone - sent - maybe
    assert unsent and {f"user:{chat}" for chat in received(telegram)} <= sent | maybe
    r = cli("outbox", "flush")
    assert r.code == 0 and int(r.stdout) == len(unsent), r.output
    got = received(telegram)
    assert {f"user:{chat}" for chat, n in got.items() if n == 1} >= sent | unsent
    assert set(got.values()) == {1}  # none twice, an uncertain one not repeated
    assert {e["target"] for e in listed(cli)["entries"]} == maybe


# -- the progress bar -------------------------------------------------------------------------


@pytest.mark.timeout(60)
def test_a_large_fan_out_shows_a_progress_bar_on_a_terminal_only(write_profile, telegram,
                                                                 cli):  # fmt: skip
    from tests._pty import Terminal

    tg(write_profile, telegram)
    telegram.latency = 0.02
    targets = [a for i in range(30) for a in ("-u", str(700 + i))]
    env = dict(os.environ, TERM="xterm-256color", COLUMNS="120", PYTHONPATH=str(ROOT))
    term = Terminal([sys.executable, "-m", "imcli", "push", "text", "-p", "tg", *targets, "hi"],
                    env, cwd=str(ROOT))  # fmt: skip
    assert term.wait(30) == 0
    shown = term.plain(term.output)
    assert "sent, 0 failed" in shown and "/30" in shown, shown
    assert shown.rstrip().endswith("30"), shown  # the count, after the bar went away
    # in a pipe: no bar, only the count
    r = cli("push", "text", "-p", "tg", *targets, "hi")
    assert r.code == 0 and r.stdout == "30\n" and r.stderr == "", r.output
    # 20 targets or fewer: no bar on a terminal either
    term = Terminal([sys.executable, "-m", "imcli", "push", "text", "-p", "tg", *targets[:40],
                     "hi"], env, cwd=str(ROOT))  # fmt: skip
    assert term.wait(30) == 0
    assert "failed" not in term.plain(term.output)


@pytest.mark.timeout(120)
def test_sigterm_stops_a_flush_cleanly(cli, write_profile, telegram):
    """A flush stopped by SIGTERM: exit 143 and the count so far; what it did not send
    waits as pending (only sends in flight come back uncertain); the next flush finishes."""
    tg(write_profile, telegram)
    telegram.stop()
    targets = [a for i in range(300) for a in ("-u", str(9000 + i))]
    cli("push", "text", "-p", "tg", *targets, "x", "--spool", "--timeout", "2000")
    # on a loaded machine a send to the stopped fake can end without an answer: such an
    # entry waits as uncertain already, and a plain flush leaves it alone
    before = {
        e["target"].split(":")[1] for e in listed(cli)["entries"] if e["state"] == "uncertain"
    }
    telegram.start()
    telegram.latency = 0.05
    proc = _spawn(["outbox", "flush"])
    deadline = time.monotonic() + 30
    while len(telegram.sent_messages()) < 150 and time.monotonic() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 143, err
    assert "interrupted" in err and "Traceback" not in err, err
    time.sleep(0.3)
    got = received(telegram)
    assert int(out) <= len(got) < 300
    left = listed(cli)["entries"]
    pending = {e["target"].split(":")[1] for e in left if e["state"] == "pending"}
    maybe = {e["target"].split(":")[1] for e in left if e["state"] == "uncertain"}
    assert not pending & set(got), "a delivered entry waits as pending: it would be sent twice"
    assert len(maybe - before) <= 64  # only the sends in flight at the signal (64 workers)
    assert {str(9000 + i) for i in range(300)} == set(got) | pending | maybe
    r = cli("outbox", "flush")
    assert r.code == 0 and int(r.stdout) == len(pending), r.output
    got = received(telegram)
    assert set(got.values()) == {1} and len(got) + len(maybe - set(got)) == 300


def test_flush_by_id_and_a_mixed_message_with_options(cli, write_profile, telegram, tmp_path):
    tg(write_profile, telegram)
    img = tmp_path / "a.png"
    img.write_bytes(b"\x89PNG\r\n\x1a\n" + b"y" * 500)
    telegram.stop()
    r = cli("push", "mixed", "-p", "tg", "-u", "1", "-u", "2", "--item", "text=*hello*",
            "--item", f"image={img}", "-t", "Report", "-o", "disable_notification=true",
            "--spool", "--timeout", "2000")  # fmt: skip
    assert r.code == 1, r.output
    r = cli("push", "text", "-p", "tg", "-u", "3", "later", "--markdown", "--spool",
            "--timeout", "2000")  # fmt: skip
    assert r.code == 1, r.output
    telegram.start()
    entries = listed(cli)["entries"]
    assert [e["kind"] for e in entries] == ["mixed", "mixed", "text"]
    push_id = entries[0]["id"].rsplit("-", 1)[0]
    r = cli("outbox", "flush", entries[2]["id"])  # just that one
    assert r.code == 0 and r.stdout == "1\n", r.output
    assert received(telegram) == Counter({"3": 1})
    assert telegram.sent_messages()[0].fields.get("parse_mode") == "HTML"
    r = cli("outbox", "flush", push_id)  # a push id: all of its entries
    assert r.code == 0 and r.stdout == "2\n", r.output
    got = received(telegram)
    assert got["1"] >= 1 and got["2"] >= 1
    for chat in ("1", "2"):
        sent = [m for m in telegram.sent_messages() if str(m.chat_id) == chat]
        assert all(str(m.fields.get("disable_notification")).lower() == "true" for m in sent)
        assert any(m.method in ("sendPhoto", "sendMediaGroup") for m in sent), sent
    assert listed(cli)["entries"] == []
    r = cli("outbox", "flush", "nosuch-000001")
    assert r.code == 2 and "no entry nosuch-000001" in r.stderr and r.stdout == "0\n"


def test_a_bad_outbox_setting_is_a_configuration_error(cli, write_profile, telegram):
    tg(write_profile, telegram, settings='outbox_max_age = "soon"')
    r = cli("outbox", "flush")
    assert r.code == 3 and r.stdout == "0\n", r.output
    assert "outbox_max_age" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    for bad in ('flush_on_push = "yes"', "spool = 1"):
        tg(write_profile, telegram, settings=bad)
        r = cli("push", "text", "-p", "tg", "-u", "1", "hi")
        assert r.code == 3 and r.stdout == "0\n", r.output
        assert bad.split()[0] in r.stderr, r.stderr
        assert cli("outbox", "list").code == 0  # list needs no profile
    assert telegram.sent_messages() == []


# -- --to: named recipients ------------------------------------------------------------------

SLACK_TOKEN = "xoxb-outbox-test-token"


def two_platforms(
    write_profile: Any, tgf: Any, slack: Any, recipients: str, settings: str = ""
) -> None:
    head = f"[settings]\n{settings}\n" if settings else ""
    write_profile(
        f'{head}[accounts.bot]\nplatform = "telegram"\ntoken = "{TG_TOKEN}"\n'
        f'base_url = "{tgf.api_url}"\nrate = 0\n\n'
        f'[accounts.team]\nplatform = "slack"\ntoken = "{SLACK_TOKEN}"\nbase_url = "{slack.url}"\n'
        f"\n{recipients}"
    )


def slack_got(slack: Any) -> Counter[str]:
    return Counter(m.channel for m in slack.posted_messages())


def test_a_push_to_recipients_keeps_each_target_that_failed_and_flush_sends_it_there(
    cli, write_profile
):
    """--spool with --to: a target that failed for a reason that may pass is kept as itself
    (platform, account, target), whichever recipient named it; one sent or failed for good
    is not. The flush sends it there and nowhere else."""
    from tests.fakes.slack import FakeSlack
    from tests.fakes.telegram import FakeTelegram

    with FakeTelegram(unknown_chats=[404]) as tgf, FakeSlack(tokens=[SLACK_TOKEN]) as slack:
        two_platforms(
            write_profile, tgf, slack,
            '[recipients.ops]\ntargets = ["telegram:user:11", "slack:group:C0ALERTS", '
            '"telegram:user:404"]\n',
        )  # fmt: skip
        slack.stop()  # Slack is down; Telegram is up
        r = cli("push", "text", "--spool", "--to", "ops", "-p", "slack", "-u", "C0DIRECT",
                "disk full", "--timeout", "3000")  # fmt: skip
        assert (r.code, r.stdout) == (1, "1\n"), r.output
        assert "2 target(s) kept" in r.stderr, r.stderr
        entries = listed(cli)["entries"]
        assert sorted((e["platform"], e["target"], e["account"], e["state"]) for e in entries) == [
            ("slack", "group:C0ALERTS", "team", "pending"),
            ("slack", "user:C0DIRECT", "team", "pending"),
        ], entries
        assert received(tgf) == Counter({"11": 1})

        r = cli("outbox", "flush", "--timeout", "3000")  # still down: both wait
        assert (r.code, r.stdout) == (1, "0\n"), r.output
        slack.start()
        r = cli("outbox", "flush")
        assert (r.code, r.stdout) == (0, "2\n"), r.output
        assert slack_got(slack) == Counter({"C0ALERTS": 1, "C0DIRECT": 1})
        assert [m.text for m in slack.posted_messages()] == ["disk full", "disk full"]
        assert received(tgf) == Counter({"11": 1})  # nothing sent twice
        assert listed(cli)["entries"] == []


def test_a_recipient_reached_through_its_fallback_is_not_kept(cli, write_profile):
    """A fallback stands in for a recipient now: when it reached the person, the
    recipient's own failed targets are not kept (a flush would reach them twice). When
    the fallback failed too, the recipient's own targets are kept, not the fallback's:
    the flush delivers where the message was meant to go, once."""
    from tests.fakes.slack import FakeSlack
    from tests.fakes.telegram import FakeTelegram

    with FakeTelegram() as tgf, FakeSlack(tokens=[SLACK_TOKEN]) as slack:
        two_platforms(
            write_profile, tgf, slack,
            '[recipients.primary]\ntargets = ["slack:group:C0ALERTS"]\nfallback = ["backup"]\n'
            '[recipients.backup]\ntargets = ["telegram:user:21"]\n',
            settings="spool = true",
        )  # fmt: skip
        slack.stop()
        r = cli("push", "text", "--to", "primary", "db down", "--timeout", "3000")
        assert (r.code, r.stdout) == (1, "1\n"), r.output
        assert "falling back to 'backup'" in r.stderr
        assert "kept" not in r.stderr and listed(cli)["entries"] == []
        assert received(tgf) == Counter({"21": 1})

        tgf.stop()  # both down now
        r = cli("push", "text", "--to", "primary", "db down again", "--timeout", "3000")
        assert (r.code, r.stdout) == (1, "0\n"), r.output
        entries = listed(cli)["entries"]
        assert [(e["platform"], e["target"]) for e in entries] == [("slack", "group:C0ALERTS")]
        tgf.start()
        slack.start()
        r = cli("outbox", "flush")
        assert (r.code, r.stdout) == (0, "1\n"), r.output
        assert [(m.channel, m.text) for m in slack.posted_messages()] == [
            ("C0ALERTS", "db down again")
        ]
        assert received(tgf) == Counter({"21": 1})  # the fallback is not run again


@pytest.mark.timeout(120)
def test_an_interrupted_push_to_a_recipient_keeps_what_it_had_not_sent(
    cli, write_profile, telegram
):
    """SIGTERM in the middle of a --to push with --spool: the outbox holds exactly the
    recipient's targets not surely sent, and a flush finishes it: one message each,
    except those reported uncertain."""
    telegram.latency = 0.05
    everyone = {str(6000 + i) for i in range(300)}
    targets = ", ".join(f'"telegram:user:{t}"' for t in sorted(everyone))
    tg(write_profile, telegram, extra=f"\n[recipients.all]\ntargets = [{targets}]\n")
    proc = _spawn(["push", "text", "--to", "all", "news", "--spool", "--json",
                   "--timeout", "60000"])  # fmt: skip
    deadline = time.monotonic() + 30
    while len(telegram.sent_messages()) < 150 and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, (proc.returncode, err)
    assert "target(s) kept" in err, err
    result = json.loads(out)
    uncertain = {t["target"].split(":")[1] for t in result["targets"] if t["uncertain"]}
    sent = {t["target"].split(":")[1] for t in result["targets"] if t["ok"]}
    assert 50 <= len(sent) < 300, len(sent)
    box = listed(cli)["entries"]
    assert {e["target"].split(":")[1] for e in box} == everyone - sent
    assert {e["target"].split(":")[1] for e in box if e["state"] == "uncertain"} == uncertain
    time.sleep(0.3)
    r = cli("outbox", "flush")
    assert r.code == 0, r.output
    assert int(r.stdout) == 300 - len(sent) - len(uncertain)
    got = received(telegram)
    assert {t for t in everyone if got[t] != 1} <= uncertain
    assert all(got[t] <= 1 for t in uncertain)


@pytest.mark.real_clock  # the push is stopped on real time, while a fallback sends
@pytest.mark.timeout(120)
def test_an_interrupted_push_keeps_nothing_of_a_recipient_its_fallback_reached(cli, write_profile):
    """SIGTERM while a second recipient's fallback sends, after the first recipient's
    fallback reached its person: the first recipient's own failed target is not kept
    (a flush would reach that person twice), as a push that ends keeps it; the second
    one's is kept (its fallback had not reached anyone yet)."""
    from tests.fakes.slack import FakeSlack
    from tests.fakes.telegram import FakeTelegram

    with FakeTelegram() as tgf, FakeSlack(tokens=[SLACK_TOKEN]) as slack:
        two_platforms(
            write_profile, tgf, slack,
            '[recipients.a]\ntargets = ["slack:group:C0AAA"]\nfallback = ["fa"]\n'
            '[recipients.fa]\ntargets = ["telegram:user:21"]\n'
            '[recipients.b]\ntargets = ["slack:group:C0BBB"]\nfallback = ["fb"]\n'
            '[recipients.fb]\ntargets = ["telegram:user:22"]\n',
        )  # fmt: skip
        slack.stop()
        tgf.latency = 2.0  # user 22's send is in flight when the push is stopped
        proc = _spawn(["push", "text", "--to", "a", "--to", "b", "hello", "--spool", "--json",
                       "--timeout", "30000"])  # fmt: skip
        deadline = time.monotonic() + 30
        while "22" not in received(tgf) and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.3)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
        assert proc.returncode == 143, (proc.returncode, err)
        ok = {t["target"] for t in json.loads(out)["targets"] if t["ok"]}
        assert ok == {"user:21"}, out
        entries = listed(cli)["entries"]
        assert [(e["platform"], e["target"]) for e in entries] == [("slack", "group:C0BBB")]


def test_the_python_api_spools_as_the_cli_does(cli, write_profile, telegram):
    """spool=True keeps what failed for a reason that may pass, the exception says so and
    lists the entries; spool=None follows `spool = true` in [settings]; spool=False keeps
    nothing whatever the profile says."""
    import imcli

    path = tg(write_profile, telegram, settings="spool = true")
    opts = {"profile": str(path)}
    telegram.stop()
    with pytest.raises(imcli.PlatformError) as info:
        imcli.push("tg", "", "31", "t", "api down", options=opts, timeout=2000, spool=False)
    assert info.value.kept == () and listed(cli)["entries"] == []
    with pytest.raises(imcli.PlatformError) as info:
        imcli.push("tg", "-32", "", None, "api spooled", options=opts, timeout=2000, spool=True)
    assert len(info.value.kept) == 1 and "kept for `imcli outbox flush`" in str(info.value)
    with pytest.raises(imcli.PlatformError) as info:  # the profile's spool = true
        imcli.push("tg", "", "33", None, "by the setting", options=opts, timeout=2000)
    assert len(info.value.kept) == 1
    entries = listed(cli)["entries"]
    assert set(info.value.kept) <= {e["id"] for e in entries}
    assert sorted(e["target"] for e in entries) == ["group:-32", "user:33"], entries
    telegram.start()
    r = cli("outbox", "flush")
    assert (r.code, r.stdout) == (0, "2\n"), r.output
    assert received(telegram) == Counter({"-32": 1, "33": 1})
    assert imcli.push("tg", "", "34", None, "up again", options=opts, spool=True) == 1
    assert listed(cli)["entries"] == []


def test_the_python_api_refuses_a_bad_spool_setting_before_sending(cli, write_profile, telegram):
    """The API decides about the outbox as the CLI does, before anything is sent: a
    `spool` setting that is not true or false is the CLI's ConfigError (exit 3 there),
    raised before any request, whatever spool= says; the push is not made."""
    import imcli

    path = tg(write_profile, telegram, settings='spool = "yes"')
    r = cli("push", "text", "-p", "tg", "-u", "41", "cli")
    assert r.code == 3, r.output
    cli_line = r.stderr.strip().splitlines()[-1]
    for spool in (None, True, False):
        with pytest.raises(imcli.ConfigError) as info:
            imcli.push("tg", "", "41", None, "api", options={"profile": str(path)}, spool=spool)
        assert "settings.spool must be true or false" in str(info.value)
        assert str(info.value) in cli_line, (str(info.value), cli_line)
    assert telegram.sent_messages() == [] and listed(cli)["entries"] == []


def test_a_webhook_robot_push_is_kept_and_flushed(cli, write_profile):
    """A webhook robot (the account is the destination): kept in an outage, sent once."""
    from tests.fakes.webhooks import FakeSlackWebhook

    path = "/services/T000/B000/outbox-hook-secret-01"
    with FakeSlackWebhook(path) as fake:
        write_profile(
            f'[accounts.hook]\nplatform = "slack-webhook"\n'
            f'url = "https://hooks.slack.com{path}"\nbase_url = "{fake.url}"\n'
        )
        fake.stop()
        r = cli("push", "text", "-p", "slack-webhook", "deploy done", "--spool",
                "--timeout", "2000")  # fmt: skip
        assert r.code == 1 and "1 target(s) kept" in r.stderr, r.output
        box = listed(cli)
        assert [e["account"] for e in box["entries"]] == ["hook"], box
        fake.start()
        r = cli("outbox", "flush")
        assert r.code == 0 and r.stdout == "1\n", r.output
        assert fake.messages == [{"text": "deploy done"}]
        assert listed(cli)["entries"] == []


def test_media_from_stdin_is_never_kept(cli, write_profile, telegram, isolated_env):
    """Media read from standard input never outlives the process on disk: --spool with
    it is exit 2 before anything is sent; `spool = true` keeps nothing of such a push."""
    tg(write_profile, telegram, settings="spool = true")
    telegram.stop()
    r = cli("push", "file", "-p", "tg", "-u", "1", "--spool", "-", "--filename", "a.txt",
            input="hello\n")  # fmt: skip
    assert (r.code, r.stdout) == (2, "0\n"), r.output
    assert "--spool cannot keep media read from standard input" in r.stderr
    r = cli("push", "file", "-p", "tg", "-u", "1", "-", "--filename", "a.txt", "--timeout", "2000",
            input="hello\n")  # fmt: skip
    assert r.code == 1, r.output
    assert "not kept (media read from standard input)" in r.stderr
    assert listed(cli)["entries"] == []
    media = outbox_dir(isolated_env) / "media"
    assert not media.exists() or not any(p.is_file() for p in media.rglob("*")), "left on disk"


def test_an_entry_is_flushed_only_with_the_profile_it_was_kept_from(
    cli, write_profile, telegram, tmp_path
):
    """Account names mean something in one profile only: an entry kept from profile A is
    not sent by a flush with profile B (whose `bot` may be another bot, or for a webhook
    robot another group); the flush says which profile to use."""
    tg(write_profile, telegram)
    telegram.stop()
    other = tmp_path / "other.toml"
    other.write_text(
        f'[accounts.bot]\nplatform = "telegram"\ntoken = "{TG_TOKEN}"\n'
        f'base_url = "http://127.0.0.1:9"\nrate = 0\n',
        encoding="utf-8",
    )
    other.chmod(0o600)
    r = cli("push", "text", "-p", "tg", "-u", "5", "--spool", "--timeout", "2000", "hi")
    assert r.code == 1, r.output
    r = cli("outbox", "flush", "--profile", str(other))
    assert (r.code, r.stdout) == (0, "0\n"), r.output
    assert "1 entry kept from the profile" in r.stderr and "flush with --profile" in r.stderr
    assert [e["state"] for e in listed(cli)["entries"]] == ["pending"]
    telegram.start()
    r = cli("outbox", "flush")  # the profile it was kept from
    assert (r.code, r.stdout) == (0, "1\n"), r.output
    assert received(telegram) == {"5": 1}


def test_list_and_drop_accept_profile_as_every_subcommand_does(cli, write_profile, telegram):
    path = tg(write_profile, telegram)
    r = cli("outbox", "list", "--profile", str(path), "--json")
    assert r.code == 0 and json.loads(r.stdout)["entries"] == [], r.output
    r = cli("outbox", "drop", "--all", "--profile", str(path))
    assert (r.code, r.stdout) == (0, "0\n"), r.output
