"""A fake OneBot v11 HTTP server (NapCat or go-cqhttp flavour) for the test suite.

Written from the sources, not from memory:

* botuniverse/onebot-11 ``communication/http.md``: ``/:action`` by GET or POST, params from
  the query string, an urlencoded form or JSON; 401 without a token, 403 with a wrong one.
* go-cqhttp (Mrs4s/go-cqhttp ``server/http.go``, ``coolq/api.go``): ``checkAuth`` (401 when
  missing, 403 when wrong, header ``Authorization: <scheme> <token>`` or ``?access_token=``,
  empty body); a JSON body is read only with ``Content-Type: application/json``; replies
  ``OK(data) = {data, retcode: 0, status: "ok", message: ""}`` and
  ``Failed(code, msg, wording) = {data: null, retcode, msg, wording, message: wording,
  status: "failed"}``; an unknown action is ``Failed(404, "API_NOT_FOUND", "API不存在")``
  with HTTP 200; ``send_group_msg`` to an unknown group is ``Failed(100, "GROUP_NOT_FOUND",
  "群聊不存在")``; ``upload_group_file`` takes a local path only (``FILE_NOT_FOUND``,
  ``文件不存在``) and ``upload_private_file`` opens it with ``os.Open`` (``OPEN_FILE_ERROR``,
  ``打开文件失败``); both answer ``OK(nil)``; video segments take http(s) and file URIs,
  not base64.
* NapCatQQ (``packages/napcat-onebot/network/http-server.ts``, ``action/OneBotAction.ts``,
  ``action/msg/SendMsg.ts``, ``action/go-cqhttp/Upload*File.ts``, ``api/msg.ts``): one
  check for the token, query before header, and **403** ``{"message": "token verify
  failed!"}`` whether the token is missing or wrong; every other answer is HTTP 200;
  ``OB11Response`` = ``{status, retcode, data, message, wording, echo, stream}``; a payload
  that fails the action's schema is ``retcode 400``, an error thrown by the action is
  ``retcode 200`` over HTTP (``1200`` only over WebSocket), an unknown action is
  ``retcode 200`` ``不支持的Api <name>``; uploads answer ``{file_id}``.

* Lagrange.OneBot (LagrangeDev/Lagrange.Core ``Lagrange.OneBot/Core/Operation``): replies
  ``OneBotResult(data, retcode, status)``; an unknown action is ``(null, 404, "failed")``
  and an exception in an action ``(null, 200, "failed")`` (``OperationService.cs``);
  ``upload_group_file``/``upload_private_file`` hand ``file`` to ``new FileEntity(path)``,
  which opens it as a local path (``UploadGroupFileOperation.cs``): a URL or base64://
  throws; there is no ``download_file``. Segments are read like NapCat's here.
* ``get_version_info`` → ``app_name``: ``go-cqhttp``, ``NapCat.Onebot``,
  ``Lagrange.OneBot`` (``OneBotVersionInfoResponse``: ``Constant.OneBotImpl``).
* ``download_file`` (go-cqhttp ``coolq/api.go`` ``CQDownloadFile(url, headers,
  threadCount)``: the file goes to ``<cache>/<md5(url)>.cache``, the answer is
  ``OK({"file": abs})``, a failed download ``Failed(100, "DOWNLOAD_FILE_ERROR", err)``;
  NapCat ``action/go-cqhttp/DownloadFile.ts`` also takes ``base64`` (with ``name``) and
  answers ``{file}``): the fake fetches URLs itself (loopback included) into a temporary
  cache directory.

Where this fake is stricter than the real servers it says so in the message (they accept
a CQ-code string as ``message`` and turn bad segments into text; this fake refuses both so
that adapters are made to send well-formed segment arrays).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import itertools
import json
import os
import random
import string
import tempfile
import threading
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit

from tests.fakes.base import FakeServer, Recorded, Reply

SEGMENT_FIELDS: dict[str, str] = {
    "text": "text",
    "image": "file",
    "record": "file",
    "video": "file",
    "at": "qq",
    "face": "id",
    "reply": "id",
}
FILE_SEGMENTS = frozenset({"image", "record", "video"})
ALONE_SEGMENTS = frozenset({"record", "video"})


@dataclass
class OneBotSent:
    """One successful send or upload. Iterates as ``(action, target, message)``."""

    action: str
    target: int
    message: list[dict[str, Any]]  # the segment array as received ([] for uploads)
    message_id: int | None = None
    sizes: list[int | None] = field(default_factory=list)  # decoded payload bytes per segment
    file: str | None = None  # upload_*_file
    name: str | None = None
    file_size: int | None = None  # decoded bytes of the uploaded file, None for a URL
    payloads: list[bytes | None] = field(default_factory=list)  # per segment / the upload

    def __iter__(self) -> Iterator[Any]:
        return iter((self.action, self.target, self.message))


class _Fail(Exception):
    def __init__(self, message: str, *, code: str = "", retcode: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code  # go-cqhttp's ``msg`` (an upper-case code)
        self.retcode = retcode  # None: the flavour's default


def _as_id(value: Any) -> int | None:
    """An id as OneBot implementations take it: an int or a string of digits."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


class FakeOneBot(FakeServer):
    """``POST {url}/<action>`` like NapCat (``flavor="napcat"``) or go-cqhttp (``"gocq"``)."""

    def __init__(
        self,
        access_token: str | None = None,
        flavor: str = "napcat",
        *,
        self_id: int = 10001,
        nickname: str = "imcli-bot",
        users: Iterable[int] = (20001, 20002),
        groups: Iterable[int] = (30001, 30002),
        accept_string_message: bool = False,
        check_local_files: bool = True,
    ) -> None:
        if flavor not in ("napcat", "gocq", "lagrange"):
            raise ValueError(f"flavor must be 'napcat', 'gocq' or 'lagrange', not {flavor!r}")
        super().__init__()
        self.access_token = access_token
        #: the server as get_version_info names it; Lagrange talks like NapCat elsewhere
        self.server = flavor
        self.flavor = "napcat" if flavor == "lagrange" else flavor
        self.cache_dir = tempfile.mkdtemp(prefix=f"fake-{flavor}-cache-")
        self.downloads: list[dict[str, Any]] = []  # download_file calls that succeeded
        self.self_id = self_id
        self.nickname = nickname
        self.users: set[int] = {int(u) for u in users}
        self.groups: set[int] = {int(g) for g in groups}
        self.accept_string_message = accept_string_message
        self.check_local_files = check_local_files
        self._sent: list[OneBotSent] = []
        self._ids = itertools.count(random.randint(1_000_000, 1_999_999))
        self._state = threading.Lock()

    def __enter__(self) -> FakeOneBot:  # base.FakeServer.__enter__ is typed as FakeServer
        self.start()
        return self

    @property
    def base_url(self) -> str:
        return self.url

    # -- helpers for tests ---------------------------------------------------------------
    def sent(self) -> list[OneBotSent]:
        """Successful sends and uploads, in order (each unpacks as action, target, message)."""
        with self._state:
            return list(self._sent)

    def messages_to(self, target: int) -> list[OneBotSent]:
        return [s for s in self.sent() if s.target == int(target)]

    # -- reply shapes ----------------------------------------------------------------------
    def _ok(self, data: Any, echo: Any = None) -> Reply:
        if self.server == "lagrange":
            return Reply(json={"status": "ok", "retcode": 0, "data": data, "echo": echo})
        if self.flavor == "gocq":
            return Reply(json={"data": data, "retcode": 0, "status": "ok", "message": ""})
        return Reply(
            json={
                "status": "ok",
                "retcode": 0,
                "data": data,
                "message": "",
                "wording": "",
                "echo": echo,
                "stream": "normal-action",
            }
        )

    def _failed(self, fail: _Fail, echo: Any = None) -> Reply:
        if self.server == "lagrange":  # OneBotResult(null, retcode, "failed"): no text
            retcode = 200 if fail.retcode is None else fail.retcode
            return Reply(json={"status": "failed", "retcode": retcode, "data": None, "echo": echo})
        if self.flavor == "gocq":
            retcode = 100 if fail.retcode is None else fail.retcode
            return Reply(
                json={
                    "data": None,
                    "retcode": retcode,
                    "msg": fail.code or "FAILED",
                    "wording": fail.message,
                    "message": fail.message,
                    "status": "failed",
                }
            )
        retcode = 200 if fail.retcode is None else fail.retcode
        return Reply(
            json={
                "status": "failed",
                "retcode": retcode,
                "data": None,
                "message": fail.message,
                "wording": fail.message,
                "echo": None if retcode == 400 else echo,
                "stream": "normal-action",
            }
        )

    def _param_error(self, key: str, problem: str) -> _Fail:
        # NapCat: the typebox schema check fails -> retcode 400 "Key: <path>, Message: ..."
        # go-cqhttp has no schema; its handlers fail with retcode 100.
        return _Fail(
            f"Key: {key}, Message: {problem}",
            code="PARAM_ERROR",
            retcode=400 if self.flavor == "napcat" else 100,
        )

    def bad_body(self, rec: Recorded, exc: Exception) -> Reply:
        if self.flavor == "napcat":
            return Reply(
                400, body=b"Invalid JSON", headers={"Content-Type": "text/html; charset=utf-8"}
            )
        return Reply(400, body=b"")

    # -- auth ----------------------------------------------------------------------------------
    def _auth(self, rec: Recorded) -> Reply | None:
        token = self.access_token
        if not token:
            return None
        header = rec.headers.get("authorization", "")
        query = rec.query.get("access_token", "")
        if self.flavor == "gocq":
            given = header
            if given:
                _, sep, after = given.partition(" ")
                if sep:
                    given = after
            else:
                given = query
            if given == token:
                return None
            return Reply(401 if given == "" else 403, body=b"")
        given = query if query else (header.split("Bearer ")[-1] if header else "")
        if given == token:
            return None
        return Reply(
            403,
            body=json.dumps({"message": "token verify failed!"}).encode(),
            headers={"Content-Type": "text/html; charset=utf-8"},
        )

    # -- parameters ------------------------------------------------------------------------------
    def _params(self, rec: Recorded) -> dict[str, Any]:
        params: dict[str, Any] = {k: v for k, v in rec.query.items() if k != "access_token"}
        if rec.method == "GET":
            return params
        body_json = rec.json
        if body_json is None and self.flavor == "napcat" and rec.body and not rec.form:
            # NapCat parses any body as JSON(5), whatever its Content-Type says.
            try:
                body_json = json.loads(rec.body.decode("utf-8"))
            except (ValueError, UnicodeDecodeError):
                body_json = None
        merged: dict[str, Any] = {}
        merged.update(rec.form)
        if isinstance(body_json, dict):
            merged.update(body_json)
        if self.flavor == "napcat":
            merged.update(params)  # NapCat: {...body, ...query}
            return merged
        params.update(merged)  # go-cqhttp: JSON first, then form, then query
        return params

    # -- dispatch ----------------------------------------------------------------------------------
    def handle(self, req: Recorded) -> Reply:
        if req.method not in ("GET", "POST"):
            return Reply(404, body=b"") if self.flavor == "gocq" else Reply(404, body=b"Not Found")
        denied = self._auth(req)
        if denied is not None:
            return denied
        params = self._params(req)
        echo = params.get("echo")
        path = req.path.strip("/")
        if path == "":
            if self.flavor == "napcat":
                reply = self._ok({})
                reply.json["message"] = "NapCat4 Is Running"
                return reply
            path = str(params.get("action") or "")
            inner = params.get("params")
            params = inner if isinstance(inner, dict) else {}
        action = path.split("/")[0]
        if self.flavor == "gocq" and action.endswith("_async"):
            action = action[: -len("_async")]
        if self.flavor == "napcat" and echo is None:
            echo = "".join(random.choices(string.ascii_lowercase + string.digits, k=11))
        handler = {
            "get_login_info": self._get_login_info,
            "send_private_msg": self._send_private_msg,
            "send_group_msg": self._send_group_msg,
            "send_msg": self._send_msg,
            "upload_private_file": self._upload_private_file,
            "upload_group_file": self._upload_group_file,
            "get_version_info": self._get_version_info,
            "download_file": self._download_file,
        }.get(action)
        if self.server == "lagrange" and action == "download_file":
            handler = None  # Lagrange has no download_file
        if handler is None and self.server == "lagrange":
            return self._failed(_Fail("", retcode=404), echo)
        if handler is None:
            if self.flavor == "gocq":
                return self._failed(_Fail("API不存在", code="API_NOT_FOUND", retcode=404))
            return self._failed(_Fail(f"不支持的Api {action}"), echo)
        try:
            return self._ok(handler(params), echo)
        except _Fail as fail:
            return self._failed(fail, echo)

    # -- actions --------------------------------------------------------------------------------------
    def _get_login_info(self, params: dict[str, Any]) -> Any:
        return {"user_id": self.self_id, "nickname": self.nickname}

    def _get_version_info(self, params: dict[str, Any]) -> Any:
        if self.server == "gocq":
            return {"app_name": "go-cqhttp", "app_version": "v1.2.0", "protocol_version": "v11"}
        if self.server == "lagrange":
            return {
                "app_name": "Lagrange.OneBot",
                "app_version": "0.0.3",
                "protocol_version": "v11",
                "nt_protocol": "Linux | 3.2.10-25765",
            }
        return {"app_name": "NapCat.Onebot", "app_version": "4.8.0", "protocol_version": "v11"}

    def _download_file(self, params: dict[str, Any]) -> Any:
        url = params.get("url")
        b64 = params.get("base64") if self.flavor == "napcat" else None
        if self.flavor == "gocq":
            thread_count = params.get("thread_count", 1)
            if not isinstance(thread_count, int) or isinstance(thread_count, bool):
                raise _Fail("thread_count must be a number", code="DOWNLOAD_FILE_ERROR")
            headers = params.get("headers", [])
            if not isinstance(headers, (list, str)):
                raise _Fail("headers must be a string or an array", code="DOWNLOAD_FILE_ERROR")
        if isinstance(b64, str) and b64:
            payload = b64.split("base64://", 1)[-1]
            try:
                data = base64.b64decode(payload, validate=True)
            except (binascii.Error, ValueError):
                raise _Fail("base64 解码失败") from None
            key = hashlib.md5(data).hexdigest()
        elif isinstance(url, str) and url.startswith(("http://", "https://")):
            import urllib.request

            try:
                with urllib.request.urlopen(url, timeout=10) as resp:  # noqa: S310
                    data = resp.read()
            except OSError as exc:
                raise _Fail(str(exc), code="DOWNLOAD_FILE_ERROR") from None
            key = hashlib.md5(url.encode()).hexdigest()
        else:
            raise _Fail("不存在任何文件, 无法下载", code="DOWNLOAD_FILE_ERROR")
        path = os.path.join(self.cache_dir, key + ".cache")
        with open(path, "wb") as out:
            out.write(data)
        with self._state:
            self.downloads.append({k: v for k, v in params.items() if k != "base64"})
        return {"file": os.path.abspath(path)}

    def _send_msg(self, params: dict[str, Any]) -> Any:
        kind = params.get("message_type")
        if kind == "group" or (kind is None and params.get("group_id") is not None):
            return self._send_group_msg(params)
        return self._send_private_msg(params)

    def _send_private_msg(self, params: dict[str, Any]) -> Any:
        raw = params.get("user_id")
        if raw is None:
            if self.flavor == "napcat":
                if params.get("group_id") is not None:
                    raise _Fail("当前私聊发送,请指定 user_id 而不是 group_id")
                raise _Fail("请指定正确的 group_id 或 user_id")
            raise _Fail("请参考 go-cqhttp 端输出", code="SEND_MSG_API_ERROR")
        user_id = _as_id(raw)
        if user_id is None:
            raise self._param_error(
                "user_id", f"Expected an integer or a string of digits, got {raw!r}"
            )
        segments, sizes = self._segments(params)
        if user_id not in self.users:
            if self.flavor == "napcat":
                raise _Fail("无法获取用户信息")
            raise _Fail("请参考 go-cqhttp 端输出", code="SEND_MSG_API_ERROR")
        return self._record("send_private_msg", user_id, segments, sizes)

    def _send_group_msg(self, params: dict[str, Any]) -> Any:
        raw = params.get("group_id")
        if raw is None:
            if self.flavor == "napcat":
                raise _Fail(
                    "当前群聊发送,请指定 group_id 而不是 user_id"
                    if params.get("user_id") is not None
                    else "请指定正确的 group_id 或 user_id"
                )
            raise _Fail("群聊不存在", code="GROUP_NOT_FOUND")
        group_id = _as_id(raw)
        if group_id is None:
            raise self._param_error(
                "group_id", f"Expected an integer or a string of digits, got {raw!r}"
            )
        if group_id not in self.groups and self.flavor == "gocq":
            raise _Fail("群聊不存在", code="GROUP_NOT_FOUND")
        segments, sizes = self._segments(params)
        if group_id not in self.groups:
            raise _Fail("发送消息失败")
        return self._record("send_group_msg", group_id, segments, sizes)

    def _record(
        self, action: str, target: int, segments: list[dict[str, Any]], sizes: list[int | None]
    ) -> dict[str, Any]:
        payloads = [
            _content(str(seg["data"].get("file", ""))) if seg["type"] in FILE_SEGMENTS else None
            for seg in segments
        ]
        with self._state:
            message_id = next(self._ids)
            self._sent.append(
                OneBotSent(action, target, segments, message_id, sizes, payloads=payloads)
            )
        return {"message_id": message_id}

    # -- message validation ---------------------------------------------------------------------------
    def _segments(self, params: dict[str, Any]) -> tuple[list[dict[str, Any]], list[int | None]]:
        message = params.get("message")
        if message is None or message == "":
            if self.flavor == "napcat":
                raise self._param_error("message", "Expected union value")
            raise _Fail("消息为空", code="EMPTY_MSG_ERROR")
        if isinstance(message, str):
            if not self.accept_string_message:
                raise self._param_error(
                    "message",
                    "fake OneBot is strict: send a segment array "
                    '([{"type": "text", "data": {"text": "..."}}]), not a CQ-code string',
                )
            message = [{"type": "text", "data": {"text": message}}]
        if isinstance(message, dict):
            raise self._param_error(
                "message", "fake OneBot is strict: wrap the segment in an array"
            )
        if not isinstance(message, list):
            raise self._param_error("message", "Expected union value")
        if not message:
            if self.flavor == "napcat":
                raise _Fail("消息体无法解析, 请检查是否发送了不支持的消息类型")
            raise _Fail("empty message", code="SEND_MSG_API_ERROR")
        sizes: list[int | None] = []
        types: list[str] = []
        for index, seg in enumerate(message):
            if not isinstance(seg, dict) or not isinstance(seg.get("type"), str):
                raise self._param_error(f"message.{index}", "Expected object with a string 'type'")
            data = seg.get("data")
            if not isinstance(data, dict):
                raise self._param_error(f"message.{index}.data", "Expected object")
            kind = seg["type"]
            if kind not in SEGMENT_FIELDS:
                raise _Fail(f"未知的消息类型：{kind}", code="SEND_MSG_API_ERROR")
            key = SEGMENT_FIELDS[kind]
            value = data.get(key)
            if value is None:
                raise self._param_error(
                    f"message.{index}.data.{key}", f"Required property ({kind})"
                )
            size: int | None = None
            if kind == "text":
                if not isinstance(value, str):
                    raise self._param_error(f"message.{index}.data.text", "Expected string")
            elif kind in FILE_SEGMENTS:
                size = self._file_ref(value, kind, f"message.{index}.data.file")
            elif kind == "at":
                if value != "all" and _as_id(value) is None:
                    raise self._param_error(
                        f"message.{index}.data.qq", "Expected a QQ number or 'all'"
                    )
            elif _as_id(value) is None:
                raise self._param_error(
                    f"message.{index}.data.id", "Expected an integer or a string of digits"
                )
            sizes.append(size)
            types.append(kind)
        alone = [t for t in types if t in ALONE_SEGMENTS]
        if alone and len(types) > 1:
            raise _Fail(
                f"{alone[0]} segments must be sent as a message of their own "
                f"(got {len(types)} segments: {', '.join(types)})",
                code="SEND_MSG_API_ERROR",
            )
        return [json.loads(json.dumps(s)) for s in message], sizes

    def _file_ref(self, value: Any, kind: str, key: str) -> int | None:
        """Checks a segment's ``file``; returns the decoded size (None for a URL)."""
        if not isinstance(value, str) or not value:
            raise self._param_error(key, "Expected non-empty string")
        if value.startswith(("http://", "https://")):
            if not urlsplit(value).netloc:
                raise _Fail(f"识别URL失败, uri= {value}", code="SEND_MSG_API_ERROR")
            return None
        if value.startswith("base64://"):
            if self.flavor == "gocq" and kind == "video":
                raise _Fail("invalid video", code="SEND_MSG_API_ERROR")
            return self._b64_size(value[len("base64://") :], key)
        if value.startswith("file://"):
            return self._local_size(self._file_uri_path(value, key), key)
        raise _Fail(
            f"识别URL失败, uri= {value[:80]} (file must be an http(s) URL, file:///abs/path or base64://)",
            code="SEND_MSG_API_ERROR",
        )

    def _file_uri_path(self, value: str, key: str) -> str:
        parts = urlsplit(value)
        path = unquote(parts.path)
        if parts.netloc not in ("", "localhost") or not os.path.isabs(path):
            raise _Fail(
                f"file not found: {value} (use file:///absolute/path)", code="SEND_MSG_API_ERROR"
            )
        return path

    def _local_size(self, path: str, key: str) -> int | None:
        if not self.check_local_files:
            return None
        try:
            return os.path.getsize(path)
        except OSError:
            raise _Fail(f"file not found: {path}", code="SEND_MSG_API_ERROR") from None

    def _b64_size(self, payload: str, key: str) -> int:
        try:  # Go's StdEncoding and Node's Buffer both skip line breaks
            data = base64.b64decode(payload.replace("\r", "").replace("\n", ""), validate=True)
        except (binascii.Error, ValueError):
            raise _Fail(f"{key}: invalid base64 payload", code="SEND_MSG_API_ERROR") from None
        if not data:
            raise _Fail(f"{key}: empty base64 payload", code="SEND_MSG_API_ERROR")
        return len(data)

    # -- file uploads (go-cqhttp extensions, also in NapCat) -----------------------------------------
    def _upload_private_file(self, params: dict[str, Any]) -> Any:
        return self._upload(params, "upload_private_file", "user_id")

    def _upload_group_file(self, params: dict[str, Any]) -> Any:
        return self._upload(params, "upload_group_file", "group_id")

    def _upload(self, params: dict[str, Any], action: str, id_key: str) -> Any:
        raw = params.get(id_key)
        target = _as_id(raw)
        if target is None:
            raise self._param_error(id_key, "Expected an integer or a string of digits")
        file = params.get("file")
        if not isinstance(file, str) or not file:
            raise self._param_error("file", "Expected string")
        name = params.get("name")
        if not isinstance(name, str) or not name:
            raise self._param_error("name", "Expected non-empty string")
        known = self.users if id_key == "user_id" else self.groups
        if self.server == "lagrange":
            # new FileEntity(path) opens a FileStream: a missing path (a URL, base64://)
            # throws, which OperationService answers with (null, 200, "failed")
            if "://" in file or not os.path.isabs(file) or not os.path.isfile(file):
                raise _Fail("")
            size = os.path.getsize(file)
            if target not in known:
                raise _Fail("", retcode=1)  # the upload itself failed: (null, 1, "failed")
            data: Any = None
        elif self.flavor == "gocq":
            size = self._gocq_local_file(file, action)
            if target not in known:
                if id_key == "group_id":
                    raise _Fail("group not found", code="FILE_SYSTEM_API_ERROR")
                raise _Fail("user not found", code="FILE_SYSTEM_UPLOAD_API_ERROR")
            data = None
        else:
            size = self._napcat_file(file)
            if target not in known:
                if id_key == "user_id":
                    raise _Fail(f"私聊{raw}不存在")
                raise _Fail("发送消息失败")
            data = {"file_id": "/" + str(uuid.uuid4())}
        with self._state:
            self._sent.append(
                OneBotSent(action, target, [], None, [], file, name, size, [_content(file)])
            )
        return data

    def _gocq_local_file(self, file: str, action: str) -> int | None:
        """go-cqhttp: ``PathExists(file)`` / ``os.Open(file)`` -- a local path, nothing else."""
        missing = (
            _Fail("文件不存在", code="FILE_NOT_FOUND")
            if action == "upload_group_file"
            else _Fail("打开文件失败", code="OPEN_FILE_ERROR")
        )
        if "://" in file or not os.path.isabs(file):
            raise missing
        if not self.check_local_files:
            return None
        try:
            return os.path.getsize(file)
        except OSError:
            raise missing from None

    def _napcat_file(self, file: str) -> int | None:
        """NapCat: an existing local path, file://, http(s)://, base64:// or data: URI."""
        if os.path.isabs(file) and "://" not in file:
            if not self.check_local_files:
                return None
            if os.path.exists(file):
                return os.path.getsize(file)
            raise _Fail(f"识别URL失败, uri= {file}")
        if file.startswith(("http://", "https://")):
            return None
        if file.startswith("base64://"):
            return self._b64_size(file[len("base64://") :], "file")
        if file.startswith("data:") and ";base64," in file:
            return self._b64_size(file.split(";base64,", 1)[1], "file")
        if file.startswith("file://"):
            path = self._file_uri_path(file, "file")
            if not self.check_local_files:
                return None
            try:
                return os.path.getsize(path)
            except OSError:
                raise _Fail(f"文件处理失败: file not found: {path}") from None
        raise _Fail(f"识别URL失败, uri= {file[:80]}")


def _content(ref: str) -> bytes | None:
    """The bytes a file reference carries: base64:// decoded, a local path or file:// read;
    None for a URL."""
    if ref.startswith("base64://"):
        try:
            return base64.b64decode(ref[len("base64://") :].replace("\n", ""))
        except (binascii.Error, ValueError):
            return None
    path = unquote(urlsplit(ref).path) if ref.startswith("file://") else ref
    if os.path.isabs(path) and os.path.isfile(path):
        with open(path, "rb") as fh:
            return fh.read()
    return None
