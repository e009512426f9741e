"""Shared fixtures: an isolated environment, a profile writer, and the CLI runners.

``cli(...)`` runs imcli's real entry point in this process (stdin, stdout, stderr and
sys.exit captured); ``cli_proc(...)`` runs ``python -m imcli`` as a subprocess, for what
only a real process shows (signals, start-up, imports).

The secrets check: every output of every imcli run in the suite (``cli``, ``cli_proc``,
and any ``subprocess`` a test starts that runs imcli) is scanned for every credential
the test set up (secret fields of the profiles, ``${VAR}`` values, ``IMCLI_*`` secrets,
``--set`` secrets, proxy passwords, tokens the fake servers handed out), raw and URL- or
JSON-encoded. A leak fails the test at the run that printed it. The session ends with a
summary line: "secrets check: N outputs, M bytes scanned, K credentials, 0 leaks", added
up over the pytest-xdist workers when the suite runs in several.
"""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus, unquote, urlsplit

import pytest

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


class _Stdin(io.TextIOWrapper):
    def __init__(self, data: bytes, tty: bool) -> None:
        super().__init__(io.BytesIO(data), encoding="utf-8")
        self._tty = tty

    def isatty(self) -> bool:
        return self._tty


# -- the secrets check ---------------------------------------------------------------------

#: shorter values are not checked: tests use words such as "t" or "secret" as credentials,
#: and those turn up in innocent output
MIN_SECRET_LEN = 8
_VAR_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_FAKE_TOKEN_ATTRS = ("tokens_issued", "tokens", "access_token", "current_token", "stable_token")


@dataclass
class SecretsSweep:
    outputs: int = 0
    scanned: int = 0  # bytes
    credentials: set[str] = field(default_factory=set)
    leaks: list[str] = field(default_factory=list)
    this_test: set[str] = field(default_factory=set)  # credentials looked for in this test


SWEEP = SecretsSweep()
_FAKES: list[Any] = []  # the fake servers the current test started


def _distinct(found: set[str], value: Any) -> None:
    if isinstance(value, str) and len(value.strip()) >= MIN_SECRET_LEN:
        found.add(value.strip())


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)


def _expanded(text: str, env: Mapping[str, str], found: set[str]) -> str | None:
    """``text`` with its ``${VAR}``s expanded (each value registered), None if one is unset."""
    missing = False

    def sub(m: re.Match[str]) -> str:
        nonlocal missing
        val = env.get(m.group(1))
        if val is None:
            missing = True
            return ""
        _distinct(found, val)
        return val

    out = _VAR_REF.sub(sub, text)
    return None if missing else out


def _url_password(found: set[str], url: Any) -> None:
    if isinstance(url, str) and "@" in url:
        try:
            password = urlsplit(url).password
        except ValueError:
            return
        _distinct(found, password)  # as written in the URL, and decoded
        _distinct(found, unquote(password) if password else None)


def _profile_credentials(path: Path, env: Mapping[str, str], found: set[str]) -> None:
    from imcli import platforms

    try:
        data = tomllib.loads(path.read_text("utf-8"))
    except (OSError, ValueError):  # missing, unreadable or not TOML: nothing to take
        return
    tables = data.get("accounts")
    settings = data.get("settings")
    if isinstance(settings, dict):
        proxy = settings.get("proxy")
        if isinstance(proxy, str):
            _url_password(found, _expanded(proxy, env, found))
    if not isinstance(tables, dict):
        return
    for table in tables.values():
        if not isinstance(table, dict):
            continue
        spec = platforms.find(str(table.get("platform", "")))
        secret = set(spec.secret_fields()) if spec is not None else _all_secret_fields()
        for key, val in table.items():
            for text in _strings(val):
                full = _expanded(text, env, found)  # every ${VAR} value is a secret
                if key in secret:
                    _distinct(found, full)
                elif key == "proxy":
                    _url_password(found, full)


def _all_secret_fields() -> set[str]:
    from imcli import platforms

    return {f for spec in platforms.all_specs() for f in spec.secret_fields()}


def _profile_paths(args: Iterable[str], env: Mapping[str, str], cwd: str | None) -> list[Path]:
    given: list[str] = []
    args = [str(a) for a in args]
    for i, a in enumerate(args):
        if a == "--profile" and i + 1 < len(args):
            given.append(args[i + 1])
        elif a.startswith("--profile="):
            given.append(a.split("=", 1)[1])
    if env.get("IMCLI_PROFILE"):
        given.append(env["IMCLI_PROFILE"])
    config = env.get("XDG_CONFIG_HOME") or str(Path(env.get("HOME", "~")) / ".config")
    given.append(str(Path(config) / "imcli" / "profile.toml"))
    paths: list[Path] = []
    for g in given:
        if "\0" in g:
            continue
        try:
            p = Path(g).expanduser()
        except RuntimeError:
            continue
        if not p.is_absolute():
            p = Path(cwd or os.getcwd()) / p
        paths += [p, p.with_name(p.name + ".bak")]
    return paths


def credentials(
    args: Iterable[str], env: Mapping[str, str], stdin: Any = None, cwd: str | None = None
) -> set[str]:
    """Every credential a run of imcli with these arguments and environment can know."""
    from imcli import platforms

    found: set[str] = set()
    args = [str(a) for a in args]
    for path in _profile_paths(args, env, cwd):
        _profile_credentials(path, env, found)
    for spec in platforms.all_specs():
        prefix = spec.env_prefix
        for fname in spec.secret_fields():
            _distinct(found, env.get(prefix + fname.upper()))
        _url_password(found, env.get(prefix + "PROXY"))
    secret = _all_secret_fields()
    for i, a in enumerate(args):  # accounts add --set token=…
        pair = args[i + 1] if a == "--set" and i + 1 < len(args) else None
        if pair is None and a.startswith("--set="):
            pair = a.split("=", 1)[1]
        if not pair or "=" not in pair:
            continue
        key, _, value = pair.partition("=")
        if key.strip() not in secret:
            continue
        if value == "-" and stdin:
            text = stdin.decode("utf-8", "replace") if isinstance(stdin, bytes) else str(stdin)
            value = text.splitlines()[0] if text.splitlines() else ""
        _distinct(found, _expanded(value, env, found))
    for fake in _FAKES:  # tokens the fake platforms handed out
        for attr in _FAKE_TOKEN_ATTRS:
            val = getattr(fake, attr, None)
            for tok in [val] if isinstance(val, str) else list(val or ()):
                _distinct(found, tok)
    return found


#: credentials whose tail is the secret part, which must not show even alone: a Telegram
#: bot token ``<bot id>:<secret>``, a Slack token ``xoxb-<team>-<bot>-<secret>``
_SECRET_TAIL = re.compile(r"\d+:(?P<tail>.+)|xox[a-z]-(?:[^-]+-)+(?P<slack>[^-]+)")


def _forms(secret: str) -> set[str]:
    whole = [secret]
    m = _SECRET_TAIL.fullmatch(secret)
    tail = m and (m.group("tail") or m.group("slack"))
    if tail and len(tail) >= MIN_SECRET_LEN:
        whole.append(tail)
    return {
        form
        for s in whole
        for form in (s, quote(s, safe=""), quote(s), quote_plus(s), json.dumps(s)[1:-1])
    }


def assert_swept(*secrets: str) -> None:
    """Fail unless the automatic secrets check looked for each of ``secrets`` in the
    outputs of this test's imcli runs (each output was scanned for them then: a leak would
    already have failed the run that printed it)."""
    for secret in secrets:
        assert len(secret.strip()) >= MIN_SECRET_LEN, f"{secret[:3]}…: too short to be checked"
    missing = [f"{s[:3]}…" for s in secrets if s.strip() not in SWEEP.this_test]
    assert not missing, f"the secrets check never looked for {missing}"


def check_no_secret(what: Iterable[str], creds: set[str], **streams: str | bytes | None) -> None:
    """Fail (naming the test) when any credential appears in any of the streams."""
    test = os.environ.get("PYTEST_CURRENT_TEST", "?").rsplit(" ", 1)[0]
    command = " ".join(str(a) for a in what)
    SWEEP.outputs += 1
    SWEEP.credentials |= creds
    SWEEP.this_test |= creds
    for name, text in streams.items():
        if text is None:
            continue
        if isinstance(text, bytes):
            text = text.decode("utf-8", "replace")
        SWEEP.scanned += len(text.encode("utf-8", "replace"))
        for cred in sorted(creds):
            for form in _forms(cred):
                at = text.find(form)
                if at < 0:
                    continue
                context = text[max(0, at - 80) : at + len(form) + 80].replace(form, "<CREDENTIAL>")
                SWEEP.leaks.append(f"{test}: {name} of `{command[:200]}`")
                raise AssertionError(
                    f"secret leak in {test}: a credential ({cred[:3]}…, {len(cred)} chars) "
                    f"appears in the {name} of `{command[:200]}`: …{context}…"
                )


def _is_imcli(args: Any) -> bool:
    words = [str(a) for a in args] if isinstance(args, (list, tuple)) else [str(args)]
    return any(w == "imcli" or w.startswith("imcli.") or "imcli" in w for w in words)


def _credential_digests() -> list[str]:
    import hashlib

    return sorted(hashlib.sha256(c.encode()).hexdigest() for c in SWEEP.credentials)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """``-n auto``: three workers a CPU. The suite waits on subprocesses, sockets and real
    signals for about half its time, so one worker a CPU leaves the CPUs half idle (on 2
    CPUs: 148 s with 2 workers, 94 s with 4, 76-79 s with 6, 87 s with 8)."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return 3 * (cpus or 1)


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Under pytest-xdist, a worker hands its part of the sweep to the controller (the
    credentials as digests: several workers see the same ones)."""
    out = getattr(session.config, "workeroutput", None)
    if out is not None:
        out["secrets_sweep"] = {
            "outputs": SWEEP.outputs,
            "scanned": SWEEP.scanned,
            "credentials": _credential_digests(),
            "leaks": list(SWEEP.leaks),
        }


_WORKER_DIGESTS: set[str] = set()


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    """The controller adds up what each worker scanned (pytest-xdist's hook)."""
    part = getattr(node, "workeroutput", {}).get("secrets_sweep")
    if part is None:
        return
    SWEEP.outputs += part["outputs"]
    SWEEP.scanned += part["scanned"]
    _WORKER_DIGESTS.update(part["credentials"])
    SWEEP.leaks.extend(part["leaks"])


def pytest_terminal_summary(terminalreporter: Any) -> None:
    credentials = len(_WORKER_DIGESTS | set(_credential_digests()))
    terminalreporter.write_line(
        f"secrets check: {SWEEP.outputs} outputs, {SWEEP.scanned} bytes scanned, "
        f"{credentials} credentials, {len(SWEEP.leaks)} leaks"
    )


@pytest.fixture(autouse=True)
def _secrets_check(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Scan the output of every imcli subprocess the test runs; track its fake servers."""
    from tests.fakes.base import FakeServer

    _FAKES.clear()
    SWEEP.this_test.clear()
    start = FakeServer.start

    def tracked_start(self: Any) -> Any:
        _FAKES.append(self)
        return start(self)

    monkeypatch.setattr(FakeServer, "start", tracked_start)
    init = subprocess.Popen.__init__
    communicate = subprocess.Popen.communicate

    def popen_init(self: Any, args: Any, *a: Any, **kw: Any) -> None:
        init(self, args, *a, **kw)
        if _is_imcli(args):
            env = kw.get("env") or dict(os.environ)
            cwd = kw.get("cwd")
            self._imcli_check = (env, None if cwd is None else str(cwd))
            self._imcli_creds = credentials(args, env, cwd=self._imcli_check[1])

    def popen_communicate(self: Any, input: Any = None, timeout: float | None = None) -> Any:
        out, err = communicate(self, input, timeout)
        check = getattr(self, "_imcli_check", None)
        if check is not None:
            env, cwd = check
            argv = self.args if isinstance(self.args, (list, tuple)) else [self.args]
            creds = self._imcli_creds | credentials(argv, env, input, cwd)
            check_no_secret(argv, creds, stdout=out, stderr=err)
        return out, err

    monkeypatch.setattr(subprocess.Popen, "__init__", popen_init)
    monkeypatch.setattr(subprocess.Popen, "communicate", popen_communicate)
    yield
    _FAKES.clear()


@pytest.fixture(autouse=True)
def clock(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """imcli's waits (rate-limit windows, retry backoff, Retry-After, the time budget) in
    this process go through a clock that skips them instead of sleeping: the rules are
    checked in the clock's time (``clock.now()``, and ``Recorded.arrived`` of the fake
    servers). A test marked ``real_clock`` keeps the system's clock (a fake server that
    enforces a rate limit on real arrival times)."""
    from imcli import ratelimit
    from tests._clock import VirtualClock
    from tests.fakes import base

    if request.node.get_closest_marker("real_clock"):
        yield ratelimit.SYSTEM_CLOCK
        return
    virtual = VirtualClock()
    monkeypatch.setattr(base, "clock", virtual.now)
    previous = ratelimit.set_default_clock(virtual)
    try:
        yield virtual
    finally:
        ratelimit.set_default_clock(previous)


def now() -> float:
    """The time on the clock imcli waits with (see the ``clock`` fixture): what a test
    measures imcli's waits and time budget in."""
    from imcli import ratelimit

    return ratelimit.default_clock().now()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "real_clock: imcli waits on the system clock (see the clock fixture)"
    )


@pytest.fixture(autouse=True)
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """No test sees the user's profile, cache or IMCLI_* variables."""
    for key in list(os.environ):
        if key.startswith("IMCLI_"):
            monkeypatch.delenv(key)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / ".cache"))
    monkeypatch.setenv("IMCLI_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("IMCLI_PROFILE", str(tmp_path / "profile.toml"))
    from imcli import _log, _redact

    _log._seen.clear()
    _redact.clear()  # each CLI run is its own process: no secret carries over
    yield tmp_path


@pytest.fixture
def profile_path(tmp_path: Path) -> Path:
    return tmp_path / "profile.toml"


@pytest.fixture
def write_profile(profile_path: Path) -> Any:
    """write_profile(text) writes the profile (mode 0600) and returns its path."""

    def write(text: str, mode: int = 0o600) -> Path:
        profile_path.write_text(text, encoding="utf-8")
        profile_path.chmod(mode)
        return profile_path

    return write


def account_toml(platform: str, name: str, /, **fields: Any) -> str:
    """One ``[accounts.NAME]`` table of *platform*, its fields in the order given: strings
    quoted (TOML's basic strings escape as JSON does), numbers and booleans bare."""
    lines = [f"[accounts.{name}]", f"platform = {_toml_value(platform)}"]
    lines += [f"{key} = {_toml_value(value)}" for key, value in fields.items()]
    return "\n".join(lines) + "\n"


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    return json.dumps(str(value), ensure_ascii=False)


@pytest.fixture
def account_profile(write_profile: Any) -> Any:
    """account_profile(platform, name, **fields) writes a profile (mode 0600) holding that
    one account, e.g. ``base_url=fake.url`` to send to a fake, and returns its path."""

    def write(platform: str, name: str, /, **fields: Any) -> Path:
        return write_profile(account_toml(platform, name, **fields))

    return write


def run_in_process(*args: str, input: str | bytes | None = None, tty: bool = False) -> Result:
    from imcli import _log, _redact
    from imcli.cli.main import main

    _redact.clear()  # each CLI run is its own process: no secret or warning carries over
    _log._seen.clear()
    data = input.encode() if isinstance(input, str) else (input or b"")
    creds = credentials(args, os.environ, data)
    out_buf, err_buf = io.BytesIO(), io.BytesIO()
    out = io.TextIOWrapper(out_buf, encoding="utf-8", write_through=True)
    err = io.TextIOWrapper(err_buf, encoding="utf-8", write_through=True)
    saved = sys.stdin, sys.stdout, sys.stderr
    sys.stdin, sys.stdout, sys.stderr = _Stdin(data, tty), out, err
    code = 0
    try:
        main(list(args))
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    finally:
        sys.stdin, sys.stdout, sys.stderr = saved
    result = Result(code, out_buf.getvalue().decode(), err_buf.getvalue().decode())
    creds |= credentials(args, os.environ, data)
    check_no_secret(["imcli", *args], creds, stdout=result.stdout, stderr=result.stderr)
    return result


@pytest.fixture
def cli() -> Any:
    return run_in_process


def run_process(
    *args: str, input: str | None = None, env: dict[str, str] | None = None, timeout: float = 60
) -> Result:
    full_env = dict(os.environ)
    full_env.update(env or {})
    proc = subprocess.run(
        [sys.executable, "-m", "imcli", *args],
        input=input if input is not None else "",
        capture_output=True,
        text=True,
        env=full_env,
        timeout=timeout,
        cwd=str(ROOT),
    )
    return Result(proc.returncode, proc.stdout, proc.stderr)


@pytest.fixture
def cli_proc() -> Any:
    return run_process


@pytest.fixture
def telegram() -> Iterator[Any]:
    from tests.fakes.telegram import FakeTelegram

    with FakeTelegram() as server:
        yield server


TG_TOKEN = "123456:TEST-fake-telegram-token"


@pytest.fixture
def tg_profile(account_profile: Any, telegram: Any) -> Path:
    """A profile with one Telegram account pointing at the fake server."""
    return account_profile("telegram", "ops-bot", token=TG_TOKEN, base_url=telegram.api_url)


@pytest.fixture
def no_ffmpeg(monkeypatch: pytest.MonkeyPatch) -> None:
    """No ffmpeg anywhere (neither on PATH nor from imageio-ffmpeg)."""
    import imcli.media.convert

    monkeypatch.setattr(imcli.media.convert, "ffmpeg_path", lambda: None)
