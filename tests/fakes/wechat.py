"""A fake WeChat Official Account (公众号) API for the test suite.

Sources: developers.weixin.qq.com (getAccessToken, getStableAccessToken -- POST JSON only,
normal mode returns the same token while it is valid, ``force_refresh: true`` replaces it;
客服消息 message/custom/send; 模板消息 message/template/send; 新增临时素材 media/upload --
image/voice/video/thumb in field ``media``, success ``{type, media_id, created_at}``, for a
thumb ``thumb_media_id``; 全局返回码), wechatpy ``client/api/media.py`` (field ``media``),
and errmsg texts captured from the live API in public repositories: ``invalid appsecret``
(40125), ``invalid appid`` (40013), ``invalid grant_type`` (40002), ``invalid credential,
access_token is invalid or not latest`` (40001), ``access_token expired`` (42001),
``access_token missing`` (41001), ``require subscribe`` (43004), ``response out of time limit
or subscription is canceled`` (45015), ``invalid template_id`` (40037), ``invalid media_id``
(40007), ``media data missing`` (41005), ``invalid image size`` (40009), ``invalid ip <ip>
ipv6 ::ffff:<ip>, not in whitelist`` (40164). Errors end in `` rid: xxxxxxxx-xxxxxxxx-xxxxxxxx``
like today's API; successful token and upload replies have no ``errcode``.

Stricter than the real API: ``media_id`` must come from this fake's uploads (or
:meth:`FakeWeChat.add_media`), and images are limited to 2 MB (the current uploadTempMedia page says
"文件大小限制：图片2MB/视频10MB" in its notes and "图片(image): 10M" further down).
"""

from __future__ import annotations

import itertools
import json
import re
import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from tests.fakes.base import Recorded, Reply
from tests.fakes.weixin import FakeWeixin, WeixinMedia

MEDIA_LIMITS = {
    "image": 2 * 1024 * 1024,
    "voice": 2 * 1024 * 1024,
    "video": 10 * 1024 * 1024,
    "thumb": 64 * 1024,
}
MEDIA_FORMATS = {
    "image": frozenset({"png", "jpeg", "jpg", "gif"}),  # temporary media: no bmp
    "voice": frozenset({"mp3", "wma", "wav", "amr"}),
    "video": frozenset({"mp4"}),
    "thumb": frozenset({"jpg", "jpeg"}),
}
OVERSIZE = {
    "image": (40009, "invalid image size"),
    "voice": (40010, "invalid voice size"),
    "video": (40011, "invalid video size"),
    "thumb": (40012, "invalid thumb size"),
}
CUSTOM_MSGTYPES = frozenset(
    {
        "text",
        "image",
        "voice",
        "video",
        "music",
        "news",
        "mpnews",
        "mpnewsarticle",
        "msgmenu",
        "wxcard",
        "miniprogrampage",
    }
)

RATE_LIMITED = Reply(json={"errcode": 45009, "errmsg": "reach max api daily quota limit"})
OUT_OF_RESPONSE_COUNT = Reply(json={"errcode": 45047, "errmsg": "out of response count limit"})
SYSTEM_BUSY = Reply(json={"errcode": -1, "errmsg": "system error"})


@dataclass
class WeChatSent:
    touser: str
    msgtype: str
    body: dict[str, Any]


@dataclass
class WeChatTemplateSent:
    touser: str
    template_id: str
    data: dict[str, Any]
    url: str | None
    body: dict[str, Any]
    msgid: int

    def shown(self) -> dict[str, str]:
        """What the follower sees of each value (see :func:`template_shown`)."""
        return {k: template_shown(k, v["value"]) for k, v in self.data.items()}


#: Since WeChat's 2023 template-message change (announcement "关于公众号模板消息规则调整",
#: 2023-03/05), a value is shown up to its first line break, and cut at its key type's cap:
#: the 订阅消息/类目模板 parameter rules (developers.weixin.qq.com, "参数值内容限制说明"):
#: thing 20 characters, character_string/number/letter 32, phone_number 17, car_number 8,
#: name 10, symbol/phrase 5; "不能带有换行等控制字符". Untyped keys (first, keyword1,
#: remark) follow the same 20-character cut as thing in this fake.
TEMPLATE_CAPS = {
    "thing": 20, "const": 20, "name": 10, "character_string": 32, "number": 32,
    "letter": 32, "phone_number": 17, "car_number": 8, "symbol": 5, "phrase": 5,
}  # fmt: skip
UNTYPED_CAP = 20
#: time.DATA: "24小时制时间格式(支持+年月日)... 例如:15:01 ,或:2019年10月1日 15:01"
TIME_VALUE = re.compile(
    r"^(\d{4}年\d{1,2}月\d{1,2}日 )?\d{1,2}:\d{2}(:\d{2})?"
    r"(~(\d{4}年\d{1,2}月\d{1,2}日 )?\d{1,2}:\d{2}(:\d{2})?)?$"
)


def template_key_type(key: str) -> str:
    return re.sub(r"\d+$", "", key.split(".")[0]).lower()


def template_shown(key: str, value: str) -> str:
    first = value.split("\n", 1)[0].split("\r", 1)[0]
    cap = TEMPLATE_CAPS.get(template_key_type(key), UNTYPED_CAP)
    return first[:cap]


WeChatMedia = WeixinMedia


def _rid() -> str:
    return "-".join(secrets.token_hex(4) for _ in range(3))


class FakeWeChat(FakeWeixin):
    """``api.weixin.qq.com`` for one Official Account."""

    token_bytes = 96
    media_limits = MEDIA_LIMITS
    media_formats = MEDIA_FORMATS
    oversize = OVERSIZE
    unknown_media_type = (40004, "invalid media type")
    wrong_media_format = (40005, "invalid file type")
    unknown_token = (
        40001,
        "invalid credential, access_token is invalid or not latest, could get access_token "
        "by getStableAccessToken, more details at https://mmbizurl.cn/s/JtxxFh33r",
    )

    def __init__(
        self,
        app_id: str = "wx0123456789abcdef",
        app_secret: str = "wechat-test-secret",
        *,
        followers: Iterable[str] = ("o-alice-openid", "o-bob-openid"),
        closed_window: Iterable[str] = (),
        templates: Iterable[str] = ("tmpl-alert",),
        ip_blocked: bool = False,
        check_formats: bool = True,
    ) -> None:
        super().__init__(ip_blocked=ip_blocked, check_formats=check_formats)
        self.app_id = app_id
        self.app_secret = app_secret
        self.followers: set[str] = set(followers)
        self.closed_window: set[str] = set(closed_window)
        #: followers whose customer-service message quota is used up (45047)
        self.quota_used: set[str] = set()
        self.templates: set[str] = set(templates)
        self._stable_issued = 0.0
        self._sent: list[WeChatSent] = []
        self._templates_sent: list[WeChatTemplateSent] = []
        self._msgids = itertools.count(2_000_000_001)

    @property
    def stable_token(self) -> str | None:
        """The token stable_token hands out while it is valid."""
        return self.current_token

    @stable_token.setter
    def stable_token(self, token: str | None) -> None:
        self.current_token = token

    # -- helpers for tests -----------------------------------------------------------------------
    def sent(self) -> list[WeChatSent]:
        """Customer-service messages that were accepted, in order."""
        with self._state:
            return list(self._sent)

    def templates_sent(self) -> list[WeChatTemplateSent]:
        with self._state:
            return list(self._templates_sent)

    # -- reply shapes ----------------------------------------------------------------------------
    def _err(self, code: int, msg: str) -> Reply:
        return Reply(json={"errcode": code, "errmsg": f"{msg} rid: {_rid()}"})

    # -- dispatch ----------------------------------------------------------------------------------
    def handle(self, req: Recorded) -> Reply:
        if self.ip_blocked:
            return self._err(40164, "invalid ip 127.0.0.1 ipv6 ::ffff:127.0.0.1, not in whitelist")
        route = {
            "/cgi-bin/token": self._token,
            "/cgi-bin/stable_token": self._stable_token,
            "/cgi-bin/message/custom/send": self._custom_send,
            "/cgi-bin/message/template/send": self._template_send,
            "/cgi-bin/media/upload": self._media_upload,
        }.get(req.path.rstrip("/"))
        if route is None:
            return self._err(48001, "api unauthorized")
        return route(req)

    # -- tokens --------------------------------------------------------------------------------------
    def _credentials(self, grant_type: Any, appid: Any, secret: Any) -> Reply | None:
        if grant_type != "client_credential":
            return self._err(40002, "invalid grant_type")
        if not appid:
            return self._err(41002, "appid missing")
        if not secret:
            return self._err(41004, "appsecret missing")
        if appid != self.app_id:
            return self._err(40013, "invalid appid")
        if secret != self.app_secret:
            return self._err(40125, "invalid appsecret")
        return None

    def _token(self, req: Recorded) -> Reply:
        with self._state:
            self.token_requests += 1
        q = req.query
        denied = self._credentials(q.get("grant_type"), q.get("appid"), q.get("secret"))
        if denied is not None:
            return denied
        # Each call makes a new token; the old one keeps working for a while (about 5 min).
        return Reply(json={"access_token": self.issue_token(), "expires_in": 7200})

    def _stable_token(self, req: Recorded) -> Reply:
        with self._state:
            self.token_requests += 1
        if req.method != "POST":
            return self._err(43002, "require POST method")
        body = self._body(req)
        if body is None:
            return self._err(44002, "empty post data")
        if body is ... or not isinstance(body, dict):
            return self._err(47001, "data format error")
        denied = self._credentials(body.get("grant_type"), body.get("appid"), body.get("secret"))
        if denied is not None:
            return denied
        force = body.get("force_refresh", False)
        if not isinstance(force, bool):
            return self._err(47001, "data format error")
        with self._state:
            current = self.stable_token
            if current is not None and self.tokens.get(current) == "valid" and not force:
                left = max(300, 7200 - int(time.monotonic() - self._stable_issued))
                return Reply(json={"access_token": current, "expires_in": left})
            if current is not None:
                self.tokens[current] = "expired" if force else self.tokens.get(current, "expired")
        token = self.issue_token()
        with self._state:
            self.stable_token = token
            self._stable_issued = time.monotonic()
        return Reply(json={"access_token": token, "expires_in": 7200})

    # -- messages --------------------------------------------------------------------------------------
    def _recipient(self, touser: Any, *, window: bool) -> Reply | None:
        if touser is None or touser == "":
            return self._err(40003, "invalid openid")
        if not isinstance(touser, str):
            return self._err(47001, "data format error")
        if touser not in self.followers:
            return self._err(43004, "require subscribe")
        if window and touser in self.closed_window:
            return self._err(45015, "response out of time limit or subscription is canceled")
        if window and touser in self.quota_used:
            return self._err(45047, "out of response count limit")
        return None

    def _custom_send(self, req: Recorded) -> Reply:
        body = self._json_body(req)
        if isinstance(body, Reply):
            return body
        msgtype = body.get("msgtype")
        if not isinstance(msgtype, str) or msgtype not in CUSTOM_MSGTYPES:
            return self._err(40008, "invalid message type")
        content = body.get(msgtype)
        if not isinstance(content, dict):
            return self._err(47001, "data format error")
        if msgtype == "text":
            text = content.get("content")
            if not isinstance(text, str):
                return self._err(47001, "data format error")
            if text == "":
                return self._err(44004, "empty content")
        elif msgtype in ("image", "voice", "video"):
            problem = self._media_ref(content.get("media_id"), (msgtype,))
            if problem is not None:
                return problem
            if msgtype == "video":
                thumb = content.get("thumb_media_id")
                if thumb is not None:
                    problem = self._media_ref(thumb, ("thumb", "image"))
                    if problem is not None:
                        return problem
                for key in ("title", "description"):
                    if key in content and not isinstance(content[key], str):
                        return self._err(47001, "data format error")
        problem = self._recipient(body.get("touser"), window=True)
        if problem is not None:
            return problem
        with self._state:
            self._sent.append(WeChatSent(body["touser"], msgtype, json.loads(json.dumps(body))))
        return Reply(json={"errcode": 0, "errmsg": "ok"})

    def _media_ref(self, media_id: Any, types: tuple[str, ...]) -> Reply | None:
        if media_id is None or media_id == "":
            return self._err(40007, "invalid media_id")
        if not isinstance(media_id, str):
            return self._err(47001, "data format error")
        with self._state:
            media = self.media.get(media_id)
        if media is None or media.type not in types:
            return self._err(40007, "invalid media_id")
        return None

    def _template_send(self, req: Recorded) -> Reply:
        body = self._json_body(req)
        if isinstance(body, Reply):
            return body
        template_id = body.get("template_id")
        if not isinstance(template_id, str) or template_id not in self.templates:
            return self._err(40037, "invalid template_id")
        data = body.get("data")
        if not isinstance(data, dict):
            return self._err(47001, "data format error")
        for key, value in data.items():
            if not isinstance(value, dict) or not isinstance(value.get("value"), str):
                return self._err(47001, "data format error")
            if template_key_type(key) == "time" and not TIME_VALUE.match(value["value"]):
                return self._err(47003, f"argument invalid! data.{key}.value invalid")
        url = body.get("url")
        if url is not None and not isinstance(url, str):
            return self._err(47001, "data format error")
        problem = self._recipient(body.get("touser"), window=False)
        if problem is not None:
            return problem
        msgid = next(self._msgids)
        with self._state:
            self._templates_sent.append(
                WeChatTemplateSent(
                    body["touser"],
                    template_id,
                    json.loads(json.dumps(data)),
                    url,
                    json.loads(json.dumps(body)),
                    msgid,
                )
            )
        return Reply(json={"errcode": 0, "errmsg": "ok", "msgid": msgid})

    # -- media/upload ----------------------------------------------------------------------------------
    def _media_upload(self, req: Recorded) -> Reply:
        accepted = self._accept_upload(req)
        if isinstance(accepted, Reply):
            return accepted
        kind, media_id = accepted
        created = int(time.time())
        if kind == "thumb":
            return Reply(json={"type": "thumb", "thumb_media_id": media_id, "created_at": created})
        return Reply(json={"type": kind, "media_id": media_id, "created_at": created})
