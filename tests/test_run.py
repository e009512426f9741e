"""`imcli run -- CMD`: real commands run by a real imcli process against the fake servers.

Each test checks what arrived at the fake, what was passed through to imcli's own stdout
and stderr, the exit status, and that no temporary file is left (every run gets its own
TMPDIR, which must be empty afterwards).
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT, TG_TOKEN
from tests.fakes.slack import FakeSlack
from tests.fakes.telegram import FakeTelegram
from tests.fakes.wecom import FakeWeCom

PY = sys.executable


class Ran:
    def __init__(self, code: int, out: bytes, err: bytes, seconds: float) -> None:
        self.code, self.out, self.err, self.seconds = code, out, err, seconds

    @property
    def stderr(self) -> str:
        return self.err.decode("utf-8", "replace")


@pytest.fixture
def tmpdir_env(tmp_path: Path) -> Iterator[dict[str, str]]:
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    env = dict(os.environ, TMPDIR=str(tmp), PYTHONUNBUFFERED="1")
    yield env
    assert list(tmp.iterdir()) == [], "imcli run left a temporary file"


@pytest.fixture
def imcli_run(tmpdir_env: dict[str, str]) -> Any:
    def run(*args: str, timeout: float = 60) -> Ran:
        start = time.monotonic()
        proc = subprocess.Popen(
            [PY, "-m", "imcli", "run", *args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=tmpdir_env,
            cwd=str(ROOT),
        )
        out, err = proc.communicate(timeout=timeout)
        return Ran(proc.returncode, out, err, time.monotonic() - start)

    return run


@pytest.fixture
def spawn(tmpdir_env: dict[str, str]) -> Any:
    """An imcli run started in the background (for signals): Popen with pipes."""

    def start(*args: str) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [PY, "-m", "imcli", "run", *args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=tmpdir_env,
            cwd=str(ROOT),
        )

    return start


TG = ("-p", "telegram", "-u", "4242")


def texts(telegram: FakeTelegram) -> list[str]:
    return [m.fields["text"] for m in telegram.sent_messages() if m.method == "sendMessage"]


# -- a failing job ---------------------------------------------------------------------------


def test_a_failing_job_is_pushed_with_its_tail_and_imcli_exits_with_its_status(
    imcli_run, tg_profile, telegram
):
    r = imcli_run(*TG, "--", "sh", "-c", "echo a; sleep 0.2; echo 'x < y' >&2; exit 3")
    assert r.code == 3
    assert r.out == b"a\n"  # passed through, and nothing of imcli's own on stdout
    assert r.err == b"x < y\n"  # a delivered push prints nothing
    [text] = texts(telegram)
    head, _, body = text.partition("\n")
    assert head.startswith("<b>✗ sh failed (exit 3) after ") and head.endswith("</b>")
    assert " on " in head
    assert "<pre>a\nx &lt; y</pre>" in body  # the tail as a code block, escaped
    [m] = telegram.sent_messages()
    assert m.fields["parse_mode"] == "HTML" and m.chat_id == 4242


def test_success_is_pushed_only_when_asked(imcli_run, tg_profile, telegram):
    r = imcli_run(*TG, "--", "sh", "-c", "echo fine")
    assert (r.code, r.out, r.err) == (0, b"fine\n", b"")
    assert texts(telegram) == []
    r = imcli_run(*TG, "--on", "always", "-t", "nightly backup", "--", "sh", "-c", "echo fine")
    assert (r.code, r.out, r.err) == (0, b"fine\n", b"")
    [text] = texts(telegram)
    assert text.startswith("<b>✓ nightly backup succeeded after ")
    assert "<pre>fine</pre>" in text
    telegram.reset()
    r = imcli_run(*TG, "--on", "success", "--", "sh", "-c", "exit 4")
    assert r.code == 4 and texts(telegram) == []


def test_the_tail_is_the_last_n_lines(imcli_run, tg_profile, telegram):
    r = imcli_run(*TG, "--tail", "3", "--", "sh", "-c", "seq 1 100; exit 1")
    assert r.code == 1 and r.out == "".join(f"{i}\n" for i in range(1, 101)).encode()
    [text] = texts(telegram)
    assert "Last 3 of 100 lines:" in text and "<pre>98\n99\n100</pre>" in text


def test_markdown_output_is_rendered_instead_of_quoted(imcli_run, tg_profile, telegram):
    r = imcli_run(*TG, "--markdown", "--", "sh", "-c", "echo '**3 tests failed**'; exit 1")
    assert r.code == 1
    [text] = texts(telegram)
    assert "<b>3 tests failed</b>" in text and "<pre>" not in text


# -- output ----------------------------------------------------------------------------------

FIFTY_MB = r"""
import sys
line = b"%07d " + b"x" * 91 + b"\n"
out = sys.stdout.buffer
for i in range(500_000):
    out.write(line % i)
out.flush()
sys.exit(2)
"""


def test_50_mb_pass_through_whole_and_the_attached_log_keeps_the_last_10_mib(
    imcli_run, tg_profile, telegram
):
    r = imcli_run(*TG, "--attach-log", "--", PY, "-c", FIFTY_MB, timeout=120)
    assert r.code == 2
    assert len(r.out) == 500_000 * 100  # every byte, in order
    assert (
        hashlib.sha256(r.out).digest()
        == hashlib.sha256(
            b"".join(b"%07d " % i + b"x" * 91 + b"\n" for i in range(500_000))
        ).digest()
    )
    msgs = telegram.sent_messages()
    assert [m.method for m in msgs] == ["sendMessage", "sendDocument"]
    text = msgs[0].fields["text"]
    assert "Last 30 of 500000 lines:" in text  # cut to fit one message (3000 chars)
    assert "0499999 " in text
    assert "the first 37.7 MiB were dropped" in text
    doc = msgs[1].fields["document"]
    assert doc.filename == "python.log" and doc.content_type == "text/plain"
    assert doc.size <= (10 << 20) + 200
    assert doc.size > (10 << 20) - 200
    # the log: a line saying what was dropped, then the output from the first whole line
    # after the cut to its end
    total, limit = 500_000 * 100, 10 << 20
    header = (f"[imcli: the output was {total} bytes; its first {total - limit} bytes were "
              f"dropped to keep the log under {limit} bytes]\n").encode()  # fmt: skip
    first = -(-(total - limit) // 100)  # the first line that starts after the cut
    kept = b"".join(b"%07d " % i + b"x" * 91 + b"\n" for i in range(first, 500_000))
    assert doc.sha256 == hashlib.sha256(header + kept).hexdigest()


def test_stdout_and_stderr_go_to_their_own_streams_in_order(imcli_run, tg_profile, telegram):
    script = (
        "import sys, time\n"
        "for i in range(5):\n"
        "    sys.stdout.write(f'out{i}\\n'); sys.stdout.flush(); time.sleep(0.1)\n"
        "    sys.stderr.write(f'err{i}\\n'); sys.stderr.flush(); time.sleep(0.1)\n"
        "sys.exit(1)\n"
    )
    r = imcli_run(*TG, "--", PY, "-c", script)
    assert r.code == 1
    assert r.out == b"".join(b"out%d\n" % i for i in range(5))
    assert r.err == b"".join(b"err%d\n" % i for i in range(5))
    [text] = texts(telegram)
    order = "\n".join(f"out{i}\nerr{i}" for i in range(5))
    assert f"<pre>{order}</pre>" in text


def test_terminal_escapes_and_progress_bars_are_cleaned_in_the_message(
    imcli_run, tg_profile, telegram
):
    r = imcli_run(
        *TG, "--", "sh", "-c", r"printf '\033[31mred\033[0m\n10%%\r50%%\r100%%\n'; exit 1"
    )
    assert r.code == 1
    assert r.out == b"\x1b[31mred\x1b[0m\n10%\r50%\r100%\n"  # unchanged on the way through
    [text] = texts(telegram)
    assert "<pre>red\n100%</pre>" in text


# -- how it ends -----------------------------------------------------------------------------


def test_a_job_killed_by_a_signal_exits_128_plus_n(imcli_run, tg_profile, telegram):
    r = imcli_run(*TG, "--", "sh", "-c", "echo dying; kill -KILL $$")
    assert r.code == 128 + 9
    [text] = texts(telegram)
    assert text.startswith("<b>✗ sh killed by SIGKILL after ")


def _started(proc: subprocess.Popen[bytes]) -> bytes:
    assert proc.stdout is not None
    line = proc.stdout.readline()  # the job is running once it printed this
    assert line == b"started\n"
    return line


def test_sigterm_is_passed_on_waited_for_and_reported(spawn, tg_profile, telegram):
    proc = spawn(*TG, "--", "sh", "-c", "echo started; exec sleep 30")
    first = _started(proc)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=20)
    assert proc.returncode == 128 + signal.SIGTERM
    assert first + out == b"started\n" and err == b""
    [text] = texts(telegram)
    assert text.startswith("<b>✗ sh killed by SIGTERM after ")
    assert "imcli received SIGTERM and passed it on." in text


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGHUP])
def test_sigint_and_sighup_are_passed_on_too(spawn, tg_profile, telegram, sig):
    proc = spawn(*TG, "--", PY, "-c",
                 "import signal, sys, time\n"
                 f"signal.signal({int(sig)}, signal.SIG_DFL)\n"
                 "print('started', flush=True)\ntime.sleep(30)")  # fmt: skip
    _started(proc)
    proc.send_signal(sig)
    proc.communicate(timeout=20)
    assert proc.returncode == 128 + sig
    [text] = texts(telegram)
    assert f"killed by {signal.Signals(sig).name}" in text


def test_a_job_that_traps_term_finishes_its_cleanup_and_keeps_its_status(
    spawn, tg_profile, telegram
):
    script = (
        "trap 'echo cleaning; sleep 0.5; echo done; exit 5' TERM; echo started; "
        "while :; do sleep 0.05; done"
    )
    proc = spawn(*TG, "--", "sh", "-c", script)
    _started(proc)
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=20)
    assert proc.returncode == 5
    assert out == b"cleaning\ndone\n"  # imcli waited for the cleanup
    [text] = texts(telegram)
    assert "failed (exit 5) on SIGTERM" in text
    # (the shell may also say that its `sleep`, which got the signal too, was "Terminated")
    shown = text.split("<pre>")[1].split("</pre>")[0].splitlines()
    assert [line for line in shown if line != "Terminated"] == ["started", "cleaning", "done"]


def test_a_command_that_does_not_exist_is_127_and_pushed(imcli_run, tg_profile, telegram, tmp_path):
    r = imcli_run(*TG, "--", str(tmp_path / "no-such-job"), "--flag")
    assert r.code == 127 and r.out == b""
    assert "no-such-job: command not found" in r.stderr
    [text] = texts(telegram)
    assert text.startswith("<b>✗ no-such-job could not be started: command not found (exit 127)")


def test_a_command_that_is_not_executable_is_126(imcli_run, tg_profile, telegram, tmp_path):
    script = tmp_path / "job.sh"
    script.write_text("#!/bin/sh\necho hi\n")
    script.chmod(0o644)
    r = imcli_run(*TG, "--", str(script))
    assert r.code == 126
    [text] = texts(telegram)
    assert "job.sh could not be started: permission denied" in text


def test_max_runtime_stops_a_job_that_never_ends(imcli_run, tg_profile, telegram):
    r = imcli_run(*TG, "--max-runtime", "300ms", "--", PY, "-c",
                  "import time\nprint('working', flush=True)\ntime.sleep(60)")  # fmt: skip
    assert r.code == 124  # as timeout(1)
    assert r.seconds < 20 and r.out == b"working\n"
    [text] = texts(telegram)
    assert "timed out (over --max-runtime 300ms), killed by SIGTERM" in text
    assert "imcli sent it SIGTERM." in text


def test_max_runtime_kills_a_job_that_ignores_term_after_the_grace(imcli_run, tg_profile, telegram):
    script = (
        "import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "print('stubborn', flush=True)\ntime.sleep(60)"
    )
    r = imcli_run(*TG, "--max-runtime", "300ms", "--grace", "300ms", "--", PY, "-c", script)
    assert r.code == 124 and r.seconds < 20
    [text] = texts(telegram)
    assert "killed by SIGKILL" in text
    assert "imcli sent it SIGTERM, then SIGKILL after 300ms." in text


# -- the push ----------------------------------------------------------------------------------


def test_a_failed_push_is_reported_and_does_not_mask_the_status(imcli_run, write_profile, tmp_path):
    with FakeTelegram(unknown_chats=[4242]) as tg:
        write_profile(f'[accounts.ops-bot]\nplatform = "telegram"\ntoken = "{TG_TOKEN}"\n'
                      f'base_url = "{tg.api_url}"\n')  # fmt: skip
        r = imcli_run(*TG, "--", "sh", "-c", "exit 3")
        assert r.code == 3
        assert "telegram user:4242: Bad Request: chat not found (400)" in r.stderr
        assert "the push of sh's outcome failed; exiting with its status 3" in r.stderr
        r = imcli_run(*TG, "--on", "always", "--", "true")
        assert r.code == 0  # the job succeeded; the push's failure is on stderr
        r = imcli_run(*TG, "--on", "always", "--strict", "--", "true")
        assert r.code == 1 and "(--strict: 1)" in r.stderr
        r = imcli_run(*TG, "--strict", "--", "sh", "-c", "exit 3")
        assert r.code == 3  # --strict never hides the job's own failure
        r = imcli_run(*TG, "-q", "--strict", "--on", "always", "--", "sh", "-c", "echo hi >&2")
        assert (r.code, r.err) == (1, b"hi\n")  # -q: no line per failed target


def test_a_missing_account_does_not_stop_the_job(imcli_run, tmp_path):
    marker = tmp_path / "ran"
    r = imcli_run(*TG, "--", "sh", "-c", f"touch {marker}; exit 7")
    assert r.code == 7 and marker.exists()
    assert "telegram: no account configured" in r.stderr


def test_timeout_bounds_the_push_not_the_job(imcli_run, tg_profile, telegram):
    from tests.fakes.base import Reply

    r = imcli_run(*TG, "--timeout", "1500ms", "--", "sh", "-c", "sleep 2; echo slow; exit 1")
    assert r.code == 1 and r.out == b"slow\n", r.stderr  # 2 s of job, 1.5 s --timeout
    assert len(texts(telegram)) == 1
    telegram.queue("sendMessage", Reply(200, json={"ok": True, "result": {}}, delay=5))
    r = imcli_run(*TG, "--timeout", "300ms", "--", "sh", "-c", "exit 1")
    assert r.code == 1 and r.seconds < 5  # the push gave up after 300 ms, not 5 s
    assert "the push of sh's outcome failed; exiting with its status 1" in r.stderr


def test_json_goes_to_stderr_and_stdout_stays_the_jobs(imcli_run, tg_profile, telegram):
    import json

    r = imcli_run(*TG, "--json", "--", "sh", "-c", "echo out; exit 2")
    assert r.code == 2 and r.out == b"out\n"
    obj = json.loads(r.stderr.strip().splitlines()[-1])
    assert obj["exit"] == 2 and obj["pushed"] is True
    assert obj["command"]["exit"] == 2 and obj["command"]["output_lines"] == 1
    assert obj["push"]["sent"] == 1 and obj["push"]["targets"][0]["target"] == "user:4242"


def test_every_push_flag_works(imcli_run, tg_profile, telegram, tmp_path):
    other = tmp_path / "other.toml"
    other.write_bytes(tg_profile.read_bytes())
    other.chmod(0o600)
    tg_profile.unlink()  # only --profile finds the account now
    r = imcli_run("-a", "ops-bot", "-g", "-1001", "-u", "7", "-o", "disable_notification=true",
                  "-v", "--profile", str(other), "--", "sh", "-c", "exit 1")  # fmt: skip
    assert r.code == 1, r.stderr
    msgs = telegram.sent_messages()
    assert sorted(m.chat_id for m in msgs) == [-1001, 7]
    assert all(m.fields["disable_notification"] is True for m in msgs)
    assert "POST" in r.stderr and TG_TOKEN not in r.stderr  # -v, masked
    telegram.reset()
    # no -p: the profile's only platform, as push finds it
    r = imcli_run("--profile", str(other), "--tail", "1", "-u", "7", "--", "false")
    assert r.code == 1 and len(texts(telegram)) == 1


# -- before anything runs ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args, error",
    [
        (("-p", "wechat", "-u", "o1", "--attach-log"), "wechat"),
        (("-p", "wecom", "-g", "G1"), "wecom: group push is not supported"),
        (("-p", "nope", "-u", "1"), "unknown platform 'nope'"),
        ((*TG, "--on", "sometimes"), "--on 'sometimes': expected one of failure, always, success"),
        ((*TG, "--max-runtime", "5"), "--max-runtime 5: give a unit, e.g. 5s or 5m"),
        ((*TG, "--tail", "-1"), "--tail must be 0 or more lines"),
        ((*TG, "-o", "chat_id=1"), "would replace the target"),
        (("-p", "tg"), "no target"),
    ],
)
def test_a_line_that_can_never_push_is_exit_2_and_runs_nothing(imcli_run, tmp_path, args, error):
    marker = tmp_path / "ran"
    r = imcli_run(*args, "--", "sh", "-c", f"touch {marker}")
    assert r.code == 2, r.stderr
    assert error in r.stderr
    assert not marker.exists()


def test_the_attach_log_refusal_names_the_reason(imcli_run):
    r = imcli_run("-p", "wechat", "-u", "o1", "--attach-log", "--", "true")
    assert r.code == 2
    assert r.stderr.startswith("imcli: --attach-log: wechat") and "file" in r.stderr


def test_no_command_is_a_usage_error(imcli_run):
    r = imcli_run(*TG)
    assert r.code == 2 and "no command" in r.stderr


def test_dry_run_runs_nothing_and_shows_the_push(imcli_run, tg_profile, telegram, tmp_path):
    marker = tmp_path / "ran"
    r = imcli_run(*TG, "--dry-run", "--attach-log", "--", "sh", "-c", f"touch {marker}")
    assert r.code == 0, r.stderr
    assert not marker.exists()
    assert r.out == b"1\n"
    assert "dry-run: POST" in r.stderr and "sendMessage" in r.stderr
    assert "sendDocument" in r.stderr
    assert "✗ sh failed (exit 1) after … on " in r.stderr
    assert telegram.sent_messages() == []


def test_options_after_the_command_belong_to_it(imcli_run, tg_profile, telegram):
    r = imcli_run(*TG, "sh", "-c", "echo $0 -v; exit 1", "-t")
    assert r.code == 1 and r.out == b"-t -v\n"


# -- other platforms: what a failing job's push looks like -----------------------------------------

SLACK_TOKEN = "xoxb-1111-2222-TESTslacktoken"


def test_slack_gets_the_title_and_the_tail_as_a_code_block(imcli_run, write_profile):
    with FakeSlack(tokens=[SLACK_TOKEN]) as slack:
        write_profile(f'[accounts.team]\nplatform = "slack"\ntoken = "{SLACK_TOKEN}"\n'
                      f'base_url = "{slack.url}"\n')  # fmt: skip
        r = imcli_run("-p", "slack", "-g", "C0123", "-t", "backup.sh", "--", "sh", "-c",
                      "echo 'dumping db'; sleep 0.2; echo 'pg_dump: error: connection refused' >&2; exit 2")  # fmt: skip
        assert r.code == 2
        [m] = slack.posted_messages()
        assert m.channel == "C0123"
        assert "✗ backup.sh failed (exit 2) after " in m.text
        assert "```\ndumping db\npg_dump: error: connection refused\n```" in m.text


def test_wecom_gets_the_title_and_the_tail_as_markdown(imcli_run, write_profile):
    with FakeWeCom() as wecom:
        write_profile(
            '[accounts.corp]\nplatform = "wecom"\ncorp_id = "ww0123456789abcdef"\n'
            f'corp_secret = "wecom-test-secret"\nagent_id = 1000002\nbase_url = "{wecom.url}"\n'
        )
        r = imcli_run("-p", "wecom", "-u", "alice", "-t", "backup.sh", "--", "sh", "-c",
                      "echo 'dumping db'; sleep 0.2; echo 'pg_dump: error: connection refused' >&2; exit 2")  # fmt: skip
        assert r.code == 2, r.stderr
        [sent] = wecom.sent()
        assert sent.msgtype == "markdown"
        content = sent.body["markdown"]["content"]
        assert content.startswith("# ✗ backup.sh failed (exit 2) after ")
        assert "```\ndumping db\npg_dump: error: connection refused\n```" in content


def test_wecom_attaches_the_log_as_a_file(imcli_run, write_profile):
    with FakeWeCom() as wecom:
        write_profile(
            '[accounts.corp]\nplatform = "wecom"\ncorp_id = "ww0123456789abcdef"\n'
            f'corp_secret = "wecom-test-secret"\nagent_id = 1000002\nbase_url = "{wecom.url}"\n'
        )
        r = imcli_run("-p", "wecom", "-u", "alice", "--attach-log", "--", "sh", "-c",
                      "seq 1 2000; exit 2")  # fmt: skip
        assert r.code == 2, r.stderr
        assert [s.msgtype for s in wecom.sent()] == ["markdown", "file"]
        [media] = wecom.media.values()
        assert media.size == len("".join(f"{i}\n" for i in range(1, 2001)))


# -- the record, alone ------------------------------------------------------------------------------

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from imcli.cli import job  # noqa: E402


@settings(max_examples=200, deadline=None)
@given(
    chunks=st.lists(st.binary(max_size=40).map(lambda b: b.replace(b"\r", b"")), max_size=30),
    limit=st.integers(min_value=1, max_value=64),
)
def test_the_ring_log_keeps_the_last_bytes_from_a_whole_line(chunks, limit):
    ring = job.RingLog(limit)
    for c in chunks:
        ring.write(c)
    data = b"".join(chunks)
    path = ring.finish(b"HEADER\n")
    assert not os.path.exists(ring.path)
    if not data:
        assert path is None
        return
    assert path is not None
    try:
        got = Path(path).read_bytes()
    finally:
        job.forget(path)
    assert ring.dropped == max(0, len(data) - limit)
    if len(data) <= limit:
        assert got == data
        return
    kept = data[-limit:]
    nl = kept.find(b"\n")
    if 0 <= nl < len(kept) - 1:  # from the first whole line after the cut
        kept = kept[nl + 1 :]
    assert got == b"HEADER\n" + kept


@settings(max_examples=200, deadline=None)
@given(
    text=st.lists(st.sampled_from(["a", "b", "\n", "\r", "\r\n", "é"]), max_size=60),
    n=st.integers(min_value=0, max_value=5),
    cut=st.integers(min_value=0, max_value=60),
)
def test_the_tail_is_the_last_lines_as_a_terminal_shows_them(text, n, cut):
    data = "".join(text).encode()
    tail = job.Tail(n)
    tail.feed(data[:cut])
    tail.feed(data[cut:])
    tail.close()
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    shown = [line.removesuffix(b"\r").rsplit(b"\r", 1)[-1] for line in lines]
    assert tail.count == len(shown)
    assert list(tail.lines) == (shown[-n:] if n else [])


def test_a_very_long_line_is_kept_short_in_the_tail():
    tail = job.Tail(2)
    tail.feed(b"x" * (job.LINE_KEEP * 3) + b"\nend")
    tail.close()
    assert list(tail.lines) == [b"x" * job.LINE_KEEP + "…".encode(), b"end"]


@pytest.mark.parametrize("redirect", ["| true", ">/dev/full", ">&-"])
def test_a_broken_stdout_does_not_stop_the_job_or_the_push(
    tg_profile, telegram, tmpdir_env, redirect
):
    proc = subprocess.run(
        ["bash", "-c", f'"{PY}" -m imcli run -p tg -u 1 -- sh -c "seq 1 50000; exit 3" {redirect}; '
                       'exit "${PIPESTATUS[0]}"'],
        capture_output=True, env=tmpdir_env, cwd=str(ROOT), timeout=60,
    )  # fmt: skip
    assert proc.returncode == 3, proc.stderr
    [text] = texts(telegram)
    assert "Last 40 of 50000 lines:" in text and "50000</pre>" in text


def test_a_hangup_during_the_push_still_deletes_the_log(spawn, tg_profile, telegram):
    from tests.fakes.base import Reply

    telegram.queue("sendMessage", Reply(200, json={"ok": True, "result": {}}, delay=5))
    proc = spawn(*TG, "--attach-log", "--", "sh", "-c", "seq 1 1000; exit 1")
    deadline = time.monotonic() + 20
    while not any(q.path.endswith("/sendMessage") for q in telegram.requests):
        assert time.monotonic() < deadline and proc.poll() is None
        time.sleep(0.02)
    proc.send_signal(signal.SIGHUP)
    proc.communicate(timeout=20)
    assert proc.returncode == 128 + signal.SIGHUP
    # (the tmpdir_env fixture checks that the log file is gone)


def test_a_job_started_under_nohup_keeps_ignoring_sighup(spawn, tg_profile, telegram, tmpdir_env):
    script = "echo started; sleep 0.5; echo alive; exit 1"
    proc = subprocess.Popen(
        ["nohup", PY, "-m", "imcli", "run", *TG, "--", "sh", "-c", script],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        env=tmpdir_env, cwd=str(ROOT),
    )  # fmt: skip
    _started(proc)
    proc.send_signal(signal.SIGHUP)
    out, _ = proc.communicate(timeout=20)
    assert proc.returncode == 1 and out == b"alive\n"
    [text] = texts(telegram)
    assert "failed (exit 1)" in text and "SIGHUP" not in text


def _lark() -> Any:
    from tests.fakes.lark import FakeLark

    fake = FakeLark("cli_test_app", "lark-SECRET-0123456789")
    profile = ('[accounts.a]\nplatform = "lark"\napp_id = "cli_test_app"\n'
               'app_secret = "lark-SECRET-0123456789"\nbase_url = "{url}"\n')  # fmt: skip
    return fake, profile, ("-g", "oc_team")


def _qq() -> Any:
    from tests.fakes.onebot import FakeOneBot

    fake = FakeOneBot(access_token="onebot-TEST-access-token", flavor="napcat")
    profile = ('[accounts.a]\nplatform = "qq"\nbase_url = "{url}"\n'
               'access_token = "onebot-TEST-access-token"\n')  # fmt: skip
    return fake, profile, ("-g", "30001")


def _wechat() -> Any:
    from tests.fakes.wechat import FakeWeChat

    fake = FakeWeChat()
    profile = ('[accounts.a]\nplatform = "wechat"\napp_id = "wx0123456789abcdef"\n'
               'app_secret = "wechat-test-secret"\nbase_url = "{url}"\n')  # fmt: skip
    return fake, profile, ("-u", "o-alice-openid")


def _slack() -> Any:
    fake = FakeSlack(tokens=[SLACK_TOKEN])
    profile = f'[accounts.a]\nplatform = "slack"\ntoken = "{SLACK_TOKEN}"\nbase_url = "{{url}}"\n'
    return fake, profile, ("-g", "C0123")


def _wecom() -> Any:
    fake = FakeWeCom()
    profile = ('[accounts.a]\nplatform = "wecom"\ncorp_id = "ww0123456789abcdef"\n'
               'corp_secret = "wecom-test-secret"\nagent_id = 1000002\nbase_url = "{url}"\n')  # fmt: skip
    return fake, profile, ("-u", "alice")


def _telegram() -> Any:
    fake = FakeTelegram()
    profile = f'[accounts.a]\nplatform = "telegram"\ntoken = "{TG_TOKEN}"\nbase_url = "{{url}}"\n'
    return fake, profile, ("-u", "42")


@pytest.mark.parametrize(
    "make, attach",
    [(_telegram, True), (_slack, True), (_lark, True), (_wecom, True), (_qq, True),
     (_wechat, False)],
    ids=["telegram", "slack", "lark", "wecom", "qq", "wechat"],
)  # fmt: skip
def test_every_platform_gets_the_outcome(imcli_run, write_profile, make, attach):
    import json

    fake, profile, target = make()
    with fake:
        write_profile(profile.format(url=fake.url))
        job = "seq 1 200; echo 'pg_dump: connection refused' >&2; exit 2"
        flags = ("--attach-log",) if attach else ()
        r = imcli_run("-p", profile.split('"')[1], *target, "-t", "backup.sh", *flags,
                      "--", "sh", "-c", job)  # fmt: skip
        assert r.code == 2
        assert r.err == b"pg_dump: connection refused\n", r.stderr  # nothing from imcli
        seen = json.dumps([[q.json, q.form] for q in fake.requests], ensure_ascii=False)
        assert "backup.sh failed (exit 2)" in seen and "pg_dump: connection refused" in seen
        # the log went as a file: a multipart upload, or OneBot's upload_group_file
        files = [q for q in fake.requests if q.files or "upload_group_file" in q.path]
        if attach:
            assert files, [q.path for q in fake.requests]


def test_ctrl_c_at_a_terminal_reaches_the_job_once(tg_profile, telegram, tmpdir_env):
    """The terminal sends SIGINT to the whole foreground group, the job included: imcli
    does not send it a second one (which would cut a graceful shutdown short)."""
    from tests._pty import Terminal

    script = (
        "import signal, sys, time\n"
        "got = []\n"
        "signal.signal(signal.SIGINT, lambda s, f: got.append(s))\n"
        "print('ready', flush=True)\n"
        "while not got: time.sleep(0.01)\n"
        "time.sleep(0.5)\n"
        "print(f'SIGINT x{len(got)}', flush=True)\n"
        "sys.exit(3)\n"
    )
    term = Terminal([PY, "-m", "imcli", "run", *TG, "--", PY, "-c", script], tmpdir_env,
                    cwd=str(ROOT))  # fmt: skip
    try:
        term.expect("ready")
        term.send("\x03")
        term.expect("SIGINT x1")
        assert term.wait() == 3
    finally:
        term.close()
    [text] = texts(telegram)
    assert "failed (exit 3) on SIGINT" in text
    assert "imcli received SIGINT, which the terminal sent to the command too." in text


def test_the_job_reads_imclis_stdin(tg_profile, telegram, tmpdir_env):
    proc = subprocess.run(
        [PY, "-m", "imcli", "run", *TG, "--", "sh", "-c", "cat; exit 1"],
        input=b"piped line\n", capture_output=True, env=tmpdir_env, cwd=str(ROOT), timeout=60,
    )  # fmt: skip
    assert (proc.returncode, proc.stdout) == (1, b"piped line\n")
    [text] = texts(telegram)
    assert "<pre>piped line</pre>" in text


def test_max_runtime_stops_what_the_job_started_too(imcli_run, tg_profile, telegram, tmp_path):
    pidfile = tmp_path / "child.pid"
    r = imcli_run(*TG, "--max-runtime", "500ms", "--", "sh", "-c",
                  f"sleep 60 & echo $! > {pidfile}; wait")  # fmt: skip
    assert r.code == 124
    child = int(pidfile.read_text())
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            os.kill(child, 0)
        except ProcessLookupError:
            break
        time.sleep(0.05)
    else:
        os.kill(child, signal.SIGKILL)
        raise AssertionError("the job's child outlived --max-runtime")
    [text] = texts(telegram)
    assert "still held its output" not in text


def test_even_a_sigkill_of_imcli_leaves_no_log_file(spawn, tg_profile, telegram, tmp_path):
    pidfile = tmp_path / "job.pid"
    proc = spawn(*TG, "--attach-log", "--", "sh", "-c",
                 f"echo $$ > {pidfile}; echo started; exec sleep 30")  # fmt: skip
    _started(proc)
    proc.kill()
    proc.communicate(timeout=20)
    os.kill(int(pidfile.read_text()), signal.SIGKILL)  # the job, orphaned
    # (the tmpdir_env fixture checks that no temporary file is left)


@pytest.mark.parametrize("reader", ["_SelectReader", "_ThreadReader"])
def test_both_readers_pass_every_chunk_on_and_see_the_end(reader):
    cls = getattr(job, reader)
    (r1, w1), (r2, w2) = os.pipe(), os.pipe()
    got: list[tuple[bytes, str]] = []
    with open(r1, "rb", buffering=0) as p1, open(r2, "rb", buffering=0) as p2:
        rd = cls([(p1, "out"), (p2, "err")], lambda data, sink: got.append((data, sink)))
        os.write(w1, b"one")
        deadline = time.monotonic() + 5
        while not got and time.monotonic() < deadline:
            rd.wait(0.05)
        os.write(w2, b"two")
        os.close(w1)
        os.close(w2)
        while not rd.done and time.monotonic() < deadline:
            rd.wait(0.05)
        with rd.lock:
            rd.stop()
    assert rd.done and got == [(b"one", "out"), (b"two", "err")]


# -- webhook robots: the account is the destination -------------------------------------------


@pytest.mark.parametrize(
    "platform, attach",
    [("wecom-robot", True), ("discord-webhook", True), ("slack-webhook", False),
     ("lark-robot", False), ("dingtalk-robot", False)],
)  # fmt: skip
def test_webhook_robots_get_the_outcome(imcli_run, write_profile, platform, attach):
    import json

    from tests.fakes import webhooks as w

    fakes = {
        "wecom-robot": (lambda: w.FakeWeComRobot("wecom-robot-key-0001"),
                        'key = "wecom-robot-key-0001"'),
        "discord-webhook": (lambda: w.FakeDiscordWebhook("112233445566778899", "hook-token_0001"),
                            'url = "https://discord.com/api/webhooks/112233445566778899/'
                            'hook-token_0001"'),
        "slack-webhook": (lambda: w.FakeSlackWebhook("/services/T0001/B0001/hook-secret-0001"),
                          'url = "https://hooks.slack.com/services/T0001/B0001/hook-secret-0001"'),
        "lark-robot": (lambda: w.FakeLarkRobot("lark-hook-token-0001", "lark-bot-secret-0001"),
                       'url = "https://open.feishu.cn/open-apis/bot/v2/hook/lark-hook-token-0001"'
                       '\nsecret = "lark-bot-secret-0001"'),
        "dingtalk-robot": (lambda: w.FakeDingTalkRobot("dingtalk-token-0001", "SEC-dd-0001"),
                           'url = "https://oapi.dingtalk.com/robot/send?access_token='
                           'dingtalk-token-0001"\nsecret = "SEC-dd-0001"'),
    }  # fmt: skip
    make, fields = fakes[platform]
    with make() as fake:
        write_profile(f'[accounts.hook]\nplatform = "{platform}"\n{fields}\n'
                      f'base_url = "{fake.url}"\n')  # fmt: skip
        flags = ("--attach-log",) if attach else ()
        r = imcli_run("-a", "hook", "-t", "backup.sh", *flags, "--", "sh", "-c",
                      "seq 1 200; echo 'pg_dump: connection refused' >&2; exit 2")  # fmt: skip
        assert r.code == 2
        assert r.err == b"pg_dump: connection refused\n", r.stderr
        seen = json.dumps([[q.json, q.form] for q in fake.requests], ensure_ascii=False)
        assert "backup.sh failed (exit 2)" in seen and "pg_dump: connection refused" in seen
        if attach:
            assert any(q.files for q in fake.requests)


def test_attach_log_is_refused_for_a_robot_that_takes_no_files(imcli_run, write_profile, tmp_path):
    write_profile('[accounts.hook]\nplatform = "slack-webhook"\n'
                  'url = "https://hooks.slack.com/services/T0001/B0001/hook-secret-0001"\n')  # fmt: skip
    marker = tmp_path / "ran"
    r = imcli_run("-a", "hook", "--attach-log", "--", "sh", "-c", f"touch {marker}")
    assert r.code == 2 and "slack-webhook: an incoming webhook cannot upload files" in r.stderr
    assert not marker.exists()


# -- named recipients (--to) ---------------------------------------------------------------------


def _two_platforms(tg: FakeTelegram, slack: FakeSlack, extra: str = "") -> str:
    return (
        f'[accounts.bot]\nplatform = "telegram"\ntoken = "{TG_TOKEN}"\nbase_url = "{tg.url}"\n\n'
        f'[accounts.team]\nplatform = "slack"\ntoken = "{SLACK_TOKEN}"\nbase_url = "{slack.url}"\n\n'
        '[recipients.oncall]\ntargets = ["telegram:user:42", "slack:group:C0123"]\n' + extra
    )


def test_to_pushes_the_outcome_to_every_target_of_a_recipient(imcli_run, write_profile):
    with FakeTelegram() as tg, FakeSlack(tokens=[SLACK_TOKEN]) as slack:
        write_profile(_two_platforms(tg, slack))
        r = imcli_run("--to", "oncall", "-t", "backup.sh", "--", "sh", "-c", "echo oops; exit 2")
        assert r.code == 2, r.stderr
        assert r.out == b"oops\n" and r.err == b"", r.stderr  # stdout stays the job's
        [tg_text] = texts(tg)
        assert "backup.sh failed (exit 2)" in tg_text and "oops" in tg_text
        [post] = [q for q in slack.requests if q.path.endswith("chat.postMessage")]
        assert post.json["channel"] == "C0123" and "backup.sh failed (exit 2)" in str(post.json)


def test_to_falls_back_and_a_bad_entry_runs_nothing(imcli_run, write_profile, tmp_path):
    with FakeTelegram(unknown_chats=[4040]) as tg, FakeSlack(tokens=[SLACK_TOKEN]) as slack:
        # the primary's only target is a chat Telegram does not know: the fallback gets it
        write_profile(
            _two_platforms(tg, slack, 'fallback = ["team"]\n\n')
            .replace('targets = ["telegram:user:42", "slack:group:C0123"]',
                     'targets = ["telegram:user:4040"]')
            + '[recipients.team]\ntargets = ["slack:group:C0123"]\n'
        )  # fmt: skip
        r = imcli_run("--to", "oncall", "--", "sh", "-c", "exit 1")
        assert r.code == 1, r.stderr
        posts = [q for q in slack.requests if q.path.endswith("chat.postMessage")]
        assert len(posts) == 1 and "falling back to 'team'" in r.stderr, r.stderr
        # a recipient entry the matrix rules out: exit 2 before the job runs
        write_profile(
            _two_platforms(tg, slack) + '\n[recipients.bad]\ntargets = ["wecom:group:G1"]\n'
        )
        marker = tmp_path / "ran"
        r = imcli_run("--to", "bad", "--", "sh", "-c", f"touch {marker}")
        assert r.code == 2 and "wecom: group push is not supported" in r.stderr, r.stderr
        assert not marker.exists()


# -- --spool: the outcome waits in the outbox ---------------------------------------------------


def test_spool_keeps_the_outcome_and_its_log_for_outbox_flush(imcli_run, tg_profile, telegram, cli):
    """The platform is down when the job ends: with --spool the outcome (its attached log
    copied into the outbox, the temporary log itself deleted) waits, imcli still exits
    with the job's status, and `outbox flush` delivers it once, log included."""
    import json

    job = "for i in $(seq 1 300); do echo line-$i; done; exit 5"
    telegram.stop()
    r = imcli_run(*TG, "--attach-log", "--timeout", "2s", "--", "sh", "-c", job)
    assert r.code == 5 and "kept" not in r.stderr  # without --spool nothing is kept
    r = imcli_run(*TG, "--attach-log", "--timeout", "2s", "--spool", "--", "sh", "-c", job)
    assert r.code == 5, r.stderr
    assert r.out.count(b"\n") == 300  # stdout stays the job's
    assert "outbox: 1 target(s) kept" in r.stderr, r.stderr
    [entry] = json.loads(cli("outbox", "list", "--json").stdout)["entries"]
    assert (entry["target"], entry["state"], entry["kind"]) == ("user:4242", "pending", "mixed")
    telegram.start()
    r = cli("outbox", "flush")
    assert (r.code, r.stdout) == (0, "1\n"), r.output
    msgs = telegram.sent_messages()
    assert [m.method for m in msgs] == ["sendMessage", "sendDocument"]
    assert "✗ sh failed (exit 5)" in msgs[0].fields["text"]
    doc = msgs[1].fields["document"]
    log = b"".join(b"line-%d\n" % i for i in range(1, 301))
    assert doc.filename == "sh.log" and doc.sha256 == hashlib.sha256(log).hexdigest()
    assert cli("outbox", "flush").stdout == "0\n" and len(telegram.sent_messages()) == 2


def test_spool_setting_applies_to_run_and_to_its_recipients(imcli_run, write_profile, cli):
    """`spool = true` in [settings] keeps a run's outcome too, also one pushed --to a
    named recipient (each target that failed, as push --to keeps it)."""
    import json

    with FakeTelegram() as tg:
        write_profile(
            f'[settings]\nspool = true\n[accounts.ops-bot]\nplatform = "telegram"\n'
            f'token = "{TG_TOKEN}"\nbase_url = "{tg.api_url}"\n'
            '[recipients.oncall]\ntargets = ["telegram:user:51", "telegram:group:-52"]\n'
        )
        tg.stop()
        r = imcli_run("--to", "oncall", "--timeout", "2s", "--", "sh", "-c", "exit 4")
        assert r.code == 4 and "outbox: 2 target(s) kept" in r.stderr, r.stderr
        entries = json.loads(cli("outbox", "list", "--json").stdout)["entries"]
        assert sorted(e["target"] for e in entries) == ["group:-52", "user:51"]
        tg.start()
        r = cli("outbox", "flush")
        assert (r.code, r.stdout) == (0, "2\n"), r.output
        assert sorted(m.chat_id for m in tg.sent_messages()) == [-52, 51]
