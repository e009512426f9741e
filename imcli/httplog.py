"""What ``--verbose`` shows of a request: one line per request, and at ``-vv`` its
bodies, every secret masked before anything is cut."""

from __future__ import annotations

import json as jsonlib
from typing import Any

from imcli import _redact


def request_line(method: str, url: str, status: int | None, error: str | None, ms: float) -> str:
    """One ``-v`` line: the request, its answer's status (or what went wrong), the time."""
    outcome = str(status) if status is not None else (error or "error")
    return f"{method} {_redact.redact(url)} → {outcome} ({ms:.0f} ms)"


#: -vv: a body is shown at most this long (cut after masking)
BODY_LOG_LIMIT = 2000
_SECRET_KEY_PARTS = ("token", "secret", "password", "ticket")


def body_line(what: str, body: Any) -> str:
    """One ``-vv`` line: a request or response body, secrets masked, then cut short.

    Values under keys that name a credential (``access_token``, ``app_secret``, …) are
    masked even before imcli knows them (a token endpoint's answer), then every known
    secret is redacted; only then is the text cut."""
    if body is None or body == b"":
        return f"  {what} body: (empty)"
    if isinstance(body, (bytes, bytearray)):
        text = bytes(body).decode("utf-8", "replace")
        try:
            body = jsonlib.loads(text)
        except ValueError:
            body = text
    if not isinstance(body, str):
        body = jsonlib.dumps(_mask_secret_keys(body), ensure_ascii=False)
    shown = " ".join(_redact.redact(body).split())
    if len(shown) > BODY_LOG_LIMIT:
        shown = shown[:BODY_LOG_LIMIT] + f"… ({len(shown)} characters)"
    return f"  {what} body: {shown}"


def _mask_secret_keys(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            k: _redact.MASK
            if isinstance(k, str)
            and any(p in k.lower() for p in _SECRET_KEY_PARTS)
            and isinstance(v, str)
            else _mask_secret_keys(v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_mask_secret_keys(v) for v in value]
    return value
