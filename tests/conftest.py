"""Shared fixtures: an isolated environment, a profile writer, and the CLI runners.

``cli(...)`` runs imcli's real entry point in this process (stdin, stdout, stderr and
sys.exit captured); ``cli_proc(...)`` runs ``python -m imcli`` as a subprocess, for what
only a real process shows (signals, start-up, imports).
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

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


def run_in_process(*args: str, input: str | bytes | None = None, tty: bool = False) -> Result:
    from imcli.cli.main import main

    data = input.encode() if isinstance(input, str) else (input or b"")
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
    return Result(code, out_buf.getvalue().decode(), err_buf.getvalue().decode())


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
def tg_profile(write_profile: Any, telegram: Any) -> Path:
    """A profile with one Telegram account pointing at the fake server."""
    return write_profile(
        f'[accounts.ops-bot]\nplatform = "telegram"\ntoken = "{TG_TOKEN}"\n'
        f'base_url = "{telegram.api_url}"\n'
    )
