"""Faults in the media upload stage, for every platform that uploads.

The :class:`~tests.fakes.faulty.FaultyProxy` of test_faults.py sits in front of each
platform's fake; its rules take the upload requests (Telegram's multipart sendPhoto /
sendDocument, Slack's raw POST to the upload URL and files.completeUploadExternal, Lark's
im/v1/images and im/v1/files, WeCom's and WeChat's media/upload; OneBot has no upload: the
media sits inline in the message). ``early=`` rules strike while the body is still on its
way (a reset in the middle of an upload).

What every test holds imcli to (the error and retry rules): the push ends within ``--timeout`` plus a
margin, with no traceback and one stderr line per failed target naming the problem; a
definite answer is never repeated (the proxy counts the requests); a transient fault is
retried within the budget and, when it passes, the file arrives whole (the fake's sha256
of what it received is the file's). Where a platform uploads once per push (Lark, WeCom,
WeChat) an upload that fails fails every target of the push, each saying why; where each
target uploads for itself (Telegram, Slack) the other targets are still delivered.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import now
from tests.fakes import faulty
from tests.fakes.faulty import NGINX_413, NGINX_502, FaultyProxy, Request
from tests.test_faults import BY_NAME, MARGIN, Platform, check_clean

TIMEOUT_MS = 1500  # the budget of the pushes that use it up
MB = 1 << 20
#: a body this large cannot sit whole in the loopback socket buffers (4 MiB send, the
#: proxy's 128 KiB receive window): a reset after the first bytes finds the client
#: still sending
BIG = 6 * MB
PNG_HEAD = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"


def _json(obj: Any) -> bytes:
    return json.dumps(obj).encode()


JSON_CT = {"Content-Type": "application/json"}


def five_xx(name: str = "5xx_streak") -> faulty.Fault:
    return faulty.rotate(
        faulty.respond(503, _json({"error": "unavailable"}), JSON_CT),
        faulty.respond(502, NGINX_502, {"Content-Type": "text/html", "Server": "nginx"}),
        faulty.respond(500),
        name=name,
    )


def unavailable(name: str = "503_streak") -> faulty.Fault:
    """503s only: what a send (Telegram's upload is its send) is retried after; a 500 or
    502 to a send may follow a delivery and is not resent."""
    return faulty.respond(503, _json({"error": "unavailable"}), JSON_CT, name=name)


def html_413() -> faulty.Fault:
    return faulty.respond(413, NGINX_413, {"Content-Type": "text/html", "Server": "nginx"})


GARBLED = faulty.respond(200, b'{"errcode": 0, "media_id": "3a', JSON_CT, name="garbled")


@dataclass
class Env:
    platform: Platform
    fake: Any
    proxy: FaultyProxy


@pytest.fixture
def env_for(write_profile: Any) -> Iterator[Callable[..., Env]]:
    """env_for(name): the platform's fake, a fault proxy in front of it, and a profile
    whose account points at the proxy (Slack's upload URLs, too, lead through it)."""
    opened: list[Any] = []

    def make(name: str) -> Env:
        p = BY_NAME[name]
        fake = p.make().start()
        opened.append(fake)
        proxy = FaultyProxy(fake.url).start()
        opened.append(proxy)
        if name == "slack":  # the upload URL is absolute: send it through the proxy too
            fake.upload_url = lambda file_id: f"{proxy.url}/upload/{file_id}"
        write_profile(p.account(proxy.url))
        return Env(p, fake, proxy)

    yield make
    for thing in reversed(opened):
        thing.stop()


def media(tmp_path: Path, kind: str, size: int, name: str | None = None) -> Path:
    """A file of ``size`` bytes the platform takes as ``kind`` (random after the magic)."""
    if kind == "image":
        path, head = tmp_path / (name or "shot.png"), PNG_HEAD
    else:
        path, head = tmp_path / (name or "report.pdf"), b"%PDF-1.4\n"
    path.write_bytes(head + os.urandom(size - len(head)))
    return path


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def push(
    cli: Any, name: str, kind: str, targets: list[str], path: Path, timeout_ms: int = TIMEOUT_MS
) -> Any:
    t0 = now()
    r = cli("push", kind, "-p", name, *targets, str(path), "--json",
            "--timeout", str(timeout_ms))  # fmt: skip
    r.elapsed = now() - t0
    return r


def names(args: list[str]) -> list[str]:
    """``["-u", "1", "-g", "2"]`` → ``["user:1", "group:2"]``."""
    return [
        ("user:" if flag == "-u" else "group:") + value
        for flag, value in zip(args[::2], args[1::2], strict=True)
    ]


def results(r: Any) -> dict[str, dict[str, Any]]:
    out = json.loads(r.stdout)
    return {t["target"]: t for t in out["targets"]}


def check_failed(
    env: Env, r: Any, failed: list[str], sent: list[str], words: tuple[str, ...], timeout_ms: int
) -> dict[str, str]:
    """Exit 1 within the budget; each of ``failed`` (target names) failed with one
    stderr line naming it and the words; each of ``sent`` sent. Returns the errors."""
    p = env.platform
    check_clean(p, r, env.fake)
    assert r.code == 1, (r.code, r.stdout, r.stderr)
    assert r.elapsed <= timeout_ms / 1000 + MARGIN, r.elapsed
    out = json.loads(r.stdout)
    assert (out["sent"], out["failed"]) == (len(sent), len(failed)), out
    by = results(r)
    errors = {}
    for t in failed:
        err = by[t]["error"]
        assert by[t]["ok"] is False and err and "\n" not in err, by[t]
        for word in words:
            assert word in err, (word, err)
        lines = [ln for ln in r.stderr.splitlines() if ln.startswith(f"{p.name} {t}: ")]
        assert lines == [f"{p.name} {t}: {err}"], r.stderr
        errors[t] = err
    for t in sent:
        assert by[t]["ok"] is True and by[t]["error"] is None, by[t]
    assert len(r.stderr.splitlines()) == len(failed), r.stderr
    return errors


def check_sent(env: Env, r: Any, targets: list[str], timeout_ms: int) -> None:
    check_clean(env.platform, r, env.fake)
    assert (r.code, r.stderr) == (0, ""), (r.code, r.stdout, r.stderr)
    assert r.elapsed <= timeout_ms / 1000 + MARGIN, r.elapsed
    out = json.loads(r.stdout)
    assert out["sent"] == len(targets) and out["failed"] == 0, out
    assert sorted(out["targets"][i]["target"] for i in range(len(targets))) == sorted(targets)


def cause_or_budget(err: str, cause: str) -> bool:
    """The error names ``cause``, or the budget: a retry the budget cut short at its very
    end (the sleep before it overran) reports that instead."""
    return cause in err or "budget" in err


def is_multipart(req: Request) -> bool:
    return req.headers.get("content-type", "").startswith("multipart/form-data")


# == Telegram: the upload is the send (multipart sendPhoto / sendDocument) ======================
#
# The first target uploads; the others are sent Telegram's file_id (an upload that failed
# leaves the next target to upload for itself). A send that carries the file is a send:
# retried only when it surely did not arrive or Telegram said 429/5xx.

TG_GOOD, TG_BAD = ["-u", "111"], ["-u", "7770777"]
TG_METHOD = {"image": ("sendPhoto", "photo"), "file": ("sendDocument", "document")}


def tg_uploads(env: Env, method: str) -> list[Any]:
    """The sends that carried the file (FilePart), as the fake recorded them."""
    field = {"sendPhoto": "photo", "sendDocument": "document"}[method]
    return [
        m
        for m in env.fake.sent_messages()
        if m.method == method and not isinstance(m.fields.get(field), str)
    ]


def tg_bad_upload(req: Request) -> bool:
    return is_multipart(req) and b"7770777" in req.body


def tg_upload_hits(env: Env) -> list[Request]:
    return [h for h in env.proxy.hits() if is_multipart(h)]


def check_tg_file(env: Env, kind: str, path: Path, uploader: str, others: list[str]) -> None:
    """One whole upload reached Telegram, for ``uploader``; the others got its file_id."""
    method, field = TG_METHOD[kind]
    sends = [m for m in env.fake.sent_messages() if m.method == method]
    [up] = [m for m in sends if not isinstance(m.fields[field], str)]
    assert str(up.chat_id) == uploader
    assert up.fields[field].sha256 == sha(path) and up.fields[field].size == path.stat().st_size
    by_id = sorted(str(m.chat_id) for m in sends if isinstance(m.fields[field], str))
    assert by_id == sorted(others)


@pytest.mark.timeout(30)
@pytest.mark.parametrize("kind", ["image", "file"])
def test_telegram_a_reset_mid_upload_is_retried_and_the_file_arrives_whole(
    cli, env_for, tmp_path, kind
):
    # the request was cut short on its way out: Telegram cannot have acted on it, so the
    # send is made again (not "may have been delivered")
    env = env_for("telegram")
    path = media(tmp_path, kind, BIG)
    env.proxy.add(tg_bad_upload, faulty.reset, times=1, early=4096)
    r = push(cli, "telegram", kind, TG_BAD + TG_GOOD, path, timeout_ms=10_000)
    check_sent(env, r, names(TG_BAD + TG_GOOD), 10_000)
    first, again = tg_upload_hits(env)
    assert first.fault == "reset" and len(first.body) == 4096  # cut short
    assert again.fault is None and len(again.body) > BIG and b"7770777" in again.body
    check_tg_file(env, kind, path, "7770777", ["111"])


@pytest.mark.timeout(30)
def test_telegram_uploads_reset_every_time_fail_within_the_budget_as_not_delivered(
    cli, env_for, tmp_path
):
    """The first target uploads and is reset every time until the budget ends; then the
    other uploads for itself with what is left. Its tries, too, are reset, unless the
    first one's used the budget up (on a loaded machine the last backoff can end within
    a few milliseconds of it): then it says so, and the proxy saw no upload of its own."""
    env = env_for("telegram")
    path = media(tmp_path, "file", BIG)
    env.proxy.add(is_multipart, faulty.reset, early=4096)
    r = push(cli, "telegram", "file", TG_BAD + TG_GOOD, path)
    errors = check_failed(env, r, names(TG_BAD + TG_GOOD), [], (), TIMEOUT_MS)
    # "connection lost during the upload (…)", or the budget ended during the last try
    assert errors["user:7770777"].endswith(" during the upload; not delivered") or errors[
        "user:7770777"
    ].startswith("connection lost during the upload ("), errors
    assert errors["user:7770777"].endswith("; not delivered")
    for err in errors.values():
        assert "may have been delivered" not in err
    hits = tg_upload_hits(env)
    assert len(hits) >= 2 and all(h.fault == "reset" and len(h.body) == 4096 for h in hits)
    if errors["user:111"] == "the --timeout budget ran out before this request could be made":
        assert all(b"7770777" in h.body for h in hits), [h.body[:300] for h in hits]
    else:
        assert "upload" in errors["user:111"], errors
    assert env.fake.sent_messages() == []


@pytest.mark.timeout(30)
def test_telegram_an_upload_whose_answer_never_comes_is_not_resent(cli, env_for, tmp_path):
    # the whole file went out: it may have been delivered. The other target waited for
    # that upload (its file_id would have served) and says so.
    env = env_for("telegram")
    path = media(tmp_path, "image", 300_000)
    env.proxy.add(is_multipart, faulty.hang)
    r = push(cli, "telegram", "image", TG_BAD + TG_GOOD, path)
    errors = check_failed(env, r, names(TG_BAD + TG_GOOD), [], (), TIMEOUT_MS)
    [hit] = tg_upload_hits(env)  # never repeated
    assert len(hit.body) > 300_000 and hit.fault == "hang"
    uploader = "user:7770777" if b"7770777" in hit.body else "user:111"
    waiter = next(t for t in errors if t != uploader)
    assert errors[uploader] == (
        "no answer within the time budget; the message may have been delivered"
    )
    assert errors[waiter] == (
        "not sent: the --timeout budget ran out while the file was being uploaded "
        "for another target"
    )
    assert env.fake.sent_messages() == []


@pytest.mark.timeout(30)
def test_telegram_a_server_that_stops_reading_mid_upload_is_reported_not_delivered(
    cli, env_for, tmp_path
):
    # the proxy takes 4 KiB of the body and then reads no more: the budget runs out while
    # the file is still going out, so the send surely did not arrive
    env = env_for("telegram")
    path = media(tmp_path, "file", BIG)
    env.proxy.add(is_multipart, faulty.hang, early=4096)
    r = push(cli, "telegram", "file", TG_BAD + TG_GOOD, path)
    errors = check_failed(env, r, names(TG_BAD + TG_GOOD), [], (), TIMEOUT_MS)
    [hit] = tg_upload_hits(env)
    uploader = "user:7770777" if b"7770777" in hit.body else "user:111"
    assert errors[uploader] == "the time budget ran out during the upload; not delivered"
    waiter = next(t for t in errors if t != uploader)
    assert errors[waiter].startswith("not sent: the --timeout budget ran out while the file")
    assert env.fake.sent_messages() == []


@pytest.mark.timeout(30)
@pytest.mark.parametrize("kind", ["image", "file"])
def test_telegram_a_413_page_fails_that_upload_once_and_the_next_target_uploads(
    cli, env_for, tmp_path, kind
):
    env = env_for("telegram")
    path = media(tmp_path, kind, 400_000)
    env.proxy.add(tg_bad_upload, html_413())
    r = push(cli, "telegram", kind, TG_BAD + TG_GOOD, path, timeout_ms=5000)
    words = ("HTTP 413: Request Entity Too Large (an HTML page, not a JSON answer)",)
    check_failed(env, r, ["user:7770777"], ["user:111"], words, 5000)
    assert r.elapsed < 2 + MARGIN  # a definite answer: no retry, no waiting
    bad = [h for h in tg_upload_hits(env) if b"7770777" in h.body]
    assert len(bad) == 1 and bad[0].fault == "respond_413"
    check_tg_file(env, kind, path, "111", [])


TG_429 = faulty.respond(
    429,
    _json({"ok": False, "error_code": 429, "parameters": {"retry_after": 1},
           "description": "Too Many Requests: retry after 1"}),
    JSON_CT,
    name="storm_429",
)  # fmt: skip


@pytest.mark.timeout(30)
def test_telegram_a_429_on_the_upload_waits_retry_after_then_uploads_whole(cli, env_for, tmp_path):
    env = env_for("telegram")
    path = media(tmp_path, "image", 500_000)
    env.proxy.add(tg_bad_upload, TG_429, times=1)
    r = push(cli, "telegram", "image", TG_BAD + TG_GOOD, path, timeout_ms=6000)
    check_sent(env, r, names(TG_BAD + TG_GOOD), 6000)
    first, again = tg_upload_hits(env)
    assert (first.fault, again.fault) == ("storm_429", None)
    assert again.arrived - first.arrived >= 0.95  # retry_after obeyed
    check_tg_file(env, "image", path, "7770777", ["111"])


@pytest.mark.timeout(30)
def test_telegram_a_429_beyond_the_budget_fails_at_once_and_the_next_target_uploads(
    cli, env_for, tmp_path
):
    env = env_for("telegram")
    path = media(tmp_path, "image", 200_000)
    env.proxy.add(tg_bad_upload, TG_429)
    r = push(cli, "telegram", "image", TG_BAD + TG_GOOD, path, timeout_ms=900)
    words = ("Too Many Requests: retry after 1 (429)", "time budget")
    check_failed(env, r, ["user:7770777"], ["user:111"], words, 900)
    assert [h.fault for h in tg_upload_hits(env)] == ["storm_429", None]
    check_tg_file(env, "image", path, "111", [])


@pytest.mark.timeout(30)
def test_telegram_a_short_5xx_streak_on_the_upload_is_retried(cli, env_for, tmp_path):
    env = env_for("telegram")
    path = media(tmp_path, "file", 500_000)
    env.proxy.add(tg_bad_upload, unavailable(), times=3)
    r = push(cli, "telegram", "file", TG_BAD + TG_GOOD, path, timeout_ms=8000)
    check_sent(env, r, names(TG_BAD + TG_GOOD), 8000)
    assert [h.fault for h in tg_upload_hits(env)] == ["503_streak"] * 3 + [None]
    check_tg_file(env, "file", path, "7770777", ["111"])


@pytest.mark.timeout(30)
def test_telegram_a_5xx_streak_fails_its_target_and_the_next_target_uploads(cli, env_for, tmp_path):
    env = env_for("telegram")
    path = media(tmp_path, "file", 100_000)
    env.proxy.add(tg_bad_upload, unavailable())
    r = push(cli, "telegram", "file", TG_BAD + TG_GOOD, path, timeout_ms=4000)
    [err] = check_failed(env, r, ["user:7770777"], ["user:111"], (), 4000).values()
    bad = [h for h in tg_upload_hits(env) if b"7770777" in h.body]
    assert len(bad) >= 3 and all(h.fault == "503_streak" for h in bad)  # retried
    assert cause_or_budget(err, f"gave up after {len(bad)} tries"), err
    check_tg_file(env, "file", path, "111", [])


# == Slack: getUploadURLExternal, the raw POST to upload_url, completeUploadExternal ==========
#
# Each target uploads its own copy (a file id is completed once); the raw upload sends
# no message and is retried after any transient error; completeUploadExternal shares
# the file: it is a send.

SLACK_TARGETS = ["-g", "C0GOOD", "-g", "C0BADBAD"]


def first_upload_url() -> Callable[[Request], bool]:
    """Matches the raw uploads to the first upload URL seen (one target's file)."""
    chosen: list[str] = []

    def match(req: Request) -> bool:
        if not req.path.startswith("/upload/"):
            return False
        if not chosen:
            chosen.append(req.path)
        return req.path == chosen[0]

    return match


def slack_uploads(env: Env) -> list[Request]:
    return [h for h in env.proxy.hits() if h.path.startswith("/upload/")]


def check_slack_files(env: Env, path: Path, channels: list[str]) -> None:
    """Each of ``channels`` got one whole file, completed; no other file was shared."""
    shared = [f for f in env.fake.uploaded_files().values() if f.completed]
    assert sorted(f.channel for f in shared) == sorted(channels)
    for f in shared:
        assert (f.size, f.sha256) == (path.stat().st_size, sha(path))


@pytest.mark.timeout(30)
def test_slack_a_reset_mid_upload_is_retried_and_both_files_arrive_whole(cli, env_for, tmp_path):
    env = env_for("slack")
    path = media(tmp_path, "file", BIG)
    env.proxy.add(first_upload_url(), faulty.reset, times=1, early=4096)
    r = push(cli, "slack", "file", SLACK_TARGETS, path, timeout_ms=10_000)
    check_sent(env, r, names(SLACK_TARGETS), 10_000)
    ups = slack_uploads(env)
    assert [h.fault for h in ups].count("reset") == 1 and len(ups) == 3
    [cut] = [h for h in ups if h.fault]
    assert len(cut.body) == 4096
    assert len(env.proxy.hits("files.getUploadURLExternal")) == 2  # the ticket is not renewed
    check_slack_files(env, path, ["C0GOOD", "C0BADBAD"])


def slack_victim(env: Env, r: Any) -> tuple[str, str]:
    """(the target whose upload was faulted, the other one), from the --json output."""
    by = results(r)
    failed = [t for t, res in by.items() if not res["ok"]]
    assert len(failed) == 1, by
    return failed[0], next(t for t in by if t != failed[0])


@pytest.mark.timeout(30)
@pytest.mark.parametrize("fault", ["5xx_streak", "hang"])
def test_slack_an_upload_url_that_keeps_failing_fails_only_its_target(
    cli, env_for, tmp_path, fault
):
    env = env_for("slack")
    path = media(tmp_path, "image", 200_000)
    env.proxy.add(first_upload_url(), five_xx() if fault == "5xx_streak" else faulty.hang)
    r = push(cli, "slack", "image", SLACK_TARGETS, path)
    victim, other = slack_victim(env, r)
    [err] = check_failed(env, r, [victim], [other], ("upload failed: ",), TIMEOUT_MS).values()
    assert cause_or_budget(err, "HTTP 5" if fault == "5xx_streak" else "time budget"), err
    faulted = [h for h in slack_uploads(env) if h.fault]
    assert faulted and all(len(h.body) == path.stat().st_size for h in faulted)
    if fault == "hang":
        assert len(faulted) == 1  # the whole budget went to the one try
    else:
        assert len(faulted) >= 2  # retried while the budget lasted
    assert len(env.proxy.hits("files.completeUploadExternal")) == 1  # only the good one
    check_slack_files(env, path, [other.split(":", 1)[1]])


@pytest.mark.timeout(30)
def test_slack_a_short_5xx_streak_on_the_upload_url_is_retried(cli, env_for, tmp_path):
    env = env_for("slack")
    path = media(tmp_path, "image", 300_000)
    env.proxy.add(first_upload_url(), five_xx(), times=3)
    r = push(cli, "slack", "image", SLACK_TARGETS, path, timeout_ms=8000)
    check_sent(env, r, names(SLACK_TARGETS), 8000)
    assert [h.fault for h in slack_uploads(env)].count("5xx_streak") == 3
    assert len(slack_uploads(env)) == 5
    check_slack_files(env, path, ["C0GOOD", "C0BADBAD"])


@pytest.mark.timeout(30)
@pytest.mark.parametrize("fault", ["definite", "garbled"])
def test_slack_complete_upload_faults_fail_only_their_target_once(cli, env_for, tmp_path, fault):
    env = env_for("slack")
    path = media(tmp_path, "file", 300_000)
    if fault == "definite":
        answer = faulty.respond(200, _json({"ok": False, "error": "not_in_channel"}), JSON_CT)
        words: tuple[str, ...] = ("not_in_channel",)
    else:
        answer = faulty.respond(200, b'{"ok": true, "files": [{"id": "F', JSON_CT)
        words = ("HTTP 200", "not a JSON answer", "may have been delivered")

    def complete_bad(req: Request) -> bool:
        return req.path.endswith("files.completeUploadExternal") and b"C0BADBAD" in req.body

    env.proxy.add(complete_bad, answer)
    r = push(cli, "slack", "file", SLACK_TARGETS, path, timeout_ms=5000)
    check_failed(env, r, ["group:C0BADBAD"], ["group:C0GOOD"], words, 5000)
    assert r.elapsed < 2 + MARGIN
    [hit] = [h for h in env.proxy.hits() if complete_bad(h)]  # sent once
    assert hit.fault
    assert len(slack_uploads(env)) == 2  # each target's file was uploaded, once
    check_slack_files(env, path, ["C0GOOD"])


# == Lark: im/v1/images and im/v1/files, once per push; the key serves every target ============

LARK_TARGETS = ["-g", "oc_good", "-g", "oc_badbad"]
LARK_PATH = {"image": "/open-apis/im/v1/images", "file": "/open-apis/im/v1/files"}


def lark_env(env_for: Any, kind: str) -> tuple[Env, str]:
    return env_for("lark"), LARK_PATH[kind]


def on_path(path: str) -> Callable[[Request], bool]:
    return lambda req: req.path == path


def check_lark_sent(env: Env, kind: str, path: Path, upload_path: str, faults: list[str]) -> None:
    assert [h.fault for h in env.proxy.hits() if h.path == upload_path] == faults + [None]
    [up] = env.fake.uploads.values()
    assert (up.size, up.sha256) == (path.stat().st_size, sha(path))
    sent = env.fake.sent_messages()
    assert sorted(m.receive_id for m in sent) == ["oc_badbad", "oc_good"]
    key = "image_key" if kind == "image" else "file_key"
    assert {m.content[key] for m in sent} == {up.key}  # one upload for both


@pytest.mark.timeout(30)
@pytest.mark.parametrize("kind", ["image", "file"])
def test_lark_a_reset_mid_upload_is_retried(cli, env_for, tmp_path, kind):
    env, upath = lark_env(env_for, kind)
    path = media(tmp_path, kind, BIG)
    env.proxy.add(on_path(upath), faulty.reset, times=1, early=4096)
    r = push(cli, "lark", kind, LARK_TARGETS, path, timeout_ms=10_000)
    check_sent(env, r, names(LARK_TARGETS), 10_000)
    check_lark_sent(env, kind, path, upath, ["reset"])


@pytest.mark.timeout(30)
@pytest.mark.parametrize("kind", ["image", "file"])
def test_lark_a_short_5xx_streak_on_the_upload_is_retried(cli, env_for, tmp_path, kind):
    env, upath = lark_env(env_for, kind)
    path = media(tmp_path, kind, 300_000)
    env.proxy.add(on_path(upath), five_xx(), times=2)
    r = push(cli, "lark", kind, LARK_TARGETS, path, timeout_ms=8000)
    check_sent(env, r, names(LARK_TARGETS), 8000)
    check_lark_sent(env, kind, path, upath, ["5xx_streak"] * 2)


@pytest.mark.timeout(30)
@pytest.mark.parametrize("status", [400, 429])
def test_lark_rate_limit_on_the_upload_waits_for_the_reset_header(cli, env_for, tmp_path, status):
    env, upath = lark_env(env_for, "image")
    path = media(tmp_path, "image", 300_000)
    limited = faulty.respond(
        status,
        _json({"code": 99991400, "msg": "request trigger frequency limit"}),
        {**JSON_CT, "x-ogw-ratelimit-reset": "1"},
        name="rate_limited",
    )
    env.proxy.add(on_path(upath), limited, times=1)
    r = push(cli, "lark", "image", LARK_TARGETS, path, timeout_ms=6000)
    check_sent(env, r, names(LARK_TARGETS), 6000)
    first, again = [h for h in env.proxy.hits() if h.path == upath]
    assert again.arrived - first.arrived >= 0.95
    check_lark_sent(env, "image", path, upath, ["rate_limited"])


LARK_FAILS: dict[str, tuple[Callable[[], faulty.Fault], int | None, bool, tuple[str, ...]]] = {
    # fault, early, once, words of every target's reason
    "reset": (lambda: faulty.reset, 4096, False, ("upload failed: ",)),
    "5xx_streak": (five_xx, None, False, ("upload failed: ",)),
    "html_413": (
        html_413,
        None,
        True,
        ("upload failed: HTTP 413: Request Entity Too Large (an HTML page, not a JSON answer)",),
    ),
    "refused": (
        lambda: faulty.respond(
            400, _json({"code": 234006, "msg": "The file size exceed the max value."}), JSON_CT
        ),
        None,
        True,
        ("upload failed: The file size exceed the max value. (234006)",),
    ),
}


@pytest.mark.timeout(30)
@pytest.mark.parametrize(
    ("kind", "fault"),
    [("image", f) for f in LARK_FAILS] + [("file", "reset"), ("file", "html_413")],
)
def test_lark_an_upload_that_fails_fails_every_target_of_the_push(
    cli, env_for, tmp_path, kind, fault
):
    env, upath = lark_env(env_for, kind)
    make, early, once, words = LARK_FAILS[fault]
    path = media(tmp_path, kind, BIG if early else 300_000)
    env.proxy.add(on_path(upath), make(), early=early)
    r = push(cli, "lark", kind, LARK_TARGETS, path)
    errors = check_failed(env, r, names(LARK_TARGETS), [], words, TIMEOUT_MS)
    [err] = set(errors.values())  # the one upload's reason, for every target
    if fault == "reset":
        assert cause_or_budget(err, "upload failed: connection to "), err
    if fault == "5xx_streak":
        assert cause_or_budget(err, "gave up after"), err
    hits = [h for h in env.proxy.hits() if h.path == upath]
    assert hits and all(h.fault for h in hits)
    if once:
        assert len(hits) == 1 and r.elapsed < 1 + MARGIN
    else:
        assert len(hits) >= 2  # retried while the budget lasted
    assert env.fake.sent_messages() == [] and env.fake.uploads == {}


# == WeCom and WeChat: media/upload, once per push, before any send ===========================

WX = {  # name → (targets, kind, the platform's definite refusal, its busy code)
    "wecom": (["-u", "alice", "-u", "bob"], "file", (40004, "invalid media type"), 45009),
    "wechat": (
        ["-u", "o-good-openid", "-u", "o-badbad-openid"],
        "image",
        (40005, "invalid file type"),
        -1,
    ),
}
UPLOAD = "/cgi-bin/media/upload"
WX_SIZE = 1_500_000  # WeChat takes images of at most 2 MB


def wx_delivered(env: Env) -> list[str]:
    if env.platform.name == "wecom":
        return sorted(u for s in env.fake.sent() for u in s.touser)
    return sorted(s.touser for s in env.fake.sent())


def errcode(code: int, msg: str) -> faulty.Fault:
    return faulty.respond(200, _json({"errcode": code, "errmsg": msg}), JSON_CT, name=f"e{code}")


WX_TRANSIENT: dict[str, tuple[Callable[[str], faulty.Fault], int, int | None]] = {
    # fault (given the platform), times, early
    "reset": (lambda name: faulty.reset, 1, 4096),
    "5xx_streak": (lambda name: five_xx(), 2, None),
    "garbled": (lambda name: GARBLED, 1, None),
    "busy": (lambda name: errcode(WX[name][3], "system busy"), 1, None),
}


@pytest.mark.timeout(30)
@pytest.mark.parametrize("fault", list(WX_TRANSIENT))
@pytest.mark.parametrize("name", list(WX))
def test_weixin_a_transient_upload_fault_is_retried_and_the_media_arrives_whole(
    cli, env_for, tmp_path, name, fault
):
    env = env_for(name)
    targets, kind, _, _ = WX[name]
    make, times, early = WX_TRANSIENT[fault]
    path = media(tmp_path, kind, WX_SIZE)
    env.proxy.add(on_path(UPLOAD), make(name), times=times, early=early)
    r = push(cli, name, kind, targets, path, timeout_ms=8000)
    check_sent(env, r, names(targets), 8000)
    hits = [h for h in env.proxy.hits() if h.path == UPLOAD]
    assert [bool(h.fault) for h in hits] == [True] * times + [False]
    if early:
        assert len(hits[0].body) == early
    [stored] = env.fake.media.values()
    assert (stored.size, stored.sha256) == (WX_SIZE, sha(path))
    assert wx_delivered(env) == sorted(targets[1::2])


WX_FAILS: dict[
    str, tuple[Callable[[str], faulty.Fault], int | None, bool, Callable[[str], str]]
] = {
    # fault, early, once, the reason every target gives
    # (the last try may be the one the budget ends: "no answer ... within the time budget")
    "reset": (lambda name: faulty.reset, 4096, False, lambda name: "upload failed: "),
    "5xx_streak": (lambda name: five_xx(), None, False, lambda name: "HTTP 50"),
    "garbled": (lambda name: GARBLED, None, False, lambda name: "not a JSON answer"),
    "errcode": (
        lambda name: errcode(*WX[name][2]),
        None,
        True,
        lambda name: "upload failed: {1} ({0})".format(*WX[name][2]),
    ),
}


@pytest.mark.timeout(30)
@pytest.mark.parametrize("fault", list(WX_FAILS))
@pytest.mark.parametrize("name", list(WX))
def test_weixin_an_upload_that_fails_fails_every_target_of_the_push(
    cli, env_for, tmp_path, name, fault
):
    env = env_for(name)
    targets, kind, _, _ = WX[name]
    make, early, once, reason = WX_FAILS[fault]
    path = media(tmp_path, kind, WX_SIZE if early else 200_000)
    env.proxy.add(on_path(UPLOAD), make(name), early=early)
    r = push(cli, name, kind, targets, path)
    errors = check_failed(env, r, names(targets), [], ("upload failed: ",), TIMEOUT_MS)
    [err] = set(errors.values())  # the one upload's reason, for every target
    assert reason(name) in err if once else cause_or_budget(err, reason(name)), err
    hits = [h for h in env.proxy.hits() if h.path == UPLOAD]
    assert hits and all(h.fault for h in hits)
    if once:
        assert len(hits) == 1 and r.elapsed < 1 + MARGIN
    else:
        assert len(hits) >= 2  # retried while the budget lasted
    assert env.fake.media == {} and env.fake.sent() == []
    assert not [h for h in env.proxy.hits() if "/message/" in h.path]  # nothing was sent


# == QQ (OneBot): no upload; the media rides inline in the message as base64 ===================


@pytest.mark.timeout(30)
def test_qq_a_huge_base64_message_cut_by_a_reset_fails_cleanly(cli, env_for, tmp_path):
    import base64

    env = env_for("qq")
    path = media(tmp_path, "image", 5 * MB)  # ~6.7 MB of JSON
    env.proxy.add(on_path("/send_group_msg"), faulty.reset, early=4096)
    r = push(cli, "qq", "image", ["-u", "20001", "-g", "30002"], path, timeout_ms=8000)
    [err] = check_failed(env, r, ["group:30002"], ["user:20001"], (), 8000).values()
    # a JSON body is handed to the connection whole: imcli cannot tell how much of it
    # went out, so the send is not repeated
    assert err.startswith("connection lost (") and err.endswith("may have been delivered")
    [hit] = env.proxy.hits("/send_group_msg")
    assert len(hit.body) == 4096
    [sent] = env.fake.sent()
    assert sent.target == 20001
    [seg] = sent.message
    data = base64.b64decode(seg["data"]["file"].removeprefix("base64://"))
    assert hashlib.sha256(data).hexdigest() == sha(path)
