"""A fake Lark / Feishu Open Platform (IM v1), strict about what it accepts.

imcli uses ``base_url = server.url``; the paths are open.feishu.cn's.

Sources:

- Token, "自建应用获取 tenant_access_token" (open.feishu.cn .../auth-v3/auth/tenant_access_token_internal):
  ``POST /open-apis/auth/v3/tenant_access_token/internal`` ``{app_id, app_secret}`` ->
  ``{"code": 0, "msg": "ok", "tenant_access_token": "t-…", "expire": 7200}``. A token with
  >= 30 min left is returned again (with the remaining ``expire``); with less, a new one is
  issued and the old one stays valid until it expires. Failures answer HTTP 200:
  unknown app_id -> ``{"code": 10003, "data": {}, "msg": "invalid param"}``; wrong secret
  -> ``{"code": 10014, "msg": "app secret invalid"}`` (the text live servers send; the 2022
  error-code table words 10014 "app unauthorized" / 10015 "wrong app secret").
- Gateway auth (Server Error Codes table, open.larksuite.com/document/ukTMukTMukTM/ugjM14COyUjL4ITN):
  HTTP 400 ``99991661`` "Missing access token for authorization. Please make a request
  with token attached." (also when the ``Bearer `` prefix is missing) and ``99991663``
  "Invalid access token for authorization. Please make a request with token attached.".
  Unknown path or wrong method: HTTP 404 ``text/plain`` "404 page not found".
- Rate limits ("频控策略", open.feishu.cn/document/server-docs/api-call-guide/frequency-control):
  HTTP 429 (older APIs 400) ``{"code": 99991400, "msg": "request trigger frequency limit"}``
  with ``x-ogw-ratelimit-limit`` and ``x-ogw-ratelimit-reset`` (seconds). Sending to one
  chat/user is limited to 5 QPS (send-message page); over it the message API answers
  HTTP 400 ``230020`` "This operation triggers the frequency limit.".
- Send message (im-v1/message/create): ``receive_id_type`` query parameter
  (open_id|union_id|user_id|email|chat_id); body ``receive_id``, ``msg_type``, ``content``
  (a JSON *string*), optional ``uuid`` (<= 50 chars, dedupes for 1 h). Text body <= 150 KB,
  post/card body <= 30 KB -> ``230025`` "The length of the message content reaches its
  limit.". ``230002`` "Bot/User can NOT be out of the chat." (chat), ``230013`` "Bot has NO
  availability to this user.", ``230055`` "The type of file upload does not match the type
  of message being sent.", ``230001`` "Your request contains an invalid request parameter,
  ext=invalid message content" (bad content). ``content`` sent as an object instead of a
  string: ``{"code": 9499, "msg": "Bad Request"}`` (larksuite/oapi-sdk-nodejs#24). Missing
  or invalid fields: ``99992402`` "field validation failed" with ``error.field_violations``.
- Upload image / file (im-v1/image/create, im-v1/file/create): ``234001`` "Invalid request
  param.", ``234006`` "The file size exceed the max value." (file 30 MB, image 10 MB),
  ``234010`` "File's size can't be 0.", ``234011`` "Can't regonnize the image format."
"""

from __future__ import annotations

import json
import re
import secrets
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

from .base import FakeServer, Recorded, Reply

TOKEN_PATH = "/open-apis/auth/v3/tenant_access_token/internal"
MESSAGES_PATH = "/open-apis/im/v1/messages"
IMAGES_PATH = "/open-apis/im/v1/images"
FILES_PATH = "/open-apis/im/v1/files"

MSG_MISSING_TOKEN = (
    "Missing access token for authorization. Please make a request with token attached."
)
MSG_INVALID_TOKEN = (
    "Invalid access token for authorization. Please make a request with token attached."
)
MSG_INVALID_PARAM = "Your request contains an invalid request parameter"

RECEIVE_ID_TYPES = ("open_id", "union_id", "user_id", "email", "chat_id")
RECEIVE_ID_PREFIX = {"open_id": "ou_", "union_id": "on_", "chat_id": "oc_"}
MSG_TYPES = {
    "text", "post", "image", "file", "audio", "media", "sticker", "interactive",
    "share_chat", "share_user", "system",
}  # fmt: skip
FILE_TYPES = ("opus", "mp4", "pdf", "doc", "xls", "ppt", "stream")
POST_TAGS = {"text", "a", "at", "img", "media", "emotion", "hr", "code_block", "md"}
TEXT_BODY_LIMIT = 150 * 1024
POST_BODY_LIMIT = 30 * 1024
IMAGE_LIMIT = 10 * 1024 * 1024
FILE_LIMIT = 30 * 1024 * 1024
TOKEN_REUSE_MIN = 30 * 60  # a token with at least this much left is handed out again

IMAGE_MAGIC = (
    b"\xff\xd8\xff",  # JPEG
    b"\x89PNG\r\n\x1a\n",
    b"GIF87a",
    b"GIF89a",
    b"BM",  # BMP
    b"\x00\x00\x01\x00",  # ICO
    b"II*\x00",  # TIFF
    b"MM\x00*",
)


class LarkMessage(NamedTuple):
    receive_id_type: str
    receive_id: str
    msg_type: str
    content: Any  # the parsed ``content`` JSON


@dataclass
class LarkUpload:
    kind: str  # "image" or "file"
    key: str
    size: int
    sha256: str
    data: bytes | None
    filename: str | None
    content_type: str | None
    image_type: str | None = None
    file_type: str | None = None
    file_name: str | None = None
    duration: int | None = None


@dataclass
class _Token:
    value: str
    expires_at: float  # time.monotonic()
    revoked: bool = False


def _is_image(data: bytes | None) -> bool:
    if data is None:  # too big to keep: the size check answers first
        return True
    if data.startswith(IMAGE_MAGIC):
        return True
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return True
    return data[4:8] == b"ftyp" and data[8:12] in (b"heic", b"heix", b"mif1", b"heif")


class FakeLark(FakeServer):
    def __init__(
        self,
        app_id: str = "cli_test_app",
        app_secret: str = "test-app-secret",
        *,
        expire: int = 7200,
        unknown_receive_ids: Iterable[str] = (),
        image_keys: Iterable[str] = (),
        file_keys: Mapping[str, str] | None = None,
        enforce_chat_rate: bool = False,
        chat_qps: int = 5,
        enforce_app_rate: bool = False,
        app_qps: int = 50,
        check_image_format: bool = True,
        tenant_key: str = "736588c9260f175e",
    ) -> None:
        super().__init__()
        self.app_id = app_id
        self.app_secret = app_secret
        self.expire = expire
        self.unknown_receive_ids = set(unknown_receive_ids)
        self.enforce_chat_rate = enforce_chat_rate
        self.chat_qps = chat_qps
        self.enforce_app_rate = enforce_app_rate
        self.app_qps = app_qps
        self.check_image_format = check_image_format
        self.tenant_key = tenant_key

        self.token_requests = 0  # every call to the token endpoint, failed ones included
        self.tokens_issued: list[str] = []
        self.uploads: dict[str, LarkUpload] = {}  # image_key / file_key -> upload
        self.rate_limited_count = 0
        self._state = threading.Lock()
        self._tokens: dict[str, _Token] = {}
        self._current: _Token | None = None
        self._records: list[dict[str, Any]] = []
        self._uuids: dict[str, tuple[float, dict[str, Any]]] = {}
        self._recent: dict[str, list[float]] = {}  # receive id -> send times
        self._app_recent: list[float] = []
        for key in image_keys:
            self.uploads[key] = LarkUpload("image", key, 1, "", None, None, None, "message")
        for key, ftype in (file_keys or {}).items():
            self.uploads[key] = LarkUpload("file", key, 1, "", None, None, None, None, ftype)

    # -- helpers for tests -----------------------------------------------------------
    def sent_messages(self) -> list[LarkMessage]:
        with self._state:
            return [
                LarkMessage(r["receive_id_type"], r["receive_id"], r["msg_type"], r["content"])
                for r in self._records
            ]

    def message_records(self) -> list[dict[str, Any]]:
        """Everything about each sent message (message_id, uuid, body size, chat_id, ...)."""
        with self._state:
            return [dict(r) for r in self._records]

    def expire_all_tokens(self) -> None:
        """Invalidate every token issued so far (calls with them get 99991663)."""
        with self._state:
            for tok in self._tokens.values():
                tok.revoked = True
            self._current = None

    def valid_tokens(self) -> list[str]:
        with self._state:
            now = time.monotonic()
            return [t.value for t in self._tokens.values() if self._alive(t, now)]

    @staticmethod
    def rate_limited(reset: int = 1, status: int = 429, limit: int = 50) -> Reply:
        """The gateway's rate-limit reply (HTTP 429, or 400 on older APIs), for queue()."""
        return Reply(
            status,
            json={"code": 99991400, "msg": "request trigger frequency limit"},
            headers={"x-ogw-ratelimit-limit": str(limit), "x-ogw-ratelimit-reset": str(reset)},
        )

    @staticmethod
    def error(code: int, msg: str, status: int = 400) -> Reply:
        """An error reply in Lark's shape, for queue()."""
        return _err(code, msg, status)

    # -- plumbing ----------------------------------------------------------------------
    @staticmethod
    def _alive(tok: _Token, now: float) -> bool:
        return not tok.revoked and now < tok.expires_at

    def bad_body(self, rec: Recorded, exc: Exception) -> Reply:
        if rec.path == TOKEN_PATH:
            return Reply(200, json={"code": 10003, "data": {}, "msg": "invalid param"})
        auth = self._check_auth(rec)
        if auth is not None:
            return auth
        if rec.path in (IMAGES_PATH, FILES_PATH):
            return _err(234001, "Invalid request param.")
        return _err(9499, "Bad Request")

    def handle(self, req: Recorded) -> Reply:
        routes = {
            TOKEN_PATH: self._token,
            MESSAGES_PATH: self._send,
            IMAGES_PATH: self._upload_image,
            FILES_PATH: self._upload_file,
        }
        path = req.path.rstrip("/")
        handler = routes.get(path)
        if handler is None or req.method != "POST":
            return Reply(404, body=b"404 page not found", headers={"Content-Type": "text/plain"})
        if path != TOKEN_PATH:
            auth = self._check_auth(req)
            if auth is not None:
                return auth
            if self.enforce_app_rate:
                limited = self._app_rate()
                if limited is not None:
                    return limited
        return handler(req)

    def _check_auth(self, req: Recorded) -> Reply | None:
        header = req.headers.get("authorization", "")
        scheme, _, value = header.partition(" ")
        if scheme != "Bearer" or not value.strip():
            return _err(99991661, MSG_MISSING_TOKEN)
        with self._state:
            tok = self._tokens.get(value.strip())
            if tok is None or not self._alive(tok, time.monotonic()):
                return _err(99991663, MSG_INVALID_TOKEN)
        return None

    def _app_rate(self) -> Reply | None:
        with self._state:
            now = time.monotonic()
            self._app_recent = [t for t in self._app_recent if now - t < 1.0]
            if len(self._app_recent) >= self.app_qps:
                self.rate_limited_count += 1
                return self.rate_limited(1, limit=self.app_qps)
            self._app_recent.append(now)
        return None

    # -- token -------------------------------------------------------------------------
    def _token(self, req: Recorded) -> Reply:
        with self._state:
            self.token_requests += 1
        body = req.json
        if not isinstance(body, dict):
            return Reply(200, json={"code": 10003, "data": {}, "msg": "invalid param"})
        app_id, app_secret = body.get("app_id"), body.get("app_secret")
        if not isinstance(app_id, str) or not isinstance(app_secret, str):
            return Reply(200, json={"code": 10003, "data": {}, "msg": "invalid param"})
        if app_id != self.app_id:
            return Reply(200, json={"code": 10003, "data": {}, "msg": "invalid param"})
        if app_secret != self.app_secret:
            return Reply(200, json={"code": 10014, "msg": "app secret invalid"})
        with self._state:
            now = time.monotonic()
            cur = self._current
            if (
                cur is not None
                and self._alive(cur, now)
                and cur.expires_at - now >= TOKEN_REUSE_MIN
            ):
                remaining = int(cur.expires_at - now)
                return Reply(
                    json={
                        "code": 0,
                        "msg": "ok",
                        "tenant_access_token": cur.value,
                        "expire": remaining,
                    }
                )
            tok = _Token("t-" + secrets.token_hex(20), now + self.expire)
            self._tokens[tok.value] = tok
            self._current = tok
            self.tokens_issued.append(tok.value)
        return Reply(
            json={"code": 0, "msg": "ok", "tenant_access_token": tok.value, "expire": self.expire}
        )

    # -- messages ----------------------------------------------------------------------
    def _send(self, req: Recorded) -> Reply:
        rid_type = req.query.get("receive_id_type")
        if rid_type not in RECEIVE_ID_TYPES:
            return _field_violation(
                "receive_id_type",
                rid_type,
                "receive_id_type is required"
                if not rid_type
                else f"receive_id_type must be one of {', '.join(RECEIVE_ID_TYPES)}",
            )
        body = req.json
        if not isinstance(body, dict):
            return _err(9499, "Bad Request")
        for name in ("receive_id", "msg_type", "content"):
            if body.get(name) in (None, ""):
                return _field_violation(name, None, f"{name} is required")
        receive_id, msg_type, content = body["receive_id"], body["msg_type"], body["content"]
        if not isinstance(receive_id, str) or not isinstance(msg_type, str):
            return _err(9499, "Bad Request")
        if not isinstance(content, str):
            # a JSON object where the API wants a string: the gateway cannot decode it
            return _err(9499, "Bad Request")
        uuid = body.get("uuid")
        if uuid is not None and (not isinstance(uuid, str) or len(uuid) > 50):
            return _field_violation("uuid", uuid, "uuid must be a string of at most 50 characters")
        if msg_type not in MSG_TYPES:
            return _err(230001, f"{MSG_INVALID_PARAM}, ext=invalid msg_type")
        try:
            parsed = json.loads(content)
        except ValueError:
            return _err(230001, f"{MSG_INVALID_PARAM}, ext=invalid message content")
        problem = self._validate_content(msg_type, parsed)
        if problem is not None:
            return problem
        size = len(req.body or b"")
        limit = TEXT_BODY_LIMIT if msg_type == "text" else POST_BODY_LIMIT
        if msg_type in ("text", "post", "interactive") and size > limit:
            return _err(230025, "The length of the message content reaches its limit.")

        prefix = RECEIVE_ID_PREFIX.get(rid_type)
        if (prefix and not receive_id.startswith(prefix)) or (
            rid_type == "email" and "@" not in receive_id
        ):
            return _err(230001, f"{MSG_INVALID_PARAM}, ext=invalid receive_id")
        if receive_id in self.unknown_receive_ids:
            if rid_type == "chat_id":
                return _err(230002, "Bot/User can NOT be out of the chat.")
            return _err(230013, "Bot has NO availability to this user.")

        with self._state:
            now = time.monotonic()
            if uuid:
                seen = self._uuids.get(uuid)
                if seen is not None and now - seen[0] < 3600:
                    return Reply(json={"code": 0, "msg": "success", "data": seen[1]})
            if self.enforce_chat_rate:
                recent = [t for t in self._recent.get(receive_id, []) if now - t < 1.0]
                if len(recent) >= self.chat_qps:
                    self._recent[receive_id] = recent
                    self.rate_limited_count += 1
                    return _err(230020, "This operation triggers the frequency limit.")
                recent.append(now)
                self._recent[receive_id] = recent
            message_id = "om_" + secrets.token_hex(16)
            ms = str(int(time.time() * 1000))
            chat_id = receive_id if rid_type == "chat_id" else "oc_" + secrets.token_hex(16)
            data = {
                "message_id": message_id,
                "msg_type": msg_type,
                "create_time": ms,
                "update_time": ms,
                "deleted": False,
                "updated": False,
                "chat_id": chat_id,
                "sender": {
                    "id": self.app_id,
                    "id_type": "app_id",
                    "sender_type": "app",
                    "tenant_key": self.tenant_key,
                },
                "body": {"content": content},
            }
            if uuid:
                self._uuids[uuid] = (now, data)
            self._records.append(
                {
                    "receive_id_type": rid_type,
                    "receive_id": receive_id,
                    "msg_type": msg_type,
                    "content": parsed,
                    "raw_content": content,
                    "message_id": message_id,
                    "chat_id": chat_id,
                    "uuid": uuid,
                    "body_size": size,
                }
            )
        return Reply(json={"code": 0, "msg": "success", "data": data})

    def _bad_content(self, why: str) -> Reply:
        return _err(230001, f"{MSG_INVALID_PARAM}, ext=invalid message content: {why}")

    def _known(self, key: Any, kind: str) -> LarkUpload | None:
        if not isinstance(key, str):
            return None
        with self._state:
            up = self.uploads.get(key)
        return up if up is not None and up.kind == kind else None

    def _check_image_key(self, key: Any) -> Reply | None:
        if not isinstance(key, str) or not key:
            return self._bad_content("image_key is required")
        if self._known(key, "image") is None:
            return _err(230001, f"{MSG_INVALID_PARAM}, ext=invalid image_key: {key}")
        return None

    def _check_file_key(self, key: Any, want: str | None) -> Reply | None:
        if not isinstance(key, str) or not key:
            return self._bad_content("file_key is required")
        up = self._known(key, "file")
        if up is None:
            return _err(230001, f"{MSG_INVALID_PARAM}, ext=invalid file_key: {key}")
        if want is not None and up.file_type != want:
            return _err(
                230055, "The type of file upload does not match the type of message being sent."
            )
        return None

    def _validate_content(self, msg_type: str, c: Any) -> Reply | None:
        if not isinstance(c, dict):
            return self._bad_content("content must be a JSON object")
        if msg_type == "text":
            if not isinstance(c.get("text"), str) or not c["text"]:
                return self._bad_content("text is required")
            return None
        if msg_type == "post":
            return self._validate_post(c)
        if msg_type == "image":
            return self._check_image_key(c.get("image_key"))
        if msg_type == "file":
            return self._check_file_key(c.get("file_key"), None)
        if msg_type == "audio":
            return self._check_file_key(c.get("file_key"), "opus")
        if msg_type == "media":
            problem = self._check_file_key(c.get("file_key"), "mp4")
            if problem is None and c.get("image_key") is not None:
                problem = self._check_image_key(c.get("image_key"))
            return problem
        if msg_type == "sticker":
            return None if isinstance(c.get("file_key"), str) else self._bad_content("file_key")
        if msg_type == "share_chat":
            return None if isinstance(c.get("chat_id"), str) else self._bad_content("chat_id")
        if msg_type == "share_user":
            return None if isinstance(c.get("user_id"), str) else self._bad_content("user_id")
        return None  # interactive / system: not validated here

    def _validate_post(self, c: dict[str, Any]) -> Reply | None:
        if not c:
            return self._bad_content("post needs at least one language")
        for lang, body in c.items():
            if not re.fullmatch(r"[a-z]{2}_[a-z]{2}", lang):
                # e.g. the webhook's {"post": {...}} wrapper, invalid for this API
                return self._bad_content(f"unknown language {lang!r}")
            if not isinstance(body, dict):
                return self._bad_content(f"{lang} must be an object")
            title = body.get("title")
            if title is not None and not isinstance(title, str):
                return self._bad_content("title must be a string")
            paragraphs = body.get("content")
            if not isinstance(paragraphs, list) or not paragraphs:
                return self._bad_content(f"{lang}.content must be a list of paragraphs")
            for para in paragraphs:
                if not isinstance(para, list):
                    return self._bad_content("each paragraph must be a list of elements")
                for el in para:
                    problem = self._validate_post_element(el)
                    if problem is not None:
                        return problem
        return None

    def _validate_post_element(self, el: Any) -> Reply | None:
        if not isinstance(el, dict) or el.get("tag") not in POST_TAGS:
            tag = el.get("tag") if isinstance(el, dict) else el
            return self._bad_content(f"unknown tag {tag!r}")
        tag = el["tag"]
        required = {
            "text": "text",
            "a": "href",
            "at": "user_id",
            "emotion": "emoji_type",
            "code_block": "text",
            "md": "text",
        }.get(tag)
        if required and not isinstance(el.get(required), str):
            return self._bad_content(f"{tag} needs {required}")
        if tag == "a" and not isinstance(el.get("text"), str):
            return self._bad_content("a needs text")
        if tag == "img":
            return self._check_image_key(el.get("image_key"))
        if tag == "media":
            problem = self._check_file_key(el.get("file_key"), "mp4")
            if problem is None and el.get("image_key") is not None:
                problem = self._check_image_key(el.get("image_key"))
            return problem
        return None

    # -- uploads -----------------------------------------------------------------------
    def _upload_image(self, req: Recorded) -> Reply:
        if not req.content_type.startswith("multipart/form-data"):
            return _err(234001, "Invalid request param.")
        image_type = req.form.get("image_type")
        part = req.files.get("image")
        if image_type not in ("message", "avatar") or part is None:
            return _err(234001, "Invalid request param.")
        if part.size == 0:
            return _err(234010, "File's size can't be 0.")
        if part.size > IMAGE_LIMIT:
            return _err(234006, "The file size exceed the max value.")
        if self.check_image_format and not _is_image(part.data):
            return _err(234011, "Can't regonnize the image format.")
        key = "img_v3_" + secrets.token_hex(12)
        with self._state:
            self.uploads[key] = LarkUpload(
                "image", key, part.size, part.sha256, part.data, part.filename,
                part.content_type, image_type=image_type,
            )  # fmt: skip
        return Reply(json={"code": 0, "msg": "success", "data": {"image_key": key}})

    def _upload_file(self, req: Recorded) -> Reply:
        if not req.content_type.startswith("multipart/form-data"):
            return _err(234001, "Invalid request param.")
        file_type = req.form.get("file_type")
        file_name = req.form.get("file_name")
        part = req.files.get("file")
        if file_type not in FILE_TYPES or not file_name or part is None:
            return _err(234001, "Invalid request param.")
        duration_raw = req.form.get("duration")
        duration: int | None = None
        if duration_raw not in (None, ""):
            if not re.fullmatch(r"\d+", str(duration_raw)):
                return _err(234001, "Invalid request param.")
            duration = int(duration_raw)  # type: ignore[arg-type]
        if part.size == 0:
            return _err(234010, "File's size can't be 0.")
        if part.size > FILE_LIMIT:
            return _err(234006, "The file size exceed the max value.")
        # im/v1/files takes any bytes under a file_type: a MOV/WebM/MKV sent as "mp4" or an
        # Ogg/Vorbis as "opus" is accepted, and the client cannot play it. Tests look at
        # the bytes in ``uploads`` (tests._media.kind_of) to see what really arrived.
        key = "file_v3_" + secrets.token_hex(12)
        with self._state:
            self.uploads[key] = LarkUpload(
                "file", key, part.size, part.sha256, part.data, part.filename,
                part.content_type, file_type=file_type, file_name=file_name, duration=duration,
            )  # fmt: skip
        return Reply(json={"code": 0, "msg": "success", "data": {"file_key": key}})


def _err(code: int, msg: str, status: int = 400) -> Reply:
    log_id = time.strftime("%Y%m%d%H%M%S") + secrets.token_hex(10).upper()
    return Reply(
        status,
        json={
            "code": code,
            "msg": msg,
            "error": {
                "log_id": log_id,
                "troubleshooter": (
                    "排查建议查看(Troubleshooting suggestions): "
                    f"https://open.feishu.cn/search?code={code}&log_id={log_id}"
                ),
            },
        },
        headers={"X-Tt-Logid": log_id},
    )


def _field_violation(field: str, value: Any, description: str) -> Reply:
    reply = _err(99992402, "field validation failed")
    violation: dict[str, Any] = {"field": field, "description": description}
    if value is not None:
        violation["value"] = str(value)
    reply.json["error"]["field_violations"] = [violation]
    return reply
