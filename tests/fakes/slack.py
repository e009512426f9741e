"""A fake Slack Web API, strict about what it accepts, answering as Slack does.

imcli uses ``base_url = server.url`` and calls ``{base_url}/<method>``
(``/chat.postMessage``, ``/files.getUploadURLExternal``, ...).

Sources (docs.slack.dev method pages; slackapi/python-slack-sdk):

- Every reply is HTTP 200 ``{"ok": true, ...}`` or ``{"ok": false, "error": "<code>"}``;
  rate limits are HTTP 429 ``{"ok": false, "error": "ratelimited"}`` + ``Retry-After``.
- ``not_authed`` (no token), ``invalid_auth`` (bad token): every method's error table.
- chat.postMessage: ``channel_not_found``, ``no_text``, ``invalid_blocks``,
  ``invalid_blocks_format``, ``markdown_text_conflict``; > 40,000 characters of text are
  truncated (``msg_too_long`` only with ``msg_too_long=True``, as older Slack did). A ``U…``
  user id as ``channel`` is *accepted* (the docs: "provide the user's ID as the channel
  value and a direct message conversation will be opened"), unless
  ``reject_user_channel=True`` or the user is in ``unknown_users`` (``channel_not_found``:
  "if your app doesn't have permission to enter into a DM with the intended user").
- Block Kit limits: header text plain_text <= 150, section text <= 3000, section fields
  <= 10 x 2000, <= 50 blocks per message.
- conversations.open: ``users`` (1-8 ids), ``users_list_not_supplied``, ``too_many_users``,
  ``user_not_found``; reply ``{"ok": true, "channel": {"id": "D…"}}``.
- files.getUploadURLExternal: ``filename``, ``length`` required; ``missing_argument``
  ("Typically only occurs when the length provided is 0"), ``invalid_arguments``.
  The upload URL takes raw bytes or multipart ("Files can be sent as raw bytes or can be
  multipart form encoded"); HTTP 200 = ok, anything else = failure. slack_sdk's
  ``files_upload_v2`` posts the *raw bytes* with urllib (``Request(method="POST",
  data=data, headers={})``), so the body arrives with urllib's default
  ``Content-Type: application/x-www-form-urlencoded``.
- files.completeUploadExternal: ``files`` JSON array of ``{"id", "title"?}``; ``file_not_found``
  ("Could not find the file from the upload ticket"), ``channel_not_found``,
  ``invalid_arguments``; "This method can only be called once."
- files.upload: ``method_deprecated`` (sunset 2025-11-12).
"""

from __future__ import annotations

import hashlib
import json
import mimetypes
import re
import secrets
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from .base import RAW_PART, FakeServer, Recorded, Reply

CHANNEL_RE = re.compile(r"^[CGD][A-Z0-9]{2,}$")
USER_RE = re.compile(r"^[UW][A-Z0-9]{2,}$")
UPLOAD_PATH_RE = re.compile(r"^/upload/(?P<file_id>[^/]+)$")
#: what mrkdwn turns into formatting (docs.slack.dev/messaging/formatting-message-text)
MRKDWN_MARKUP = re.compile(r"\*[^*\n]+\*|_[^_\n]+_|~[^~\n]+~|`[^`\n]+`")

TEXT_LIMIT = 40_000
HEADER_TEXT_LIMIT = 150
SECTION_TEXT_LIMIT = 3_000
SECTION_FIELDS_MAX = 10
SECTION_FIELD_TEXT_LIMIT = 2_000
MARKDOWN_BLOCK_LIMIT = 12_000
BLOCKS_MAX = 50
KNOWN_BLOCK_TYPES = {
    "actions", "context", "divider", "file", "header", "image", "input", "markdown",
    "rich_text", "section", "video", "table", "context_actions",
}  # fmt: skip


@dataclass
class SlackFile:
    """One file announced through files.getUploadURLExternal."""

    id: str
    name: str  # the announced ``filename``
    length: int  # the announced ``length``
    alt_txt: str | None = None
    snippet_type: str | None = None
    uploaded: bool = False
    size: int = 0  # bytes that arrived at the upload URL
    sha256: str = ""
    data: bytes | None = None  # kept when small (see base.KEEP_LIMIT)
    body_format: str = ""  # "raw" or "multipart:<field name>"
    upload_content_type: str = ""
    upload_attempts: int = 0
    completed: bool = False
    title: str | None = None
    channel: str | None = None  # where completeUploadExternal shared it
    initial_comment: str | None = None
    thread_ts: str | None = None


@dataclass
class SlackMessage:
    channel: str  # as the caller gave it
    posted_channel: str  # where it landed (a U… id lands in its D… DM)
    ts: str
    text: str | None
    blocks: list[dict[str, Any]] | None
    thread_ts: str | None
    truncated: bool
    params: dict[str, Any] = field(default_factory=dict)

    def formatted(self) -> list[str]:
        """The texts Slack would render as mrkdwn (``*bold*``, ``_italic_``, ``~strike~``,
        backticks) instead of showing them as typed. chat.postMessage: ``mrkdwn``
        "Disable Slack markup parsing by setting to false. Enabled by default."; with
        ``blocks``, ``text`` is only the notification fallback and each text object says
        its own ``type`` (``plain_text`` or ``mrkdwn``; docs.slack.dev text-object)."""
        out: list[str] = []
        if self.blocks:
            for block in self.blocks:
                text = block.get("text")
                shown = text.get("text", "") if isinstance(text, dict) else ""
                if text and text.get("type") == "mrkdwn" and MRKDWN_MARKUP.search(str(shown)):
                    out.append(str(shown))
            return out
        mrkdwn = self.params.get("mrkdwn", True)
        if mrkdwn not in (False, "false", "0") and self.text and MRKDWN_MARKUP.search(self.text):
            out.append(self.text)
        return out


class FakeSlack(FakeServer):
    raw_paths = UPLOAD_PATH_RE.pattern

    def __init__(
        self,
        tokens: Iterable[str] = ("xoxb-test-token",),
        *,
        unknown_channels: Iterable[str] = (),
        unknown_users: Iterable[str] = (),
        team: str = "Test Workspace",
        team_id: str = "T0TESTTEAM",
        bot_user: str = "imcli-bot",
        bot_user_id: str = "U0TESTBOT",
        bot_id: str = "B0TESTBOT",
        msg_too_long: bool = False,
        reject_user_channel: bool = False,
        enforce_channel_rate: bool = False,
        channel_interval: float = 1.0,
        allow_token_param: bool = False,
    ) -> None:
        super().__init__()
        self.tokens = set(tokens)
        self.unknown_channels = set(unknown_channels)
        self.unknown_users = set(unknown_users)
        self.team = team
        self.team_id = team_id
        self.bot_user = bot_user
        self.bot_user_id = bot_user_id
        self.bot_id = bot_id
        self.msg_too_long = msg_too_long
        self.reject_user_channel = reject_user_channel
        self.enforce_channel_rate = enforce_channel_rate
        self.channel_interval = channel_interval
        self.allow_token_param = allow_token_param

        self._state = threading.Lock()
        self._ts_last = 0
        self._messages: list[SlackMessage] = []
        self._files: dict[str, SlackFile] = {}
        self._dms: dict[str, str] = {}  # user id -> D… id
        self._mpims: dict[tuple[str, ...], str] = {}
        self._last_post: dict[str, float] = {}  # channel -> monotonic time of last post
        self.shares: list[dict[str, Any]] = []  # one per completeUploadExternal into a channel
        self.rate_limited_count = 0

    # -- helpers for tests -----------------------------------------------------------
    def posted_messages(self) -> list[SlackMessage]:
        with self._state:
            return list(self._messages)

    def uploaded_files(self) -> dict[str, SlackFile]:
        """file id -> :class:`SlackFile` (announced, uploaded and/or completed)."""
        with self._state:
            return dict(self._files)

    def dm_channel(self, user_id: str) -> str:
        """The D… id this workspace gives the DM with ``user_id`` (stable)."""
        with self._state:
            return self._dm_for(user_id)

    def opened_dms(self) -> dict[str, str]:
        with self._state:
            return dict(self._dms)

    def upload_url(self, file_id: str) -> str:
        return f"{self.url}/upload/{file_id}"

    @staticmethod
    def ratelimited(retry_after: int = 1) -> Reply:
        """The reply Slack sends when a method is rate limited (for :meth:`queue`)."""
        return Reply(
            429,
            json={"ok": False, "error": "ratelimited"},
            headers={"Retry-After": str(retry_after)},
        )

    @staticmethod
    def error(code: str, **extra: Any) -> Reply:
        """``{"ok": false, "error": code}`` with HTTP 200 (for :meth:`queue`)."""
        return Reply(200, json={"ok": False, "error": code, **extra})

    # -- plumbing ----------------------------------------------------------------------
    def bad_body(self, rec: Recorded, exc: Exception) -> Reply:
        if "json" in rec.content_type:
            return self.error("invalid_json")
        return self.error("invalid_form_data")

    def handle(self, req: Recorded) -> Reply:
        m = UPLOAD_PATH_RE.match(req.path)
        if m:
            return self._upload(req, m.group("file_id"))
        method = req.path.strip("/")
        if method.startswith("api/"):
            method = method[4:]
        problem = self._check_post_type(req)
        if problem is not None:
            return problem
        auth = self._check_auth(req)
        if auth is not None:
            return auth
        handler = {
            "auth.test": self._auth_test,
            "chat.postMessage": self._post_message,
            "conversations.open": self._conversations_open,
            "files.getUploadURLExternal": self._get_upload_url,
            "files.completeUploadExternal": self._complete_upload,
            "files.upload": lambda r: self.error("method_deprecated"),
        }.get(method)
        if handler is None:
            return self.error("unknown_method", req_method=method)
        reply = handler(req)
        if (
            reply.status == 200
            and isinstance(reply.json, dict)
            and "json" in req.content_type
            and "charset" not in req.content_type.lower()
        ):
            # Slack answers a JSON body without a charset, but warns.
            reply.json.setdefault("warning", "missing_charset")
            reply.json.setdefault("response_metadata", {"warnings": ["missing_charset"]})
        return reply

    def _check_post_type(self, req: Recorded) -> Reply | None:
        if req.method != "POST" or not (req.body or req.form or req.files):
            return None
        ctype = req.content_type.lower()
        if not ctype:
            return self.error("missing_post_type")
        mime = ctype.split(";")[0].strip()
        if mime not in (
            "application/json",
            "application/x-www-form-urlencoded",
            "multipart/form-data",
            "text/plain",
        ):
            return self.error("invalid_post_type")
        m = re.search(r"charset=([^;]+)", ctype)
        if m and m.group(1).strip().strip('"') not in ("utf-8", "utf8", "iso-8859-1"):
            return self.error("invalid_charset")
        if mime == "application/json" and not isinstance(req.json, dict):
            return self.error("invalid_json")
        return None

    def _check_auth(self, req: Recorded) -> Reply | None:
        header = req.headers.get("authorization", "")
        token: str | None = None
        if header:
            scheme, _, value = header.partition(" ")
            if scheme.lower() != "bearer" or not value.strip():
                return self.error("invalid_auth")
            token = value.strip()
        elif self.allow_token_param and req.field("token"):
            token = str(req.field("token"))
        if token is None:
            return self.error("not_authed")
        if token not in self.tokens:
            return self.error("invalid_auth")
        return None

    def _next_ts(self) -> str:
        with self._state:
            micros = max(int(time.time() * 1_000_000), self._ts_last + 1)
            self._ts_last = micros
        return f"{micros // 1_000_000}.{micros % 1_000_000:06d}"

    def _dm_for(self, user_id: str) -> str:
        if user_id not in self._dms:
            digest = hashlib.sha256(user_id.encode()).hexdigest()[:10].upper()
            self._dms[user_id] = f"D{digest}"
        return self._dms[user_id]

    def _resolve_channel(self, channel: Any) -> tuple[str | None, str | None]:
        """(channel where it lands, error code)."""
        if not isinstance(channel, str) or not channel:
            return None, "channel_not_found"
        if channel in self.unknown_channels:
            return None, "channel_not_found"
        if USER_RE.match(channel):
            if self.reject_user_channel or channel in self.unknown_users:
                return None, "channel_not_found"
            with self._state:
                return self._dm_for(channel), None
        if CHANNEL_RE.match(channel):
            return channel, None
        return None, "channel_not_found"

    # -- methods -----------------------------------------------------------------------
    def _auth_test(self, req: Recorded) -> Reply:
        slug = re.sub(r"[^a-z0-9]+", "-", self.team.lower()).strip("-") or "test"
        return Reply(
            json={
                "ok": True,
                "url": f"https://{slug}.slack.com/",
                "team": self.team,
                "user": self.bot_user,
                "team_id": self.team_id,
                "user_id": self.bot_user_id,
                "bot_id": self.bot_id,
                "is_enterprise_install": False,
            }
        )

    def _post_message(self, req: Recorded) -> Reply:
        channel = req.field("channel")
        posted_channel, err = self._resolve_channel(channel)
        if err:
            return self.error(err)
        assert posted_channel is not None

        text = req.field("text")
        if text is not None and not isinstance(text, str):
            text = str(text)
        markdown_text = req.field("markdown_text")
        blocks_raw = req.field("blocks")
        attachments = req.field("attachments")
        blocks: list[dict[str, Any]] | None = None
        if blocks_raw not in (None, "", []):
            if isinstance(blocks_raw, str):
                try:
                    blocks_raw = json.loads(blocks_raw)
                except ValueError:
                    return self.error("invalid_blocks_format")
            if not isinstance(blocks_raw, list):
                return self.error("invalid_blocks_format")
            errors = validate_blocks(blocks_raw)
            if errors:
                return Reply(
                    json={
                        "ok": False,
                        "error": "invalid_blocks",
                        "errors": errors,
                        "response_metadata": {"messages": [f"[ERROR] {e}" for e in errors]},
                    }
                )
            blocks = blocks_raw
        if markdown_text and (text or blocks):
            return self.error("markdown_text_conflict")
        if not text and not blocks and not attachments and not markdown_text:
            return self.error("no_text")
        truncated = bool(text) and len(text) > TEXT_LIMIT
        if truncated and self.msg_too_long:
            return self.error("msg_too_long")

        with self._state:
            if self.enforce_channel_rate:
                now = time.monotonic()
                last = self._last_post.get(posted_channel)
                if last is not None and now - last < self.channel_interval:
                    self.rate_limited_count += 1
                    return self.ratelimited(1)
                self._last_post[posted_channel] = now
        ts = self._next_ts()
        params: dict[str, Any] = {}
        if isinstance(req.json, dict):
            params.update(req.json)
        params.update(req.form)
        for k, v in req.query.items():
            params.setdefault(k, v)
        thread_ts = req.field("thread_ts")
        msg = SlackMessage(
            channel=str(channel),
            posted_channel=posted_channel,
            ts=ts,
            text=text[:TEXT_LIMIT] if (text and truncated) else text,
            blocks=blocks,
            thread_ts=str(thread_ts) if thread_ts else None,
            truncated=truncated,
            params=params,
        )
        with self._state:
            self._messages.append(msg)
        message: dict[str, Any] = {
            "user": self.bot_user_id,
            "type": "message",
            "ts": ts,
            "bot_id": self.bot_id,
            "app_id": "A0TESTAPP",
            "text": msg.text or "",
            "team": self.team_id,
        }
        if blocks is not None:
            message["blocks"] = blocks
        if msg.thread_ts:
            message["thread_ts"] = msg.thread_ts
        return Reply(json={"ok": True, "channel": posted_channel, "ts": ts, "message": message})

    def _conversations_open(self, req: Recorded) -> Reply:
        users_raw = req.field("users")
        channel = req.field("channel")
        if not users_raw:
            if channel:
                if isinstance(channel, str) and channel in self._dms.values():
                    return Reply(json={"ok": True, "channel": {"id": channel}})
                return self.error("channel_not_found")
            return self.error("users_list_not_supplied")
        if isinstance(users_raw, list):
            users = [str(u).strip() for u in users_raw]
        else:
            users = [u.strip() for u in str(users_raw).split(",")]
        users = [u for u in users if u]
        if not users:
            return self.error("users_list_not_supplied")
        if len(users) > 8:
            return self.error("too_many_users")
        for u in users:
            if not USER_RE.match(u) or u in self.unknown_users:
                return self.error("user_not_found")
        with self._state:
            if len(users) == 1:
                already = users[0] in self._dms
                cid = self._dm_for(users[0])
            else:
                key = tuple(users)
                already = key in self._mpims
                if not already:
                    self._mpims[key] = "G" + secrets.token_hex(5).upper()
                cid = self._mpims[key]
        body: dict[str, Any] = {"ok": True, "channel": {"id": cid}}
        if str(req.field("return_im") or "").lower() in ("1", "true"):
            body["no_op"] = already
            body["already_open"] = already
            body["channel"].update(
                {"created": int(time.time()), "is_im": len(users) == 1, "user": users[0]}
            )
        return Reply(json=body)

    def _get_upload_url(self, req: Recorded) -> Reply:
        filename = req.field("filename")
        length_raw = req.field("length")
        if not filename or length_raw in (None, ""):
            return self.error("invalid_arguments")
        if isinstance(length_raw, bool):
            return self.error("invalid_arguments")
        if isinstance(length_raw, int):
            length = length_raw
        elif isinstance(length_raw, str) and re.fullmatch(r"-?\d+", length_raw.strip()):
            length = int(length_raw)
        else:
            return self.error("invalid_arguments")
        if length == 0:
            return self.error("missing_argument")
        if length < 0:
            return self.error("invalid_arguments")
        alt_txt = req.field("alt_txt")
        if alt_txt and len(str(alt_txt)) > 1000:
            return self.error("alt_txt_too_large")
        file_id = "F" + secrets.token_hex(5).upper()
        with self._state:
            self._files[file_id] = SlackFile(
                id=file_id,
                name=str(filename),
                length=length,
                alt_txt=alt_txt,
                snippet_type=req.field("snippet_type"),
            )
        return Reply(json={"ok": True, "upload_url": self.upload_url(file_id), "file_id": file_id})

    def _upload(self, req: Recorded, file_id: str) -> Reply:
        def text(status: int, body: str) -> Reply:
            return Reply(status, body=body.encode(), headers={"Content-Type": "text/plain"})

        if req.method != "POST":
            return text(405, "method not allowed")
        with self._state:
            f = self._files.get(file_id)
        if f is None:
            return text(404, "upload ticket not found")
        if req.content_type.startswith("multipart/form-data"):
            parts = [p for n, p in req.files.items() if n != RAW_PART]
            if len(parts) != 1:
                return text(400, f"expected one file part, got {len(parts)}")
            part = parts[0]
            size, digest, data = part.size, part.sha256, part.data
            body_format = f"multipart:{part.field_name}"
        else:
            # raw bytes (slack_sdk posts them with urllib's default form content type):
            # streamed by the base server, never parsed as a form (raw_paths)
            raw = req.files.get(RAW_PART)
            if raw is None:
                size, digest, data = 0, hashlib.sha256(b"").hexdigest(), b""
            else:
                size, digest, data = raw.size, raw.sha256, raw.data
            body_format = "raw"
        with self._state:
            f.upload_attempts += 1
            if size != f.length:
                return text(400, f"length mismatch: announced {f.length} bytes, received {size}")
            f.uploaded = True
            f.size = size
            f.sha256 = digest
            f.data = data
            f.body_format = body_format
            f.upload_content_type = req.content_type
        return text(200, f"OK - {size}")

    def _complete_upload(self, req: Recorded) -> Reply:
        files_raw = req.field("files")
        if isinstance(files_raw, str):
            try:
                files_raw = json.loads(files_raw)
            except ValueError:
                return self.error("invalid_arguments")
        if not isinstance(files_raw, list) or not files_raw:
            return self.error("invalid_arguments")
        entries: list[tuple[str, str | None]] = []
        for item in files_raw:
            if not isinstance(item, dict) or not isinstance(item.get("id"), str):
                return self.error("invalid_arguments")
            title = item.get("title")
            entries.append((item["id"], None if title is None else str(title)))

        targets: list[str] = []
        channel_id = req.field("channel_id")
        channels = req.field("channels")
        if channel_id:
            targets.append(str(channel_id))
        if channels:
            targets.extend(c.strip() for c in str(channels).split(",") if c.strip())
        if len(targets) > 100:
            return self.error("channels_limit_exceeded")
        resolved: list[str] = []
        for t in targets:
            where, err = self._resolve_channel(t)
            if err:
                return self.error(err)
            assert where is not None
            resolved.append(where)
        thread_ts = req.field("thread_ts")
        if thread_ts and len(resolved) != 1:
            return self.error("invalid_arguments")
        initial_comment = req.field("initial_comment")

        with self._state:
            for fid, _ in entries:
                f = self._files.get(fid)
                if f is None or not f.uploaded or f.completed:
                    return self.error("file_not_found")
            out = []
            now = int(time.time())
            for fid, title in entries:
                f = self._files[fid]
                f.completed = True
                f.title = title if title is not None else f.name
                f.channel = resolved[0] if resolved else None
                f.initial_comment = initial_comment
                f.thread_ts = str(thread_ts) if thread_ts else None
                mimetype = mimetypes.guess_type(f.name)[0] or "application/octet-stream"
                out.append(
                    {
                        "id": fid,
                        "created": now,
                        "timestamp": now,
                        "name": f.name,
                        "title": f.title,
                        "mimetype": mimetype,
                        "filetype": f.name.rsplit(".", 1)[-1].lower() if "." in f.name else "",
                        "user": self.bot_user_id,
                        "size": f.size,
                        "mode": "hosted",
                        "is_external": False,
                        "url_private": f"{self.url}/files-pri/{self.team_id}-{fid}/{f.name}",
                        "permalink": f"https://example.slack.com/files/{self.bot_user_id}/{fid}",
                        "channels": [c for c in resolved if c[0] == "C"],
                        "groups": [c for c in resolved if c[0] == "G"],
                        "ims": [c for c in resolved if c[0] == "D"],
                    }
                )
        for where in resolved:
            self.shares.append(
                {
                    "channel": where,
                    "ts": self._next_ts(),
                    "file_ids": [fid for fid, _ in entries],
                    "initial_comment": initial_comment,
                    "thread_ts": str(thread_ts) if thread_ts else None,
                }
            )
        return Reply(json={"ok": True, "files": out})


def _text_len(obj: Any) -> int | None:
    if isinstance(obj, dict) and isinstance(obj.get("text"), str):
        return len(obj["text"])
    return None


def validate_blocks(blocks: list[Any]) -> list[str]:
    """The Block Kit errors Slack would report (empty when the blocks are valid)."""
    errors: list[str] = []
    if len(blocks) > BLOCKS_MAX:
        errors.append(f"no more than {BLOCKS_MAX} items allowed [json-pointer:/blocks]")
    for i, block in enumerate(blocks):
        ptr = f"/blocks/{i}"
        if not isinstance(block, dict) or not isinstance(block.get("type"), str):
            errors.append(f"missing required field: type [json-pointer:{ptr}]")
            continue
        btype = block["type"]
        if btype not in KNOWN_BLOCK_TYPES:
            errors.append(f"unsupported type: {btype} [json-pointer:{ptr}/type]")
            continue
        if len(str(block.get("block_id", ""))) > 255:
            errors.append(f"must be less than 256 characters [json-pointer:{ptr}/block_id]")
        text = block.get("text")
        if btype == "header":
            if not isinstance(text, dict) or text.get("type") != "plain_text":
                errors.append(f"must be a plain_text text object [json-pointer:{ptr}/text]")
            elif (_text_len(text) or 0) == 0:
                errors.append(f"must be more than 0 characters [json-pointer:{ptr}/text/text]")
            elif (_text_len(text) or 0) > HEADER_TEXT_LIMIT:
                errors.append(
                    f"must be less than {HEADER_TEXT_LIMIT + 1} characters "
                    f"[json-pointer:{ptr}/text/text]"
                )
        elif btype == "section":
            fields = block.get("fields")
            if text is None and not fields:
                errors.append(f"must provide either text or fields [json-pointer:{ptr}]")
            if text is not None:
                if not isinstance(text, dict) or text.get("type") not in ("plain_text", "mrkdwn"):
                    errors.append(f"must be a text object [json-pointer:{ptr}/text]")
                elif (_text_len(text) or 0) == 0:
                    errors.append(f"must be more than 0 characters [json-pointer:{ptr}/text/text]")
                elif (_text_len(text) or 0) > SECTION_TEXT_LIMIT:
                    errors.append(
                        f"must be less than {SECTION_TEXT_LIMIT + 1} characters "
                        f"[json-pointer:{ptr}/text/text]"
                    )
            if fields is not None:
                if not isinstance(fields, list) or len(fields) > SECTION_FIELDS_MAX:
                    errors.append(
                        f"no more than {SECTION_FIELDS_MAX} items allowed "
                        f"[json-pointer:{ptr}/fields]"
                    )
                else:
                    for j, f in enumerate(fields):
                        n = _text_len(f)
                        if n is None or n > SECTION_FIELD_TEXT_LIMIT:
                            errors.append(
                                f"must be a text object of at most {SECTION_FIELD_TEXT_LIMIT} "
                                f"characters [json-pointer:{ptr}/fields/{j}]"
                            )
        elif btype == "markdown":
            n = block.get("text")
            if not isinstance(n, str) or not n:
                errors.append(f"missing required field: text [json-pointer:{ptr}/text]")
            elif len(n) > MARKDOWN_BLOCK_LIMIT:
                errors.append(
                    f"must be less than {MARKDOWN_BLOCK_LIMIT + 1} characters "
                    f"[json-pointer:{ptr}/text]"
                )
        elif btype == "image":
            if not (block.get("image_url") or block.get("slack_file")):
                errors.append(f"missing required field: image_url [json-pointer:{ptr}]")
            if not isinstance(block.get("alt_text"), str):
                errors.append(f"missing required field: alt_text [json-pointer:{ptr}]")
        elif btype == "context":
            elements = block.get("elements")
            if not isinstance(elements, list) or not 1 <= len(elements) <= 10:
                errors.append(f"must have 1 to 10 elements [json-pointer:{ptr}/elements]")
        elif btype == "rich_text" and not isinstance(block.get("elements"), list):
            errors.append(f"missing required field: elements [json-pointer:{ptr}/elements]")
    return errors
