"""Process-wide registry of secret strings and the redaction applied to every output.

Secrets are registered as soon as they are known: the expanded values of an account's
secret fields, the values of ``${VAR}`` references, tokens handed out by platforms.
Everything imcli prints (stdout, stderr, --verbose, --dry-run) and every exception
message goes through :func:`redact`.
"""

from __future__ import annotations

import json
import re
import threading
from urllib.parse import quote, quote_plus

MASK = "***"
_MIN_LEN = 4  # shorter strings would mask innocent text; they are not real secrets

_lock = threading.Lock()
_secrets: set[str] = set()
_ordered: list[str] = []


def add_secret(value: object) -> None:
    """Register a secret so that it never appears in any output."""
    if not isinstance(value, str):
        return
    value = value.strip()
    if len(value) < _MIN_LEN:
        return
    forms = {
        value,
        quote(value, safe=""),
        quote(value),
        quote_plus(value),  # query strings (httpx, urlencode): a space is "+"
        json.dumps(value)[1:-1],  # inside a JSON string: quotes, backslashes, \\uXXXX
        json.dumps(value, ensure_ascii=False)[1:-1],
    }
    with _lock:
        for form in forms:
            if form not in _secrets:
                _secrets.add(form)
                _ordered.append(form)
        _ordered.sort(key=len, reverse=True)


#: the password of a URL's user-info (``scheme://user:password@host``), whatever its length
_URL_PASSWORD = re.compile(r"(\b[A-Za-z][A-Za-z0-9+.-]*://[^/\s:@]*:)([^/\s@]+)@")


def redact(text: str) -> str:
    if not text:
        return text
    for secret in _ordered:
        if secret in text:
            text = text.replace(secret, MASK)
    if "@" in text and "://" in text:
        text = _URL_PASSWORD.sub(lambda m: m.group(1) + MASK + "@", text)
    return text


def shorten(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, masked first: a secret that straddles the
    cut must not leave its first half behind."""
    return redact(text)[:limit]


def mask(value: object) -> str:
    """How a secret field is shown in `accounts list`: a hint, never the value."""
    if not isinstance(value, str) or not value:
        return ""
    if value.startswith("${") and value.endswith("}"):
        return value  # a reference to the environment is not itself secret
    return MASK


def clear() -> None:
    """Forget every secret (tests and long-lived library users)."""
    with _lock:
        _secrets.clear()
        _ordered.clear()


def mask_url_password(url: object) -> object:
    """``http://user:secret@host`` → ``http://user:***@host`` (proxy URLs)."""
    if not isinstance(url, str) or "@" not in url:
        return url
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if not parts.password:
        return url
    host = parts.netloc.rsplit("@", 1)[1]
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:{MASK}@{host}"))
