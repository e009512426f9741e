"""A fake WeCom (企业微信) app-message API for the test suite.

Sources: developer.work.weixin.qq.com (全局错误码 path/90455 or 90313, 发送应用消息 90236,
上传临时素材 90253, 获取access_token 91039), wechatpy ``work/client/api/media.py`` (multipart
field ``media``), and errmsg texts captured from the live API in public repositories:
``invalid credential, hint: [...], from ip: ..., more info at
https://open.work.weixin.qq.com/devtool/query?e=40001`` (also sent as ``Error-Code`` /
``Error-Msg`` headers), ``invalid corpid``, ``corpsecret missing`` (41004 is checked before
the corpid), ``invalid access_token``, ``access_token missing``, ``access_token expired``,
``user & party & tag all invalid`` (81013, with ``invaliduser``), ``All touser & toparty &
totag invalid`` (82001), ``not allow operate another agent with this accesstoken.``
(301002), ``not allow to access from your ip`` (60020), ``media data missing`` (41005),
``api freq out of limit`` (45009). A field of the wrong JSON type makes WeCom prefix its
errmsg with ``Warning: wrong json format.`` and treat the field as invalid.

Stricter than the real API (documented so nobody copies it into an adapter as a fact):
text/markdown content over 2048 bytes is refused with 45002 ``content size out of limit``
(the real API truncates it silently), and ``media_id`` must come from this fake's uploads.
"""

from __future__ import annotations

import itertools
import json
import random
import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from tests.fakes.base import Recorded, Reply
from tests.fakes.weixin import FakeWeixin, WeixinMedia

TEXT_LIMIT = 2048  # bytes, text and markdown content
MEDIA_LIMITS = {  # bytes, per upload type
    "image": 10 * 1024 * 1024,
    "voice": 2 * 1024 * 1024,
    "video": 10 * 1024 * 1024,
    "file": 20 * 1024 * 1024,
}
MEDIA_FORMATS: dict[str, frozenset[str] | None] = {
    "image": frozenset({"jpg", "jpeg", "png"}),
    "voice": frozenset({"amr"}),
    "video": frozenset({"mp4"}),
    "file": None,
}
OVERSIZE = {"image": (40009, "invalid image size"), "video": (40011, "invalid video size")}
MEDIA_MSGTYPES = ("image", "voice", "video", "file")
OTHER_MSGTYPES = frozenset(
    {"textcard", "news", "mpnews", "miniprogram_notice", "template_card", "interactive_taskcard"}
)

RATE_LIMITED = Reply(json={"errcode": 45009, "errmsg": "api freq out of limit"})
SYSTEM_BUSY = Reply(json={"errcode": -1, "errmsg": "system busy"})


@dataclass
class WeComSent:
    touser: list[str]  # the users it reached
    msgtype: str
    body: dict[str, Any]  # the request body as received
    msgid: str
    invaliduser: list[str]


WeComMedia = WeixinMedia


class FakeWeCom(FakeWeixin):
    """``qyapi.weixin.qq.com`` for one corp and one app (agent)."""

    unknown_token = (40014, "invalid access_token")
    media_limits = MEDIA_LIMITS
    media_formats = MEDIA_FORMATS
    oversize = OVERSIZE
    unknown_media_type = (40005, "invalid file type")
    wrong_media_format = (40004, "invalid media type")
    min_media_size = 6  # 5 bytes or fewer: "invalid file size"

    def __init__(
        self,
        corp_id: str = "ww0123456789abcdef",
        corp_secret: str = "wecom-test-secret",
        agent_id: int = 1000002,
        *,
        users: Iterable[str] = ("alice", "bob"),
        ip_blocked: bool = False,
        check_formats: bool = True,
    ) -> None:
        super().__init__(ip_blocked=ip_blocked, check_formats=check_formats)
        self.corp_id = corp_id
        self.corp_secret = corp_secret
        self.agent_id = agent_id
        self.users: set[str] = set(users)
        #: members without a basic interface license (基础接口许可): the send answers
        #: errcode 0 and lists them in ``unlicenseduser``; they receive nothing
        self.unlicensed: set[str] = set()
        self._current_issued = 0.0
        self._sent: list[WeComSent] = []
        self._msgids = itertools.count(1)

    # -- helpers for tests -----------------------------------------------------------------------
    def sent(self) -> list[WeComSent]:
        with self._state:
            return list(self._sent)

    # -- reply shapes ----------------------------------------------------------------------------
    def _err(self, code: int, msg: str, *, warning: bool = False, **extra: Any) -> Reply:
        hint = f"{int(time.time())}_{random.randint(10, 99)}_{secrets.token_hex(16)}"
        text = (
            f"{'Warning: wrong json format. ' if warning else ''}{msg}, hint: [{hint}], "
            f"from ip: 127.0.0.1, more info at https://open.work.weixin.qq.com/devtool/query?e={code}"
        )
        body = {"errcode": code, "errmsg": text}
        body.update(extra)
        return Reply(json=body, headers={"Error-Code": str(code), "Error-Msg": text})

    # -- dispatch ----------------------------------------------------------------------------------
    def handle(self, req: Recorded) -> Reply:
        if self.ip_blocked:
            return self._err(60020, "not allow to access from your ip")
        route = {
            "/cgi-bin/gettoken": self._gettoken,
            "/cgi-bin/message/send": self._message_send,
            "/cgi-bin/media/upload": self._media_upload,
        }.get(req.path.rstrip("/"))
        if route is None:
            return Reply(
                404,
                body=b"<html><body><h1>404 Not Found</h1></body></html>",
                headers={"Content-Type": "text/html"},
            )
        return route(req)

    def _gettoken(self, req: Recorded) -> Reply:
        with self._state:
            self.token_requests += 1
        corpid = req.query.get("corpid", "")
        secret = req.query.get("corpsecret", "")
        if not secret:
            return self._err(41004, "corpsecret missing")
        if not corpid:
            return self._err(41002, "corpid missing")
        if corpid != self.corp_id:
            return self._err(40013, "invalid corpid")
        if secret != self.corp_secret:
            return self._err(40001, "invalid credential")
        # "有效期内重复获取返回相同结果，过期后获取会返回新的access_token" (path/91039)
        with self._state:
            current = self.current_token
            if current is not None and self.tokens.get(current) == "valid":
                left = max(1, 7200 - int(time.monotonic() - self._current_issued))
                return Reply(
                    json={"errcode": 0, "errmsg": "ok", "access_token": current, "expires_in": left}
                )
        token = self.issue_token()
        with self._state:
            self.current_token = token
            self._current_issued = time.monotonic()
        return Reply(json={"errcode": 0, "errmsg": "ok", "access_token": token, "expires_in": 7200})

    # -- message/send ------------------------------------------------------------------------------
    def _message_send(self, req: Recorded) -> Reply:
        body = self._json_body(req)
        if isinstance(body, Reply):
            return body

        agentid = body.get("agentid")
        if agentid is None:
            return self._err(41011, "missing agentid")
        if isinstance(agentid, bool) or not isinstance(agentid, int):
            return self._err(40056, "invalid agentid", warning=True)
        if agentid != self.agent_id:
            return self._err(301002, "not allow operate another agent with this accesstoken.")

        msgtype = body.get("msgtype")
        if not isinstance(msgtype, str) or not msgtype:
            return self._err(
                41008 if msgtype is None else 40008,
                "missing msgtype" if msgtype is None else "invalid message type",
            )
        if msgtype not in ("text", "markdown", *MEDIA_MSGTYPES) and msgtype not in OTHER_MSGTYPES:
            return self._err(40008, "invalid message type")
        problem = self._check_content(msgtype, body.get(msgtype))
        if problem is not None:
            return problem

        touser = body.get("touser")
        toparty, totag = body.get("toparty"), body.get("totag")
        if touser is not None and not isinstance(touser, str):
            return self._err(82001, "All touser & toparty & totag invalid", warning=True)
        wanted = [u for u in (touser or "").split("|") if u]
        if not wanted and not toparty and not totag:
            return self._err(82001, "All touser & toparty & totag invalid")
        if len(wanted) > 1000:
            return self._err(40032, "invalid userid list size")
        if "@all" in wanted:
            reached, invalid = sorted(self.users), []
        else:
            reached = [u for u in wanted if u in self.users]
            invalid = [u for u in wanted if u not in self.users]
        unlicensed = [u for u in reached if u in self.unlicensed]
        reached = [u for u in reached if u not in self.unlicensed]
        if not reached and not unlicensed and not toparty and not totag:
            return self._err(81013, "user & party & tag all invalid", invaliduser="|".join(invalid))
        msgid = f"{next(self._msgids):08d}-{secrets.token_urlsafe(24)}"
        with self._state:
            self._sent.append(
                WeComSent(reached, msgtype, json.loads(json.dumps(body)), msgid, invalid)
            )
        answer = {"errcode": 0, "errmsg": "ok", "invaliduser": "|".join(invalid), "msgid": msgid}
        if unlicensed:
            answer["unlicenseduser"] = "|".join(unlicensed)
        return Reply(json=answer)

    def _check_content(self, msgtype: str, content: Any) -> Reply | None:
        if msgtype in OTHER_MSGTYPES:
            if not isinstance(content, dict):
                return self._err(40035, "invalid parameter")
            return None
        if content is None:
            if msgtype in ("text", "markdown"):
                return self._err(44004, "empty content")
            return self._err(41006, "media_id missing")
        if not isinstance(content, dict):
            return self._err(47001, "data format error", warning=True)
        if msgtype in ("text", "markdown"):
            text = content.get("content")
            if text is None or text == "":
                return self._err(44004, "empty content")
            if not isinstance(text, str):
                return self._err(44004, "empty content", warning=True)
            if len(text.encode("utf-8")) > TEXT_LIMIT:
                return self._err(45002, "content size out of limit")
            return None
        media_id = content.get("media_id")
        if media_id is None or media_id == "":
            return self._err(41006, "media_id missing")
        if not isinstance(media_id, str):
            return self._err(40007, "invalid media_id", warning=True)
        with self._state:
            media = self.media.get(media_id)
        if media is None or media.type != msgtype:
            return self._err(40007, "invalid media_id")
        if msgtype == "video":
            for key, limit in (("title", 128), ("description", 512)):
                value = content.get(key)
                if value is None:
                    continue
                if not isinstance(value, str):
                    return self._err(40035, "invalid parameter", warning=True)
                if len(value.encode("utf-8")) > limit:
                    return self._err(45002, "content size out of limit")
        return None

    # -- media/upload ---------------------------------------------------------------------------------
    def _new_media_id(self) -> str:
        return "3" + secrets.token_urlsafe(48).replace("-", "a").replace("_", "b")

    def _media_upload(self, req: Recorded) -> Reply:
        accepted = self._accept_upload(req)
        if isinstance(accepted, Reply):
            return accepted
        kind, media_id = accepted
        return Reply(
            json={
                "errcode": 0,
                "errmsg": "ok",
                "type": kind,
                "media_id": media_id,
                "created_at": str(int(time.time())),
            }
        )
