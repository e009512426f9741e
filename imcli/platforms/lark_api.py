"""Lark's Open Platform on the wire (the rules are in :mod:`imcli.platforms.lark`):
the API paths, the ``{code, msg, data}`` answers and the tenant token's, the message
contents (``text``, ``post`` with ``img``) and their JSON body sizes, and which
``receive_id_type`` and ``file_type`` go with a target and a file. The custom bot
(:mod:`imcli.platforms.lark_robot`) posts the same ``post`` content."""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

from imcli.errors import AccountOffline, PlatformError, RetryableError
from imcli.platforms.base import json_object

if TYPE_CHECKING:
    import httpx

    from imcli.media import MediaSource

KB = 1 << 10
TOKEN_PATH = "/open-apis/auth/v3/tenant_access_token/internal"
MESSAGES_PATH = "/open-apis/im/v1/messages"
IMAGES_PATH = "/open-apis/im/v1/images"
FILES_PATH = "/open-apis/im/v1/files"
#: request-body limits of the send API, with room for receive_id, uuid and -o fields
TEXT_BODY_LIMIT = 150 * KB - 2 * KB
POST_BODY_LIMIT = 30 * KB - 2 * KB
#: "the access token is missing / invalid / expired": fetch a new one, try again
TOKEN_CODES = frozenset({99991661, 99991663, 99991668})
RATE_CODE = 99991400
CHAT_RATE_CODE = 230020
#: file_type for ``push file`` by extension
FILE_TYPES = {
    "pdf": "pdf",
    "doc": "doc",
    "docx": "doc",
    "xls": "xls",
    "xlsx": "xls",
    "ppt": "ppt",
    "pptx": "ppt",
}
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
JSON = "application/json; charset=utf-8"


def receive_id_type(target_id: str) -> str:
    """``receive_id_type`` for a target id."""
    tid = target_id.strip()
    if tid.startswith("ou_"):
        return "open_id"
    if tid.startswith("on_"):
        return "union_id"
    if tid.startswith("oc_"):
        return "chat_id"
    if EMAIL.match(tid):
        return "email"
    return "chat_id"


def file_type_for(src: MediaSource) -> str:
    if src.kind == "voice":
        return "opus"
    if src.kind == "video":
        return "mp4"
    return FILE_TYPES.get(src.extension, "stream")


def dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


def body_bytes(obj: Any) -> bytes:
    return dumps(obj).encode("utf-8")


class TokenRejected(PlatformError):
    """The API refused the tenant_access_token: fetch a new one and try again."""


def error_text(data: dict[str, Any], status: int) -> tuple[Any, str]:
    code = data.get("code", status)
    msg = str(data.get("msg") or "error").strip()
    return code, f"{msg} ({code})"


def parse_reply(resp: httpx.Response) -> dict[str, Any]:
    """``{code: 0, msg, data}`` → data; errors raised as the retry rules need them."""
    from imcli.http import retry_after_header

    reset = retry_after_header(resp, "x-ogw-ratelimit-reset")
    if resp.status_code == 429:
        try:
            data = resp.json()
        except ValueError:
            data = {}
        code, text = error_text(data if isinstance(data, dict) else {}, 429)
        raise RetryableError(text, retry_after=reset, code=code, status=429)
    data = json_object(resp)
    code, text = error_text(data, resp.status_code)
    if code == 0:
        payload = data.get("data")
        return payload if isinstance(payload, dict) else {}
    if code == RATE_CODE:
        raise RetryableError(text, retry_after=reset, code=code, status=resp.status_code)
    if code == CHAT_RATE_CODE:
        raise RetryableError(text, retry_after=reset, code=code, status=resp.status_code)
    if code in TOKEN_CODES:
        raise TokenRejected(text, code=code, status=resp.status_code)
    if resp.status_code >= 500:
        raise RetryableError(text, code=code, status=resp.status_code)
    raise PlatformError(text, code=code, status=resp.status_code)


def parse_token(resp: httpx.Response) -> tuple[str, float]:
    """The token endpoint: ``{code: 0, tenant_access_token, expire}``; any refusal is
    the credentials being rejected."""
    from imcli.http import retry_after_header

    reset = retry_after_header(resp, "x-ogw-ratelimit-reset")
    if resp.status_code == 429:
        raise RetryableError("request trigger frequency limit (429)", retry_after=reset, status=429)
    if resp.status_code >= 500:
        raise RetryableError(
            f"HTTP {resp.status_code}: {resp.reason_phrase}", status=resp.status_code
        )
    data = json_object(resp)
    code, text = error_text(data, resp.status_code)
    if code == RATE_CODE:
        raise RetryableError(text, retry_after=reset, code=code)
    token = data.get("tenant_access_token")
    if code == 0 and isinstance(token, str) and token:
        from imcli import _redact

        _redact.add_secret(token)
        expire = data.get("expire")
        lifetime = float(expire) if isinstance(expire, (int, float)) and expire > 0 else 3600.0
        return token, lifetime
    if code == 0:
        raise PlatformError("the token endpoint returned no tenant_access_token")
    raise AccountOffline(f"tenant_access_token: {text}", reason="credentials", code=code)


def img(image_key: str) -> dict[str, Any]:
    return {"tag": "img", "image_key": image_key}


def post(title: str | None, paragraphs: list[list[dict[str, Any]]]) -> dict[str, Any]:
    body: dict[str, Any] = {"content": paragraphs}
    if title:
        body = {"title": title, **body}
    return {"zh_cn": body}
