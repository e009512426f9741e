"""Real TLS: a push over HTTPS to a fake server whose certificate the user trusts
through SSL_CERT_FILE, and a refusal of one it does not trust."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import TG_TOKEN, account_toml
from tests.fakes.telegram import FakeTelegram

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl")


@pytest.fixture(scope="module")
def cert(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    d = tmp_path_factory.mktemp("tls")
    crt, key = d / "cert.pem", d / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-keyout", str(key), "-out", str(crt), "-subj", "/CN=localhost",
         "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
        check=True, capture_output=True,
    )  # fmt: skip
    return str(crt), str(key)


@pytest.fixture
def https_telegram(cert: tuple[str, str]):
    server = FakeTelegram()
    server.tls = cert
    with server:
        yield server


def _profile(write_profile, server) -> Path:
    return write_profile(account_toml("telegram", "bot", token=TG_TOKEN, base_url=server.url))


def test_push_over_https_with_a_trusted_certificate(
    cli, write_profile, https_telegram, cert, monkeypatch, tmp_path
):
    monkeypatch.setenv("SSL_CERT_FILE", cert[0])
    _profile(write_profile, https_telegram)
    img = tmp_path / "a.png"
    img.write_bytes(b"\x89PNG\r\n\x1a\n" + b"x" * 5000)
    r = cli("push", "text", "-p", "tg", "-u", "1", "-u", "2", "over TLS")
    assert (r.code, r.stdout) == (0, "2\n"), r.stderr
    r = cli("push", "image", "-p", "tg", "-u", "3", str(img))
    assert (r.code, r.stdout) == (0, "1\n"), r.stderr
    assert [m.method for m in https_telegram.sent_messages()] == [
        "sendMessage",
        "sendMessage",
        "sendPhoto",
    ]


def test_untrusted_certificate_is_refused_not_ignored(
    cli, write_profile, https_telegram, monkeypatch
):
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    _profile(write_profile, https_telegram)
    r = cli("push", "text", "-p", "tg", "-u", "1", "must not arrive", "--timeout", "5000")
    assert r.code == 1
    assert "CERTIFICATE_VERIFY_FAILED" in r.stderr or "certificate" in r.stderr.lower()
    assert https_telegram.sent_messages() == []


def test_an_untrusted_certificate_is_one_clear_line_and_not_retried(
    cli, write_profile, https_telegram, monkeypatch
):
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    _profile(write_profile, https_telegram)
    r = cli("push", "text", "-p", "tg", "-u", "1", "must not arrive", "--timeout", "5000")
    assert (r.code, r.stdout) == (1, "0\n"), r.output
    [line] = r.stderr.splitlines()
    assert "TLS certificate" in line and "not trusted" in line and "SSL_CERT_FILE" in line, line
    assert "tries" not in line  # not "gave up after 3 tries"
    assert len(https_telegram.requests) == 0
