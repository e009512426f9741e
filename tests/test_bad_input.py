"""Bad input, tried at scale: whatever imcli is given, it exits 0, 1, 2 or 3 with a
one-line message, never a traceback, and sends nothing when the input was invalid.

Property-based tests (hypothesis, derandomized so CI sees the same inputs every run) over
command lines, mixed-items JSON, profile TOML and media sources, run in-process against
the fake Telegram and the fake OneBot; then one explicit test per hard case: empty and
huge texts, invalid UTF-8 on stdin, NUL bytes and control characters, deeply nested JSON,
a directory, a FIFO, a file that disappears, an unreadable profile, a profile that is a
directory, a ``${VAR}`` loop and ids with spaces.

What imcli does with them (decided here):
- a media source, ITEMS file or profile that is not a regular file (directory, device,
  FIFO) is refused: exit 2 (3 for the profile); a FIFO is opened without blocking, so one
  with no writer reads as empty instead of hanging, while a pipe with a writer
  (``<(jq …)``) is read to its end;
- target ids with whitespace or control characters are refused with exit 2 before any
  request (no platform has such ids);
- text, titles and captions keep their control characters: the platform decides;
- argv bytes that are not UTF-8 are refused (exit 2) where they would go into a request;
- ``${VAR}`` expansion is one pass: a value that holds ``${B}`` is used as written, so a
  ``${A}`` → ``${B}`` → ``${A}`` loop cannot loop.
"""

from __future__ import annotations

import collections
import json
import os
import re
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from imcli.cli import cmdline
from tests import _strategies as S
from tests._media import PNG
from tests.conftest import TG_TOKEN, now
from tests.fakes.onebot import FakeOneBot

#: bad inputs generated per strategy (printed at the end of the module's run)
GENERATED: collections.Counter[str] = collections.Counter()

EXAMPLES = int(os.environ.get("BAD_INPUT_EXAMPLES", "100"))  # per fuzz test (argv: 1.5×)
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,  # the same inputs on every run: CI is reproducible
    database=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,  # the fakes are reset per example instead
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.large_base_example,
    ],
)

SEND_PATH = re.compile(r"/(send|upload)[^/]*$", re.IGNORECASE)
ERROR_LINE = re.compile(r"^(imcli: |\w+ (user|group):)")


@pytest.fixture(scope="module", autouse=True)
def _report_counts(request: pytest.FixtureRequest) -> Any:
    yield
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if reporter is not None and capture is not None and GENERATED:
        total = sum(GENERATED.values())
        detail = ", ".join(f"{k} {v}" for k, v in sorted(GENERATED.items()))
        with capture.global_and_fixture_disabled():
            reporter.write_line(f"\nbad inputs generated: {total} ({detail})")


@pytest.fixture(autouse=True)
def _secrets_scan_survives_bad_profiles(monkeypatch: pytest.MonkeyPatch) -> None:
    """conftest's secrets scan reads every profile a command line names before imcli
    runs: a FIFO there blocks it forever and a deeply nested one raises RecursionError.
    Here it skips what is not a regular file and what it cannot parse, as imcli does."""
    from tests import conftest

    real = getattr(conftest, "_profile_credentials", None)
    if real is None:
        return

    def scan(path: Path, *a: Any) -> None:
        try:
            if not path.is_file():
                return
            real(path, *a)
        except (OSError, ValueError, RecursionError):
            return

    monkeypatch.setattr(conftest, "_profile_credentials", scan)


# -- the world one example runs in ---------------------------------------------------------


class World:
    """The fakes, a profile with a Telegram and a OneBot account, and prepared files."""

    def __init__(self, tmp: Path, telegram: Any, onebot: FakeOneBot) -> None:
        self.tmp, self.telegram, self.onebot = tmp, telegram, onebot
        self.profile = tmp / "profile.toml"
        self.tg_table = (
            f'[accounts.ops-bot]\nplatform = "telegram"\ntoken = "{TG_TOKEN}"\n'
            f'base_url = "{telegram.api_url}"\n'
        )
        self.qq_table = f'[accounts.qq-home]\nplatform = "qq"\nbase_url = "{onebot.base_url}"\n'
        media = tmp / "media"
        media.mkdir()
        (media / "a.png").write_bytes(PNG)
        (media / "empty.bin").write_bytes(b"")
        (media / "dir").mkdir()
        os.mkfifo(media / "fifo")
        (media / "loop").symlink_to(media / "loop")
        (media / "dangling").symlink_to(media / "gone")
        (media / "with space.png").write_bytes(PNG)
        (media / "ctl\x01name.png").write_bytes(PNG)
        self.local = {p.name: str(p) for p in media.iterdir()}
        items = tmp / "items.json"
        items.write_text(json.dumps([{"type": "text", "text": "hi"}]))
        self.paths = {
            "profile": [str(self.profile), str(tmp / "nope.toml"), str(media / "dir"),
                        str(media / "fifo"), "a\0b", "~nosuchuser_fuzz/p.toml", ""],
            "media": [self.local["a.png"], self.local["dir"], self.local["fifo"], "nope.png"],
            "items": [str(items), self.local["dir"], self.local["fifo"], "nope.json"],
        }  # fmt: skip

    def reset(self, profile_text: str | None = None) -> None:
        from imcli import _log, _redact

        _log._seen.clear()
        _redact.clear()
        self.telegram.reset()
        self.onebot.reset()
        with self.onebot._state:
            self.onebot._sent.clear()
        text = self.tg_table + "\n" + self.qq_table if profile_text is None else profile_text
        self.profile.write_text(text, encoding="utf-8")
        self.profile.chmod(0o600)

    def requests(self) -> list[Any]:
        return list(self.telegram.requests) + list(self.onebot.requests)

    def sends(self) -> list[Any]:
        """Every send or upload request, answered or refused."""
        return [r for r in self.requests() if SEND_PATH.search(r.path)]

    def delivered(self) -> list[Any]:
        """What the fakes accepted and delivered."""
        return list(self.telegram.sent_messages()) + list(self.onebot.sent())


@pytest.fixture
def world(tmp_path: Path, telegram: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.chdir(tmp_path)  # relative paths land in the test's own directory
    monkeypatch.setenv("FUZZ_SET", "1:set-from-env")
    monkeypatch.setenv("FUZZ_LOOP_A", "${FUZZ_LOOP_B}")
    monkeypatch.setenv("FUZZ_LOOP_B", "${FUZZ_LOOP_A}")
    monkeypatch.delenv("FUZZ_UNSET", raising=False)
    with FakeOneBot() as onebot:
        w = World(tmp_path, telegram, onebot)
        w.reset()
        yield w


def run(cli: Any, *args: str, input: str | bytes | None = None, tty: bool = False) -> Any:
    """``cli(...)``, but an exception escaping imcli fails the test with its traceback."""
    try:
        r = cli(*args, input=input, tty=tty)
    except BaseException:  # noqa: BLE001 - a traceback the user would have seen
        pytest.fail(f"imcli raised for {args!r}:\n{traceback.format_exc()}")
    if os.environ.get("BAD_INPUT_DEBUG"):  # with -s: what the fuzzing tried, and got
        print(r.code, repr(args)[:200], repr(r.stderr[-200:]), file=sys.__stderr__)
    return r


def flags(args: tuple[str, ...] | list[str]) -> set[str]:
    """Which of -v, --dry-run and help may have changed what is printed (conservative)."""
    found = set()
    for a in args:
        if a in ("-h", "--help") or a.startswith("--help="):
            found.add("help")
        if a.startswith("--verb") or (a.startswith("-") and not a.startswith("--") and "v" in a):
            found.add("verbose")
        if a.startswith("--dry"):
            found.add("dry")
    return found


def check(r: Any, args: tuple[str, ...] | list[str], w: World) -> None:
    """The contract for any input: exit 0, 1, 2 or 3, never a traceback; nothing sent on
    a usage error (2) and nothing delivered on a configuration error (3); one ``imcli:``
    line per error; a push prints the count (or one JSON object)."""
    where = (
        f"argv={list(args)!r}\nexit={r.code}\nstdout={r.stdout[:500]!r}\nstderr={r.stderr[:1500]!r}"
    )
    assert r.code in (0, 1, 2, 3), where
    assert "Traceback" not in r.output and "internal error" not in r.stderr, where
    if r.code == 2:  # refused before anything was sent: not one request
        assert w.requests() == [], where
    if r.code == 3:  # configuration: nothing delivered (a send refused for its token is)
        assert w.delivered() == [], where
    f = flags(args)
    lines = r.stderr.split("\n")
    assert lines[-1] == "", where  # every line ends with a newline
    # warnings (unknown profile keys, IMCLI_* variables naming nothing) come first, one
    # line each; the contract below is about the rest
    lines = [line for line in lines[:-1] if not line.startswith("imcli: warning: ")]
    if r.code in (2, 3):
        assert lines, where
        if lines[0].startswith("Usage: "):  # typer's usage error: the usage line + one error
            assert r.code == 2 and len(lines) == 2 and lines[1].startswith("Error: "), where
            assert r.stdout == "", where
        elif f & {"verbose", "dry"}:
            assert lines[-1].startswith("imcli: "), where
        else:
            assert len(lines) == 1 and lines[0].startswith("imcli: "), where
    elif r.code == 1 and not f & {"verbose", "dry"}:
        assert all(ERROR_LINE.match(line) for line in lines), where
    for line in lines:
        assert "\r" not in line, where
    walked = cmdline.walk(list(args), strict=False)
    is_push = walked is not None and len(walked.path) == 2 and walked.path[0] == "push"
    if is_push and "help" not in f and not (lines and lines[0].startswith("Usage: ")):
        # every push that got past argument parsing prints the count, or one JSON object
        assert r.stdout.endswith("\n") and r.stdout.count("\n") == 1, where
        body = r.stdout.strip()
        if not body.isdigit():
            assert isinstance(json.loads(body), dict), where


# -- 1. command lines ------------------------------------------------------------------------


@settings(FUZZ, max_examples=EXAMPLES * 3 // 2)
@given(data=st.data())
@example(data=None)  # the regression examples below, run first
def test_any_command_line(cli: Any, world: World, data: Any) -> None:
    if data is None:
        for args in (
            ["push", "image", "-p", "tg", "-u", "1", "a\0b"],  # was: internal error, exit 1
            ["push", "image", "-p", "tg", "-u", "1", "http://[::1"],  # was: internal error
            ["push", "image", "-p", "tg", "-u", "1", "~nosuchuser_fuzz/x"],  # was: exit 1
            ["push", "text", "-p", "tg", "-u", "1", "\udcff"],  # undecodable argv: was exit 1
            ["push", "text", "-p", "tg", "-u", "\udcff", "hi", "--json"],
            ["push", "text", "-p", "tg", "-u", "1 2", "hi"],  # was sent, and failed: exit 1
            ["push", "mixed", "-p", "tg", "-u", "1", "a\0b"],  # was: internal error
            ["--profile", "a\0b", "accounts", "add", "x", "-p", "tg", "--set", "token=1:a"],
            ["accounts", "add", "y", "-p", "tg", "--set", "token=\udcff"],  # was: traceback
            ["push", "text", "-p", "tg", "-u", "1", "-o", "k=" + "[" * 100_000, "hi"],
            ["push", "text", "-p", "tg", "-u", "1", "--bo\ngus"],
        ):
            world.reset()
            check(run(cli, *args), args, world)
        return
    args = data.draw(S.argv(world.paths), label="argv")
    stdin = data.draw(
        st.sampled_from([b"", b"piped text", b"piped text", b"\xff\xfe\x00", b"[]", PNG]),
        label="stdin",
    )
    GENERATED["command lines"] += 1
    world.reset()
    r = run(cli, *args, input=stdin)
    check(r, args, world)


# -- 2. mixed items --------------------------------------------------------------------------


@FUZZ
@given(data=st.data())
def test_any_mixed_items_document(cli: Any, world: World, data: Any) -> None:
    sources = [world.local["a.png"], world.local["dir"], world.local["fifo"], "nope.png",
               "https://example.com/a.png", "-", "", "data:image/png;base64,iVBORw0KGgo="]  # fmt: skip
    doc = data.draw(S.items_document(sources), label="items")
    via_stdin = data.draw(st.booleans(), label="via stdin")
    GENERATED["mixed items documents"] += 1
    world.reset()
    if via_stdin:
        source, stdin = "-", doc.encode("utf-8", "surrogatepass")
    else:
        f = world.tmp / "items-fuzz.json"
        f.write_bytes(doc.encode("utf-8", "surrogatepass"))
        source, stdin = str(f), b""
    base = ("push", "mixed", "-p", "tg", "-u", "1", source, "--timeout", "3000")
    dry = run(cli, *base, "--dry-run", input=stdin)
    check(dry, (*base, "--dry-run"), world)
    assert world.requests() == [], "a dry run sent something"
    if dry.code == 0:
        return  # valid: the dry run showed it; sending it is the platform tests' business
    assert dry.code == 2, dry.stderr
    assert "item" in dry.stderr or "items" in dry.stderr or "JSON" in dry.stderr, dry.stderr
    real = run(cli, *base, input=stdin)
    check(real, base, world)
    assert (real.code, real.stderr) == (dry.code, dry.stderr)  # refused the same way, unsent


# -- 3. profiles -----------------------------------------------------------------------------


def _toml_error(text: str) -> str | None:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib

    try:
        tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        return str(exc)
    except RecursionError:
        return "nested too deeply"
    return None


@FUZZ
@given(data=st.data())
@example(data="settings-inf").via("regression: settings.timeout = inf was an OverflowError")
@example(data="rate-nan").via("regression: rate = nan sent without a limit, inf crashed")
@example(data="deep").via("regression: a deeply nested array was a RecursionError traceback")
def test_any_profile(cli: Any, world: World, data: Any) -> None:
    if data == "settings-inf":
        text = world.tg_table + "[settings]\ntimeout = inf\n"
    elif data == "rate-nan":
        text = world.tg_table + "rate = nan\n"
    elif data == "deep":
        text = "a = " + "[" * 50_000 + "]" * 50_000 + "\n" + world.tg_table
    else:
        text = data.draw(
            S.profile_text([world.tg_table, world.qq_table], world.telegram.api_url),
            label="profile",
        )
    GENERATED["profiles"] += 1
    broken = _toml_error(text)
    for args in (
        ("push", "text", "-p", "tg", "-u", "1", "hi", "--timeout", "3000"),
        ("accounts", "list", "--json"),
    ):
        world.reset(text)
        r = run(cli, *args)
        check(r, args, world)
        if broken is not None:
            assert r.code == 3, (text, r.stderr)
            line = re.search(r"line (\d+)", broken)
            if line:  # the line number tomllib found is in the message
                assert f"line {line.group(1)}" in r.stderr, (text, r.stderr)
        elif args[0] == "push":
            assert r.code in (0, 1, 3), (text, r.stderr)  # a profile problem is exit 3
            if r.code == 0:
                assert len(world.delivered()) == 1


# -- 4. media sources ------------------------------------------------------------------------


def _expected_local(spec: str) -> bool | None:
    """True: a readable regular file; False: refused (exit 2); None: not a local path."""
    low = spec.strip().lower()
    if low.startswith(("http://", "https://", "data:", "base64://")) or spec.strip() == "-":
        return None
    raw = spec.strip()
    if low.startswith("file://"):
        return None  # (file:// is checked by imcli itself; its decoding is not repeated here)
    if not raw or "\0" in raw:
        return False
    try:
        p = Path(raw).expanduser()
        return p.is_file() and os.access(p, os.R_OK) and p.stat().st_size > 0
    except (OSError, RuntimeError, ValueError):
        return False


@FUZZ
@given(data=st.data())
def test_any_media_source(cli: Any, world: World, data: Any) -> None:
    spec = data.draw(S.media_source(world.local, closed_port=9), label="source")
    kind = data.draw(st.sampled_from(["image", "voice", "video", "file"]), label="kind")
    platform, target = data.draw(
        st.sampled_from([("tg", "1"), ("qq", "20001"), ("qq", "20002")]), label="platform"
    )
    GENERATED["media sources"] += 1
    world.reset()
    args = ("push", kind, "-p", platform, "-u", target, "--timeout", "2000", "--", spec)
    r = run(cli, *args, input=PNG)
    check(r, args, world)
    expected = _expected_local(spec)
    if expected is False:
        assert r.code == 2, (spec, r.stderr)
    if r.code == 0:
        assert len(world.delivered()) >= 1


# -- the hard cases, one by one ------------------------------------------------------------


def _one_error(r: Any, code: int, needle: str) -> None:
    assert (r.code, r.stdout) == (code, "0\n"), r.stderr
    assert r.stderr.count("\n") == 1 and r.stderr.startswith("imcli: "), r.stderr
    assert needle in r.stderr, r.stderr


@pytest.mark.parametrize("tty,stdin", [(True, ""), (False, ""), (False, " \n\t\n")])
def test_empty_text_is_refused(cli, world, tty, stdin):
    r = run(cli, "push", "text", "-p", "tg", "-u", "1", input=stdin, tty=tty)
    _one_error(r, 2, "nothing to send")
    r = run(cli, "push", "text", "-p", "tg", "-u", "1", "", input=stdin, tty=tty)
    _one_error(r, 2, "nothing to send")
    assert world.requests() == []


def test_a_huge_text_of_several_megabytes(cli, world):
    huge = ("a line of a long log, with some words in it\n" * 100_000).encode()  # 4.4 MB
    # by default (--max-parts 10) the first part and the whole text attached: 2 requests
    r = run(cli, "push", "text", "-p", "tg", "-u", "1", "--dry-run", "--json", input=huge)
    assert r.code == 0, r.stderr[-500:]
    urls = [q["url"].rsplit("/", 1)[1] for q in json.loads(r.stdout)["requests"]]
    assert urls == ["sendMessage", "sendDocument"], urls
    started = time.monotonic()
    r = run(cli, "push", "text", "-p", "tg", "-u", "1", "--dry-run", "--json", "--max-parts",
            "0", input=huge)  # fmt: skip
    split = time.monotonic() - started  # reading and splitting 4.4 MB, here and now
    assert r.code == 0, r.stderr[-500:]
    plan = json.loads(r.stdout)
    parts = [q for q in plan["requests"] if q["url"].endswith("/sendMessage")]
    assert len(parts) > 1000  # split at line boundaries into messages of at most 4096
    assert all(len(q["body"]["text"]) <= 4096 for q in parts)
    assert world.requests() == []
    # for real: one message a second to one chat, so the budget runs out: exit 1, one line.
    # The budget is 6 s on the tests' clock (the waits are skipped) and twice the time the
    # dry run took to split the text, which a loaded machine makes longer: 1000 parts
    # would take 1000 s
    budget = 6.0 + 2 * split
    started = now()
    r = run(cli, "push", "text", "-p", "tg", "-u", "1", "--timeout", str(int(budget * 1000)),
            "--max-parts", "0", input=huge)  # fmt: skip
    elapsed = now() - started
    assert (r.code, r.stdout) == (1, "0\n"), r.stderr
    assert r.stderr.count("\n") == 1 and "telegram user:1: partly sent: " in r.stderr
    assert 1 <= len(world.delivered()) <= budget + 1  # it stopped: the rest was not sent
    assert elapsed < budget + 2.5, (elapsed, budget)  # and ended with its budget


@pytest.mark.parametrize(
    "args",
    [
        ("push", "text", "-p", "tg", "-u", "1"),
        ("push", "text", "-p", "tg", "-u", "1", "-"),
        ("push", "mixed", "-p", "tg", "-u", "1", "-"),
    ],
)
@pytest.mark.parametrize("data", [b"\xff\xfe", b"caf\xe9", b"ok\x80", b"\xed\xa0\x80"])
def test_invalid_utf8_on_stdin_is_refused(cli, world, args, data):
    r = run(cli, *args, input=data)
    _one_error(r, 2, "not UTF-8")
    assert world.requests() == []


def test_invalid_utf8_on_stdin_for_a_secret(cli, world):
    r = run(cli, "accounts", "add", "b", "-p", "tg", "--set", "token=-", input=b"\xff1:abc\n")
    assert (r.code, r.stdout) == (2, ""), r.stderr  # was: a UnicodeDecodeError traceback
    assert r.stderr.count("\n") == 1 and "not UTF-8" in r.stderr
    assert "[accounts.b]" not in world.profile.read_text()


@pytest.mark.parametrize(
    "text", ["nul\0inside", "\x01\x02\x1b[31mred\x1b[0m\x7f", "bell\a", "\u202eevil", "\0"]
)
def test_control_characters_in_text_and_title_go_to_the_platform(cli, world, text):
    for args in (("-t", text, "body"), (text,), ("-t", "title", text)):
        world.reset()
        r = run(cli, "push", "text", "-p", "tg", "-u", "1", *args)
        assert (r.code, r.stdout, r.stderr) == (0, "1\n", ""), r.stderr
        [sent] = world.telegram.sent_messages()
        assert text.strip() in sent.fields["text"]


@pytest.mark.parametrize("bad", ["1\0", "1\n2", "\x1b[2J", "1\t", "a\u2028b", "1\x7f"])
@pytest.mark.parametrize("platform", ["tg", "qq", "slack", "lark", "wecom", "wechat"])
def test_control_characters_in_ids_are_refused(cli, world, platform, bad):
    r = run(cli, "push", "text", "-p", platform, "-u", bad, "hi")
    _one_error(r, 2, "space or control character")
    assert world.requests() == []


@pytest.mark.parametrize(
    "platform,kind,ids",
    [
        ("tg", "-u", ["1 2", " 1", "1 ", "@chan name"]),
        ("tg", "-g", ["-100 123"]),
        ("qq", "-u", ["20001 20002", "\u3000 20001"]),
        ("qq", "-g", ["30001 "]),
        ("slack", "-g", ["C1 C2"]),
        ("lark", "-u", ["ou_1 ou_2", "a b@example.com"]),
        ("wecom", "-u", ["zhang san"]),
        ("wechat", "-u", ["o abc"]),
    ],
)
def test_ids_with_spaces_are_refused_per_platform(cli, world, platform, kind, ids):
    """No platform has ids with spaces: `-u "1 2"` is a quoting mistake, refused before
    anything is sent (before, Telegram got the request and said "chat not found")."""
    for bad in ids:
        r = run(cli, "push", "text", "-p", platform, kind, bad, "hi")
        _one_error(r, 2, "space")
        assert repr(bad) in r.stderr
    assert world.requests() == []


def test_an_account_name_with_spaces(cli, world):
    r = run(cli, "push", "text", "-a", "ops bot", "-u", "1", "hi")
    _one_error(r, 3, "'ops bot'")
    r = run(cli, "accounts", "add", "ops bot", "-p", "tg", "--set", "token=1:abc")
    assert (r.code, r.stderr.count("\n")) == (2, 1), r.stderr
    assert world.requests() == []


@pytest.mark.parametrize("where", ["media", "items", "item", "profile", "file-uri"])
def test_nul_bytes_in_paths(cli, world, where):
    args = {
        "media": ("push", "image", "-p", "tg", "-u", "1", "a.png\0x"),
        "items": ("push", "mixed", "-p", "tg", "-u", "1", "items\0.json"),
        "item": ("push", "mixed", "-p", "tg", "-u", "1", "--item", "file=a\0b"),
        "profile": ("push", "text", "-p", "tg", "-u", "1", "hi", "--profile", "p\0.toml"),
        "file-uri": ("push", "file", "-p", "tg", "-u", "1", "file:///tmp/a%00b"),
    }[where]
    r = run(cli, *args)
    assert r.code == (3 if where == "profile" else 2), r.stderr  # was: internal error, exit 1
    assert r.stderr.count("\n") == 1 and ("NUL" in r.stderr or "null" in r.stderr), r.stderr
    assert world.requests() == []


def test_deeply_nested_items_json_is_refused(cli, world, tmp_path):
    deep = "[" * 200_000 + "]" * 200_000
    f = tmp_path / "deep.json"
    f.write_text(deep)
    for source, stdin in ((str(f), ""), ("-", deep)):
        r = run(cli, "push", "mixed", "-p", "tg", "-u", "1", source, input=stdin)
        _one_error(r, 2, "nested too deeply")  # was: "internal error: RecursionError", exit 1
    nested_item = json.dumps([{"type": "text", "text": "x", "extra": [[[[[[[[[[1]]]]]]]]]]}])
    f.write_text(nested_item)
    r = run(cli, "push", "mixed", "-p", "tg", "-u", "1", str(f), "--dry-run")
    assert r.code == 0, r.stderr  # nesting where imcli does not look is no problem
    assert world.requests() == []


def test_a_directory_as_media_source_items_file_and_profile(cli, world, tmp_path):
    d = world.local["dir"]
    _one_error(run(cli, "push", "image", "-p", "tg", "-u", "1", d), 2, "not a regular file")
    _one_error(run(cli, "push", "file", "-p", "qq", "-u", "20001", f"file://{d}"), 2, "regular")
    _one_error(run(cli, "push", "mixed", "-p", "tg", "-u", "1", d), 2, "Is a directory")
    _one_error(
        run(cli, "push", "text", "-p", "tg", "-u", "1", "x", "--profile", d), 3, "not a file"
    )
    assert world.requests() == []


@pytest.mark.timeout(60)
def test_a_fifo_never_hangs(cli_proc, world):
    """A FIFO with no writer: as media it is refused (not a regular file); as ITEMS it
    reads as empty; as the profile it is refused. Each in a real process with a deadline."""
    fifo = world.local["fifo"]
    cases = [
        (("push", "image", "-p", "tg", "-u", "1", fifo), 2, "not a regular file"),
        (("push", "mixed", "-p", "tg", "-u", "1", fifo), 2, "empty"),  # was: hung forever
        (("push", "mixed", "-p", "tg", "-u", "1", "--item", f"file={fifo}"), 2, "regular"),
        (("push", "text", "-p", "tg", "-u", "1", "hi", "--profile", fifo), 3, "not a file"),
    ]
    for args, code, needle in cases:
        r = cli_proc(*args, timeout=20, env={"IMCLI_PROFILE": str(world.profile)})
        _one_error(r, code, needle)
    assert world.requests() == []


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc/self/fd")
def test_a_pipe_with_a_writer_is_read_as_items(cli, world):
    """What `imcli push mixed … <(jq …)` gives: a pipe that has a writer is read to its end."""
    r_fd, w_fd = os.pipe()
    doc = json.dumps([{"type": "text", "text": "from a pipe"}]).encode()

    def writer() -> None:
        time.sleep(0.2)  # imcli is already waiting for it
        os.write(w_fd, doc)
        os.close(w_fd)

    t = threading.Thread(target=writer)
    t.start()
    try:
        r = run(cli, "push", "mixed", "-p", "tg", "-u", "1", f"/proc/self/fd/{r_fd}")
    finally:
        t.join()
        os.close(r_fd)
    assert (r.code, r.stdout) == (0, "1\n"), r.stderr
    assert "from a pipe" in world.telegram.sent_messages()[0].fields["text"]


def test_a_file_that_disappears_while_being_read(cli, world, monkeypatch, tmp_path):
    """The file was there when the source was checked and is gone when it is uploaded:
    exit 2 naming it (before: "internal error: FileNotFoundError"), nothing sent."""
    from imcli import media

    f = tmp_path / "vanishing.png"
    parse = media.parse

    def parse_then_vanish(*a: Any, **kw: Any) -> Any:
        src = parse(*a, **kw)
        f.unlink(missing_ok=True)
        return src

    monkeypatch.setattr(media, "parse", parse_then_vanish)
    for args in (
        ("push", "image", "-p", "tg", "-u", "1", str(f)),
        ("push", "file", "-p", "tg", "-u", "1", "-u", "2", str(f)),
        ("push", "image", "-p", "qq", "-u", "20001", str(f)),
    ):
        f.write_bytes(PNG)
        world.reset()
        r = run(cli, *args)
        _one_error(r, 2, "vanishing.png: cannot read it (No such file or directory)")
        assert world.sends() == []
    # a mixed message whose text went out first: that target failed, exit 1, one line
    f.write_bytes(PNG)
    world.reset()
    r = run(cli, "push", "mixed", "-p", "tg", "-u", "1", "--item", "text=x", "--item", f"image={f}")
    assert (r.code, r.stdout) == (1, "0\n"), r.stderr
    assert (
        r.stderr
        == "telegram user:1: image: vanishing.png: cannot read it (No such file or directory)\n"
    )


def test_a_file_that_shrinks_while_being_read(cli, world, monkeypatch, tmp_path):
    """Truncated between the size check and the upload: whatever is left is sent, or the
    push fails; never a traceback."""
    from imcli import media

    f = tmp_path / "shrinking.png"
    parse = media.parse

    def parse_then_truncate(*a: Any, **kw: Any) -> Any:
        src = parse(*a, **kw)
        f.write_bytes(PNG[:12])
        return src

    monkeypatch.setattr(media, "parse", parse_then_truncate)
    f.write_bytes(PNG + b"\0" * 100_000)
    args = ("push", "file", "-p", "tg", "-u", "1", str(f))
    r = run(cli, *args)
    check(r, args, world)
    assert r.code in (0, 1)


def test_an_unreadable_profile_chmod_000(cli, world):
    if os.geteuid() == 0:
        pytest.skip(
            "running as root: chmod 000 does not stop root from reading (see the simulated test)"
        )
    world.profile.chmod(0)
    try:
        r = run(cli, "push", "text", "-p", "tg", "-u", "1", "hi")
    finally:
        world.profile.chmod(0o600)
    _one_error(r, 3, "cannot read it")


def test_an_unreadable_profile_simulated(cli, world, monkeypatch):
    """The same as chmod 000, also under root: opening the profile fails with EACCES."""
    import builtins

    from imcli import profile as profile_mod

    real_open = builtins.open
    target = str(world.profile)

    def deny(file: Any, *a: Any, **kw: Any) -> Any:
        if str(file) == target:
            raise PermissionError(13, "Permission denied", target)
        return real_open(file, *a, **kw)

    monkeypatch.setattr(profile_mod, "open", deny, raising=False)
    for args in (
        ("push", "text", "-p", "tg", "-u", "1", "hi"),
        ("accounts", "list"),
        ("accounts", "add", "x", "-p", "tg", "--set", "token=1:abc"),
    ):
        r = run(cli, *args)
        assert r.code == 3 and r.stderr.count("\n") == 1, r.stderr
        assert "cannot read it: Permission denied" in r.stderr
    assert world.requests() == []


@pytest.mark.parametrize("how", ["flag", "env"])
def test_a_profile_that_is_a_directory(cli, world, monkeypatch, how):
    d = world.tmp / "profile-dir"
    d.mkdir()
    extra: tuple[str, ...] = ("--profile", str(d)) if how == "flag" else ()
    if how == "env":  # before: silently an empty profile, and `accounts add` a traceback
        monkeypatch.setenv("IMCLI_PROFILE", str(d))
    r = run(cli, "push", "text", "-p", "tg", "-u", "1", "hi", *extra)
    _one_error(r, 3, "is not a file")
    for args in (("accounts", "list"), ("accounts", "add", "x", "-p", "tg", "--set", "token=1:a")):
        r = run(cli, *args, *extra)
        assert (r.code, r.stderr.count("\n")) == (3, 1), r.stderr
        assert "is not a file" in r.stderr
    assert list(d.iterdir()) == []
    assert world.requests() == []


def test_a_var_loop_is_not_followed(cli, world, monkeypatch):
    """${A} → "${B}" → "${A}": expansion is one pass, so the token is the text "${B}"
    as written; Telegram refuses it; imcli neither loops nor prints a value."""
    monkeypatch.setenv("LOOP_A", "${LOOP_B}")
    monkeypatch.setenv("LOOP_B", "${LOOP_A}")
    monkeypatch.setenv("SELF", "${SELF}")
    for var in ("LOOP_A", "SELF"):
        world.reset(
            f'[accounts.loop]\nplatform = "telegram"\ntoken = "${{{var}}}"\n'
            f'base_url = "{world.telegram.api_url}"\n'
        )
        t0 = now()
        r = run(cli, "push", "text", "-p", "tg", "-u", "1", "hi")
        assert now() - t0 < 10
        assert (r.code, r.stdout) == (3, "0\n"), r.stderr  # the credentials were rejected
        assert "imcli accounts test" in r.stderr and "${" not in r.stderr
        paths = [q.path for q in world.requests()]
        assert paths and all(re.match(r"^/bot(\$|%24)(\{|%7B)", p) for p in paths), paths
        assert world.delivered() == []


def test_a_var_in_a_var_name_and_half_references(cli, world, monkeypatch):
    monkeypatch.setenv("TOKEN_PART", "1:abc")
    for value, code, needle in (
        ("${${TOKEN_PART}}", 3, None),  # not a name: kept as text, the token is refused
        ("${UNSET_FOR_SURE}", 3, "UNSET_FOR_SURE"),
        ("${", 3, None),
        ("$TOKEN_PART", 3, None),
    ):
        world.reset(
            f'[accounts.v]\nplatform = "telegram"\ntoken = "{value}"\n'
            f'base_url = "{world.telegram.api_url}"\n'
        )
        r = run(cli, "push", "text", "-p", "tg", "-u", "1", "hi")
        assert (r.code, r.stdout) == (code, "0\n"), (value, r.stderr)
        if needle:
            assert needle in r.stderr
        assert world.delivered() == []


@pytest.mark.parametrize(
    "text,line",
    [
        ('[accounts.a]\nplatform = "telegram"\ntoken = "abc\n', 3),
        ("[accounts.a]\nplatform = telegram\n", 2),
        ('[accounts.a]\n[accounts.a]\nplatform = "telegram"\n', 2),
        ("\n\n\n\n[accounts\n", 5),
        ('a = "\0"\n', 1),
    ],
)
def test_broken_toml_names_its_line(cli, world, text, line):
    world.reset(text)
    r = run(cli, "push", "text", "-p", "tg", "-u", "1", "hi")
    _one_error(r, 3, f"line {line}")
    assert world.requests() == []


def test_a_profile_that_is_not_utf8(cli, world):
    world.profile.write_bytes(b'[accounts.a]\nplatform = "telegram"\ntoken = "\xff"\n')
    r = run(cli, "push", "text", "-p", "tg", "-u", "1", "hi")
    _one_error(r, 3, "not UTF-8")


def test_undecodable_argv_in_a_real_process(cli_proc, world, tmp_path):
    """Bytes that are not UTF-8 on the command line (surrogate escapes in Python) are
    refused where they would go into a request, and printed escaped, not as a traceback."""
    import subprocess

    env = dict(os.environ, IMCLI_PROFILE=str(world.profile))
    (tmp_path / "x").write_bytes(PNG)
    for args in (
        [b"push", b"text", b"-p", b"tg", b"-u", b"1", b"caf\xe9"],
        [b"push", b"text", b"-p", b"tg", b"-u", b"1\xff", b"hi", b"--json"],
        [b"push", b"text", b"-p", b"tg", b"-u", b"1", b"-t", b"\xff", b"x"],
        [b"push", b"file", b"-p", b"tg", b"-u", b"1", b"--filename", b"\xff.txt", b"x"],
    ):
        p = subprocess.run([sys.executable, "-m", "imcli", *args], capture_output=True,
                           env=env, timeout=30, cwd=str(tmp_path))  # fmt: skip
        err = p.stderr.decode("utf-8", "replace")
        assert p.returncode == 2, err
        assert err.count("\n") == 1 and "Traceback" not in err, err
    assert world.requests() == []


def test_a_media_file_whose_name_is_not_utf8_is_sent(cli, world, tmp_path):
    name = os.fsdecode(b"caf\xe9.png")
    (tmp_path / name).write_bytes(PNG)
    r = run(cli, "push", "file", "-p", "tg", "-u", "1", name)
    assert (r.code, r.stdout) == (0, "1\n"), r.stderr
    [sent] = world.telegram.sent_messages()
    part = sent.fields["document"]
    assert part.filename.startswith("caf") and part.filename.endswith(".png")


def test_settings_and_rate_values_that_are_not_finite(cli, world):
    for extra, needle in (
        ("[settings]\ntimeout = inf\n", "settings.timeout"),
        ("[settings]\ntimeout = nan\n", "settings.timeout"),
        ("[accounts.ops-bot.x]\n", None),
    ):
        world.reset(world.tg_table + extra)
        r = run(cli, "push", "text", "-p", "tg", "-u", "1", "hi")
        check(r, ("push",), world)
        if needle:
            _one_error(r, 3, needle)
    for rate in ("nan", "inf", "-1", "-inf"):
        world.reset(world.tg_table + f"rate = {rate}\n")
        r = run(cli, "push", "text", "-p", "tg", "-u", "1", "-u", "2", "hi")
        _one_error(r, 3, "rate must be")
        assert world.requests() == []


def test_a_fifo_or_device_is_never_read_as_media(cli, world):
    for spec in (world.local["fifo"], "/dev/null", "/dev/zero", world.local["loop"],
                 world.local["dangling"]):  # fmt: skip
        r = run(cli, "push", "file", "-p", "tg", "-u", "1", spec)
        assert (r.code, r.stdout) == (2, "0\n"), (spec, r.stderr)
        assert r.stderr.count("\n") == 1
    assert world.requests() == []


def test_an_upper_case_url_scheme_reaches_the_platform_in_lower_case(cli, world):
    """imcli reads HTTP:// as a URL; OneBot servers only know http:// (before: the fake
    OneBot, like NapCat, failed it with "识别URL失败")."""
    r = run(cli, "push", "image", "-p", "qq", "-u", "20001", "HTTP://EXAMPLE.COM/A.PNG")
    assert (r.code, r.stdout) == (0, "1\n"), r.stderr
    [sent] = world.onebot.sent()
    assert "http://EXAMPLE.COM/A.PNG" in json.dumps(sent.message)
