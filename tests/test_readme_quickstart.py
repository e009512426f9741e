"""The README's set-up commands and its Quick start, run as printed.

The two set-up commands (the README's first code block) and the Quick start block run in
order, in one bash session, in a copy of the checkout, with a fresh HOME: a new
virtualenv, imcli installed from the copy, then every Quick start command. Telegram is
the fake Bot API served over TLS as api.telegram.org: the session gets an HTTPS proxy
(a CONNECT tunnel to the fake) and trusts the fake's certificate through SSL_CERT_FILE,
so that not one printed command is changed. The only lines the test adds are between
the two blocks (those two environment variables) and the answer `read -rs` waits for.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from tests._media import PNG
from tests.conftest import ROOT, TG_TOKEN
from tests.fakes.telegram import FakeTelegram, every_url_ok


def _blocks(markdown: str) -> list[tuple[int, str]]:
    """Every ```sh block: (its offset, its text)."""
    return [(m.start(), m.group(1)) for m in re.finditer(r"```sh\n(.*?)```", markdown, re.S)]


def readme_setup_and_quick_start() -> tuple[str, str]:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = _blocks(readme)
    quick = readme.index("## Quick start")
    # the first block's first line installs imcli and runs it; its second runs the tests
    install, tests = blocks[0][1].splitlines()[:2]
    assert "pip install -e '.[test]'" in tests and "pytest" in tests
    setup = install + "\n"
    start = next(text for at, text in blocks if at > quick)
    return setup, start


class ConnectProxy:
    """An HTTPS proxy that tunnels CONNECT api.telegram.org:443 to the fake Telegram and
    refuses every other host (403)."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.tunnels: list[str] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def close(self) -> None:
        self.sock.close()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = conn.recv(4096)
            if not chunk:
                conn.close()
                return
            head += chunk
        line = head.split(b"\r\n", 1)[0].decode("latin-1").split()
        if len(line) < 2 or line[0] != "CONNECT" or line[1] != "api.telegram.org:443":
            conn.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
            conn.close()
            return
        self.tunnels.append(line[1])
        upstream = socket.create_connection(("127.0.0.1", self.target_port))
        conn.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")

        def pipe(a: socket.socket, b: socket.socket) -> None:
            try:
                while data := a.recv(65536):
                    b.sendall(data)
            except OSError:
                pass
            finally:
                for s in (a, b):
                    try:
                        s.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass

        threading.Thread(target=pipe, args=(upstream, conn), daemon=True).start()
        pipe(conn, upstream)


def _can_make_a_venv(tmp: Path) -> bool:
    proc = subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", str(tmp / "probe")],
        capture_output=True,
        timeout=120,
    )
    return proc.returncode == 0 and shutil.which("bash") is not None


def test_readme_setup_and_quick_start_work_as_printed(tmp_path):
    if not _can_make_a_venv(tmp_path):
        pytest.skip("a virtualenv cannot be created here")
    if shutil.which("openssl") is None:
        pytest.skip("needs openssl for the fake api.telegram.org certificate")
    setup, quick = readme_setup_and_quick_start()
    assert "python3 -m venv .venv" in setup and "imcli" in quick
    assert "read -rs TELEGRAM_BOT_TOKEN" in quick

    crt, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-keyout", str(key), "-out", str(crt), "-subj", "/CN=api.telegram.org",
         "-addext", "subjectAltName=DNS:api.telegram.org"],
        check=True, capture_output=True,
    )  # fmt: skip
    repo = tmp_path / "imcli"
    files = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True
    ).stdout.split(b"\0")
    for name in filter(None, files):
        src = ROOT / name.decode()
        if src.is_file():
            dst = repo / name.decode()
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst)
    (repo / "chart.png").write_bytes(PNG)  # the Quick start's ./chart.png
    home = tmp_path / "fresh-home"
    home.mkdir()
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "python3").symlink_to(sys.executable)  # the python3 the README calls

    telegram = FakeTelegram(url_fetcher=every_url_ok)
    telegram.tls = (str(crt), str(key))
    with telegram:
        proxy = ConnectProxy(telegram.port)
        try:
            script = tmp_path / "readme.sh"
            script.write_text(
                "set -euo pipefail\n"
                + setup
                + f"export HTTPS_PROXY=http://127.0.0.1:{proxy.port} SSL_CERT_FILE={crt}\n"
                + quick,
                encoding="utf-8",
            )
            env = {
                k: v
                for k, v in os.environ.items()
                if not k.startswith(("IMCLI_", "XDG_", "VIRTUAL_ENV", "PYTHON"))
                and k.upper() not in ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY", "NO_PROXY")
            }
            env.update(HOME=str(home), PATH=f"{bindir}{os.pathsep}{env.get('PATH', '')}")
            proc = subprocess.run(
                ["bash", str(script)],
                input=TG_TOKEN + "\n",  # what the user pastes at `read -rs`
                capture_output=True,
                text=True,
                cwd=repo,
                env=env,
                timeout=600,
            )
        finally:
            proxy.close()
        sent = telegram.sent_messages()
        calls = [c.path.rsplit("/", 1)[-1] for c in telegram.calls()]
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert TG_TOKEN not in proc.stdout + proc.stderr
    assert proxy.tunnels, "imcli did not reach the fake api.telegram.org"
    assert "getMe" in calls  # imcli accounts test
    assert "online" in proc.stdout
    texts = [m.fields.get("text") for m in sent if m.method == "sendMessage"]
    assert "backup finished" in texts
    assert "disk almost full" in [t.strip() if t else t for t in texts]
    assert any(t and t.startswith("<b>Disk</b>\n") for t in texts)  # df -h with a title
    assert [m.method for m in sent].count("sendPhoto") == 1
    assert [m.method for m in sent].count("sendDocument") == 1
    # the profile the Quick start wrote holds the reference, not the token
    profile = home / ".config" / "imcli" / "profile.toml"
    text = profile.read_text()
    assert "${TELEGRAM_BOT_TOKEN}" in text and TG_TOKEN not in text
