"""Fakes of the five webhook robots, each as strict as the real endpoint about what it
accepts, answering with its real shapes. Each class cites the page it follows.

Every fake keeps what it accepted in ``messages`` (the JSON body, or the multipart
payload and files) and refuses, as the real server does, a bad token, a bad or stale
signature, an over-long text, a missing field and a send over the rate limit. Tests
point an account's ``base_url`` at ``server.url``; the token stays in the path or query.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import threading
import time
from collections import deque
from typing import Any

from .base import FakeServer, Recorded, Reply

MB = 1 << 20
STALE = 3600  # seconds: DingTalk and Lark accept a timestamp within an hour of their clock


class _Window:
    """At most ``count`` requests in any ``period`` seconds (the platforms' per-robot cap)."""

    def __init__(self, count: int, period: float) -> None:
        self.count, self.period = count, period
        self.times: deque[float] = deque()
        self.lock = threading.Lock()

    def allow(self) -> bool:
        with self.lock:
            now = time.monotonic()
            while self.times and self.times[0] <= now - self.period:
                self.times.popleft()
            if len(self.times) >= self.count:
                return False
            self.times.append(now)
            return True


def _utf8(text: Any) -> int:
    return len(str(text).encode("utf-8"))


# ------------------------------------------------------------------------------ WeCom


class FakeWeComRobot(FakeServer):
    """WeCom group robot: developer.work.weixin.qq.com/document/path/91770 (群机器人配置说明).

    - ``POST /cgi-bin/webhook/send?key=KEY`` JSON; ``{"errcode": 0, "errmsg": "ok"}``.
      A key it does not know: 93000 "invalid webhook url".
    - text.content ≤ 2048 bytes, markdown.content ≤ 4096 bytes (longer: 40058, the
      "invalid content length" the robot answers); ``mentioned_list`` /
      ``mentioned_mobile_list`` lists of strings inside ``text``.
    - image: ``base64`` of a JPG/PNG of at most 2 MB and its ``md5`` (a wrong md5:
      301019 "media md5 not match"; too big or not JPG/PNG: 40009 "invalid image size").
    - ``POST /cgi-bin/webhook/upload_media?key=KEY&type=file|voice``, multipart field
      ``media`` (filename, filelength): file 5 B < size ≤ 20 MB, voice AMR ≤ 2 MB
      (40004 invalid media type, 40006 invalid file size); answers ``{type, media_id,
      created_at}``. voice/file messages take a media_id of their own type (40007).
    - Each robot may send 20 messages a minute: 45009 "api freq out of limit".
    """

    def __init__(self, key: str = "wecom-robot-key-0001", per_minute: int = 20) -> None:
        super().__init__()
        self.keys = {key}
        self.media: dict[str, tuple[str, bytes | None]] = {}  # media_id -> (type, data)
        self.messages: list[dict[str, Any]] = []
        self.window = _Window(per_minute, 60.0)

    def _err(self, code: int, msg: str) -> Reply:
        hint = f"{int(time.time())}_{secrets.token_hex(8)}"
        return Reply(json={"errcode": code, "errmsg": f"{msg}, hint: [{hint}], from ip: 127.0.0.1"})

    def bad_body(self, rec: Recorded, exc: Exception) -> Reply:
        return self._err(40035, "invalid json")

    def handle(self, req: Recorded) -> Reply:
        if req.method != "POST":
            return Reply(405, body=b"method not allowed")
        if req.query.get("key") not in self.keys:
            return self._err(93000, "invalid webhook url")
        if req.path == "/cgi-bin/webhook/upload_media":
            return self._upload(req)
        if req.path != "/cgi-bin/webhook/send":
            return Reply(
                404, body=b"<html>404 Not Found</html>", headers={"Content-Type": "text/html"}
            )
        body = req.json
        if not isinstance(body, dict):
            return self._err(40035, "invalid json")
        problem = self._check(body)
        if problem is not None:
            return problem
        if not self.window.allow():
            return self._err(45009, "api freq out of limit")
        self.messages.append(body)
        return Reply(json={"errcode": 0, "errmsg": "ok"})

    def _check(self, body: dict[str, Any]) -> Reply | None:
        kind = body.get("msgtype")
        content = body.get(kind) if isinstance(kind, str) else None
        if not isinstance(content, dict):
            return self._err(40008, "invalid message type")
        if kind in ("text", "markdown"):
            text = content.get("content")
            if not isinstance(text, str) or not text:
                return self._err(44004, "empty content")
            limit = 2048 if kind == "text" else 4096
            if _utf8(text) > limit:
                return self._err(40058, f"{kind}.content exceed max length {limit}")
            for key in ("mentioned_list", "mentioned_mobile_list"):
                value = content.get(key)
                if value is not None and not (
                    isinstance(value, list) and all(isinstance(v, str) for v in value)
                ):
                    return self._err(40058, f"{key} must be a list of strings")
            return None
        if kind == "image":
            try:
                data = base64.b64decode(str(content.get("base64", "")), validate=True)
            except ValueError:
                return self._err(40009, "invalid image size")
            if len(data) > 2 * MB or not data.startswith((b"\x89PNG", b"\xff\xd8\xff")):
                return self._err(40009, "invalid image size")
            if hashlib.md5(data).hexdigest() != content.get("md5"):  # noqa: S324
                return self._err(301019, "media md5 not match")
            return None
        if kind in ("voice", "file"):
            got = self.media.get(str(content.get("media_id")))
            if got is None or got[0] != kind:
                return self._err(40007, "invalid media_id")
            return None
        return self._err(40008, "invalid message type")

    def _upload(self, req: Recorded) -> Reply:
        kind = req.query.get("type")
        part = req.files.get("media")
        if kind not in ("file", "voice"):
            return self._err(40004, "invalid media type")
        if part is None:
            return self._err(41009, "missing media")  # no multipart field "media"
        if part.size <= 5 or part.size > (2 * MB if kind == "voice" else 20 * MB):
            return self._err(40006, "invalid file size")
        if kind == "voice" and not (part.data or b"").startswith(b"#!AMR"):
            return self._err(40004, "invalid media type: voice must be AMR")
        media_id = "3" + secrets.token_hex(16)
        self.media[media_id] = (kind, part.data)
        created = str(int(time.time()))
        return Reply(
            json={
                "errcode": 0,
                "errmsg": "ok",
                "type": kind,
                "media_id": media_id,
                "created_at": created,
            }
        )


# ------------------------------------------------------------------------------ DingTalk


def dingtalk_sign(secret: str, timestamp: str) -> str:
    """As DingTalk computes it: base64(HMAC-SHA256(key=secret, msg=f"{ts}\\n{secret}"))."""
    mac = hmac.new(secret.encode(), f"{timestamp}\n{secret}".encode(), hashlib.sha256)
    return base64.b64encode(mac.digest()).decode()


class FakeDingTalkRobot(FakeServer):
    """DingTalk custom robot: open.dingtalk.com/document/orgapp/custom-robots-send-group-messages
    (自定义机器人发送群消息) and …/customize-robot-security-settings (安全设置).

    - ``POST /robot/send?access_token=T[&timestamp=MS&sign=S]`` JSON; answers HTTP 200
      ``{"errcode": 0, "errmsg": "ok"}``. An unknown token: 300001 "token is not exist".
    - Signing (when the robot has a secret): the query's ``sign``, URL-decoded, must be
      base64(HMAC-SHA256(key=secret, msg=f"{timestamp}\\n{secret}")) and ``timestamp``
      (milliseconds) within an hour of now; else 310000 "sign not match". Keywords set on
      the robot must appear in the text: else 310000 "keywords not in content".
    - text.content, markdown.title + markdown.text, link.title + link.text +
      link.messageUrl are required (40035 "缺少参数 json" otherwise).
    - 20 messages a minute per robot: 410100 "send too fast, exceed 20 times per minute".
    """

    def __init__(
        self,
        token: str = "dingtalk-token-0001",
        secret: str | None = "SEC-dingtalk-secret-0001",
        *,
        keywords: tuple[str, ...] = (),
        per_minute: int = 20,
    ) -> None:
        super().__init__()
        self.tokens: dict[str, str | None] = {token: secret}
        self.keywords = keywords
        self.messages: list[dict[str, Any]] = []
        self.window = _Window(per_minute, 60.0)
        self.clock_skew = 0.0  # seconds added to the fake's clock (stale-timestamp tests)

    def _err(self, code: int, msg: str) -> Reply:
        return Reply(json={"errcode": code, "errmsg": msg})

    def bad_body(self, rec: Recorded, exc: Exception) -> Reply:
        return self._err(40035, "缺少参数 json")

    def handle(self, req: Recorded) -> Reply:
        if req.path != "/robot/send" or req.method != "POST":
            return Reply(404, json={"errcode": 404, "errmsg": "请求的URI地址不存在"})
        token = req.query.get("access_token", "")
        if token not in self.tokens:
            return self._err(300001, "token is not exist")
        secret = self.tokens[token]
        if secret is not None:
            ts, sign = req.query.get("timestamp", ""), req.query.get("sign", "")
            now_ms = (time.time() + self.clock_skew) * 1000
            if not ts.isdigit() or abs(now_ms - int(ts)) > STALE * 1000:
                return self._err(310000, "sign not match, more: [timestamp is invalid]")
            if not hmac.compare_digest(sign, dingtalk_sign(secret, ts)):
                return self._err(310000, "sign not match, more: [https://ding-doc.dingtalk.com]")
        body = req.json
        if not isinstance(body, dict):
            return self._err(40035, "缺少参数 json")
        kind = body.get("msgtype")
        content = body.get(kind) if isinstance(kind, str) else None
        required = {"text": ("content",), "markdown": ("title", "text"),
                    "link": ("title", "text", "messageUrl")}.get(str(kind))  # fmt: skip
        if required is None or not isinstance(content, dict):
            return self._err(40035, "缺少参数 msgtype")
        for name in required:
            if not isinstance(content.get(name), str) or not content[name].strip():
                return self._err(40035, f"缺少参数 {kind}.{name}")
        if self.keywords:
            text = json.dumps(content, ensure_ascii=False)
            if not any(k in text for k in self.keywords):
                return self._err(
                    310000, "keywords not in content, more: [https://ding-doc.dingtalk.com]"
                )
        if not self.window.allow():
            return self._err(410100, "send too fast, exceed 20 times per minute")
        self.messages.append(body)
        return self._err(0, "ok")


# ------------------------------------------------------------------------------ Lark


def lark_sign(secret: str, timestamp: str) -> str:
    """As Lark computes it: base64(HMAC-SHA256(key=f"{ts}\\n{secret}", msg=b""))."""
    mac = hmac.new(f"{timestamp}\n{secret}".encode(), b"", hashlib.sha256)
    return base64.b64encode(mac.digest()).decode()


class FakeLarkRobot(FakeServer):
    """Lark/Feishu custom bot: open.feishu.cn/document/client-docs/bot-v3/add-custom-bot
    (自定义机器人使用指南).

    - ``POST /open-apis/bot/v2/hook/{token}`` JSON ``{msg_type, content}`` (content an
      object) or ``{msg_type: "interactive", card}``; success is HTTP 200
      ``{"StatusCode": 0, "StatusMessage": "success", "code": 0, "data": {}, "msg": "success"}``.
    - An unknown token: 19001 "param invalid: incoming webhook access token invalid".
    - Signing: body ``timestamp`` (seconds, within an hour) and ``sign`` =
      base64(HMAC-SHA256(key=f"{timestamp}\\n{secret}", msg="")); else 19021 "sign match
      fail or timestamp is not within one hour from current time".
    - A request body over 20 KB, a string ``content``, or a malformed message: 9499
      "Bad Request" / 19002 "params error".
    - 100 requests a minute and 5 a second per bot: 11232 "frequency limited".
    """

    def __init__(
        self, token: str = "lark-hook-token-0001", secret: str | None = "lark-bot-secret-0001"
    ) -> None:
        super().__init__()
        self.tokens: dict[str, str | None] = {token: secret}
        self.messages: list[dict[str, Any]] = []
        self.second = _Window(5, 1.0)
        self.minute = _Window(100, 60.0)
        self.clock_skew = 0.0

    def _err(self, code: int, msg: str, status: int = 200) -> Reply:
        return Reply(status, json={"code": code, "data": {}, "msg": msg})

    def bad_body(self, rec: Recorded, exc: Exception) -> Reply:
        return self._err(9499, "Bad Request", 400)

    def handle(self, req: Recorded) -> Reply:
        prefix = "/open-apis/bot/v2/hook/"
        if not req.path.startswith(prefix) or req.method != "POST":
            return Reply(404, body=b"404 page not found", headers={"Content-Type": "text/plain"})
        token = req.path[len(prefix) :]
        if token not in self.tokens:
            return self._err(19001, "param invalid: incoming webhook access token invalid")
        if len(req.body or b"") > 20 * 1024:
            return self._err(9499, "Bad Request: request body exceeds 20 KB", 400)
        body = req.json
        if not isinstance(body, dict):
            return self._err(9499, "Bad Request", 400)
        secret = self.tokens[token]
        if secret is not None:
            ts, sign = str(body.get("timestamp", "")), str(body.get("sign", ""))
            now = time.time() + self.clock_skew
            if (
                not ts.isdigit()
                or abs(now - int(ts)) > STALE
                or not hmac.compare_digest(sign, lark_sign(secret, ts))
            ):
                return self._err(
                    19021, "sign match fail or timestamp is not within one hour from current time"
                )
        problem = self._check(body)
        if problem is not None:
            return problem
        if not (self.second.allow() and self.minute.allow()):
            return self._err(11232, "frequency limited psm[lark.oapi.app_platform_runtime]")
        self.messages.append(body)
        return Reply(
            json={
                "StatusCode": 0,
                "StatusMessage": "success",
                "code": 0,
                "data": {},
                "msg": "success",
            }
        )

    def _check(self, body: dict[str, Any]) -> Reply | None:
        kind = body.get("msg_type")
        if not kind:
            return self._err(19002, "params error, msg_type need")
        if kind == "interactive":
            card = body.get("card")
            elements = card.get("elements") if isinstance(card, dict) else None
            if not isinstance(elements, list) or not elements:
                return self._err(19002, "params error, card.elements is required")
            return None
        content = body.get("content")
        if not isinstance(content, dict):  # the IM API's JSON string is refused here
            return self._err(9499, "Bad Request: content must be an object", 400)
        if kind == "text":
            if not isinstance(content.get("text"), str) or not content["text"]:
                return self._err(19002, "params error, content.text is required")
            return None
        if kind == "post":
            post = content.get("post")
            if not isinstance(post, dict) or not post:
                return self._err(19002, "params error, content.post is required")
            for lang in post.values():
                if not isinstance(lang, dict) or not isinstance(lang.get("content"), list):
                    return self._err(19002, "params error, post content must be a list")
            return None
        return self._err(19002, f"params error, msg_type {kind!r} is not supported")


# ------------------------------------------------------------------------------ Discord


def utf16(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


class FakeDiscordWebhook(FakeServer):
    """Discord webhooks: discord.com/developers/docs/resources/webhook#execute-webhook,
    …/reference#uploading-files, …/topics/rate-limits, …/topics/opcodes-and-status-codes.

    - ``POST /api/webhooks/{id}/{token}[?wait=true]`` JSON, or multipart with
      ``payload_json`` and ``files[n]`` (the attachments' ``id`` n). ``wait=true``: 200
      and the message object; else 204.
    - Unknown id: 404 ``{"message": "Unknown Webhook", "code": 10015}``; wrong token: 401
      ``{"message": "Invalid Webhook Token", "code": 50027}``.
    - content ≤ 2000 characters, embeds ≤ 10 (title ≤ 256, description ≤ 4096), ≤ 10
      files: 400 ``{"message": "Invalid Form Body", "code": 50035, "errors": {…}}``;
      nothing to send: 400 ``{"message": "Cannot send an empty message", "code": 50006}``;
      files over 25 MiB together: 413 ``{"message": "Request entity too large", "code": 40005}``.
    - Per-webhook bucket: ``X-RateLimit-Limit/-Remaining/-Reset/-Reset-After/-Bucket`` on
      every answer; over it, 429 ``{"message": "You are being rate limited.",
      "retry_after": s, "global": false}`` with ``Retry-After``.
    - ``GET`` on the webhook URL answers the webhook object.
    """

    def __init__(
        self,
        webhook_id: str = "112233445566778899",
        token: str = "discord-hook-token_0001",
        *,
        bucket: int = 5,
        window: float = 2.0,
    ) -> None:
        super().__init__()
        self.hooks = {webhook_id: token}
        self.messages: list[dict[str, Any]] = []  # payload + "_files": [(name, size, sha256)]
        self.bucket, self.window = bucket, window
        self._used: deque[float] = deque()
        self._lock = threading.Lock()
        self._ids = 1_100_000_000_000_000_000

    def _err(self, status: int, message: str, code: int, **extra: Any) -> Reply:
        return Reply(status, json={"message": message, "code": code, **extra})

    def bad_body(self, rec: Recorded, exc: Exception) -> Reply:
        return self._err(400, "The request body contains invalid JSON.", 50109)

    def _rate(self) -> tuple[bool, dict[str, str], float]:
        with self._lock:
            now = time.monotonic()
            while self._used and self._used[0] <= now - self.window:
                self._used.popleft()
            allowed = len(self._used) < self.bucket
            if allowed:
                self._used.append(now)
            reset_after = (self._used[0] + self.window - now) if self._used else self.window
            headers = {
                "X-RateLimit-Limit": str(self.bucket),
                "X-RateLimit-Remaining": str(self.bucket - len(self._used)),
                "X-RateLimit-Reset": f"{time.time() + reset_after:.3f}",
                "X-RateLimit-Reset-After": f"{reset_after:.3f}",
                "X-RateLimit-Bucket": "webhook-bucket",
            }
            return allowed, headers, reset_after

    def handle(self, req: Recorded) -> Reply:
        parts = req.path.strip("/").split("/")
        if len(parts) != 4 or parts[:2] != ["api", "webhooks"]:
            return self._err(404, "404: Not Found", 0)
        hook_id, token = parts[2], parts[3]
        if hook_id not in self.hooks:
            return self._err(404, "Unknown Webhook", 10015)
        if token != self.hooks[hook_id]:
            return self._err(401, "Invalid Webhook Token", 50027)
        if req.method == "GET":
            return Reply(json={"id": hook_id, "type": 1, "name": "imcli-test", "channel_id": "42",
                               "guild_id": "7", "token": token})  # fmt: skip
        allowed, headers, reset_after = self._rate()
        if not allowed:
            reply = self._err(
                429,
                "You are being rate limited.",
                0,
                retry_after=round(reset_after, 3),
                **{"global": False},
            )
            reply.headers.update(headers, **{"Retry-After": str(max(1, round(reset_after)))})
            return reply
        if req.content_type.startswith("multipart/form-data"):
            try:
                payload = json.loads(req.form.get("payload_json", "{}"))
            except ValueError:
                return self._err(400, "The request body contains invalid JSON.", 50109)
        else:
            payload = req.json
        if not isinstance(payload, dict):
            return self._err(400, "Cannot send an empty message", 50006)
        problem = self._check(payload, req)
        if problem is not None:
            problem.headers.update(headers)
            return problem
        self._ids += 1
        files = [(f.filename, f.size, f.sha256) for _, f in sorted(req.files.items())]
        self.messages.append({**payload, "_files": files})
        if req.query.get("wait", "").lower() != "true":
            return Reply(204, body=b"", headers=headers)
        message = {
            "id": str(self._ids),
            "type": 0,
            "channel_id": "42",
            "content": payload.get("content", ""),
            "embeds": payload.get("embeds", []),
            "attachments": [
                {"id": str(self._ids + n), "filename": f[0], "size": f[1]}
                for n, f in enumerate(files)
            ],
            "webhook_id": hook_id,
        }
        return Reply(200, json=message, headers=headers)

    def _check(self, payload: dict[str, Any], req: Recorded) -> Reply | None:
        def invalid(field: str, msg: str) -> Reply:
            errors = {field: {"_errors": [{"code": "BASE_TYPE_MAX_LENGTH", "message": msg}]}}
            return self._err(400, "Invalid Form Body", 50035, errors=errors)

        content = payload.get("content") or ""
        if utf16(str(content)) > 2000:
            return invalid("content", "Must be 2000 or fewer in length.")
        embeds = payload.get("embeds") or []
        if len(embeds) > 10:
            return invalid("embeds", "Must be 10 or fewer in length.")
        for embed in embeds:
            if utf16(str(embed.get("title", ""))) > 256:
                return invalid("embeds", "title: Must be 256 or fewer in length.")
            if utf16(str(embed.get("description", ""))) > 4096:
                return invalid("embeds", "description: Must be 4096 or fewer in length.")
        files = req.files
        if len(files) > 10:
            return invalid("files", "Must be 10 or fewer in length.")
        if sum(f.size for f in files.values()) > 25 * MB:
            return self._err(413, "Request entity too large", 40005)
        for n, att in enumerate(payload.get("attachments") or []):
            if f"files[{att.get('id')}]" not in files:
                return invalid(f"attachments.{n}", "Unknown attachment id")
        if not content.strip() and not embeds and not files:
            return self._err(400, "Cannot send an empty message", 50006)
        return None


# ------------------------------------------------------------------------------ Slack


class FakeSlackWebhook(FakeServer):
    """Slack incoming webhooks: docs.slack.dev/messaging/sending-messages-using-incoming-webhooks
    (its "Handling errors" table) and the Block Kit limits of docs.slack.dev/reference/block-kit.

    - ``POST /services/T…/B…/X…`` JSON; 200 ``ok`` as text/html.
    - 400 ``invalid_payload`` (not JSON), ``no_text`` (neither text nor blocks),
      ``invalid_blocks``; 403 ``invalid_token``; 404 ``no_service`` (unknown path);
      410 ``channel_is_archived``; 429 over 1 message a second (``Retry-After``).
    - Block Kit: header text ≤ 150, section text ≤ 3000, ≤ 50 blocks.
    """

    def __init__(self, path: str = "/services/T0001/B0001/slack-hook-secret-0001") -> None:
        super().__init__()
        self.paths = {path}
        self.archived = False
        self.messages: list[dict[str, Any]] = []
        self.window = _Window(1, 1.0)

    def _text(self, status: int, text: str, **headers: str) -> Reply:
        return Reply(status, body=text.encode(), headers={"Content-Type": "text/html", **headers})

    def bad_body(self, rec: Recorded, exc: Exception) -> Reply:
        return self._text(400, "invalid_payload")

    def handle(self, req: Recorded) -> Reply:
        if req.path not in self.paths:
            return self._text(404, "no_service")
        if self.archived:
            return self._text(410, "channel_is_archived")
        body = req.json
        if not isinstance(body, dict):
            return self._text(400, "invalid_payload")
        blocks = body.get("blocks")
        if not (isinstance(body.get("text"), str) and body["text"].strip()) and not blocks:
            return self._text(400, "no_text")
        if blocks is not None:
            if not isinstance(blocks, list) or len(blocks) > 50:
                return self._text(400, "invalid_blocks")
            for block in blocks:
                text = (block.get("text") or {}).get("text", "") if isinstance(block, dict) else ""
                limit = {"header": 150, "section": 3000}.get(block.get("type"), 0)
                if not limit or not text or len(text) > limit:
                    return self._text(400, "invalid_blocks")
        if not self.window.allow():
            return self._text(429, "rate_limited", **{"Retry-After": "1"})
        self.messages.append(body)
        return self._text(200, "ok")
