"""WeChat Official Account (公众号) customer-service messages, with template fallback.

Every call goes under ``base_url`` (``https://api.weixin.qq.com``) with ``?access_token=…``
(registered as a secret, so every log masks it).

- Token: ``POST /cgi-bin/stable_token`` ``{grant_type: "client_credential", appid, secret}``
  (the quota-friendly endpoint; it returns the same token while it is valid), cached
  across runs like WeCom's. When the API says the token is invalid (40001, 40014, 42001)
  it is renewed once for the whole push; ``force_refresh: true`` is used only when the
  endpoint hands back the token that was just rejected. Credential errors (40013 invalid
  appid, 40125 invalid appsecret, 40164 IP not whitelisted, 48001 api unauthorized, …)
  mean the account is offline: the next account takes over.
- Send: ``POST /cgi-bin/message/custom/send`` ``{touser: OPENID, msgtype, <msgtype>:
  {...}}``. text → ``text {content}`` (markdown rendered as plain text, the title as the
  first line, split at 2048 UTF-8 bytes); image/voice/video → ``POST /cgi-bin/media/upload?
  type=…`` (multipart field ``media``, once per push) then ``image|voice {media_id}`` or
  ``video {media_id, title}``. The current customer-service documentation (and wechatpy's
  ``send_video``) has no ``thumb_media_id`` for video -- the old docs listed one, and
  sending it is reported to fail -- so none is uploaded. Limits, checked before anything
  is sent: image 2 MB (JPG/PNG/GIF/BMP), voice 2 MB (AMR/MP3), video 10 MB (MP4). The
  title of an image or voice goes first as a text message. No file type exists: the
  matrix refuses ``push file``.
- mixed → the text items joined as one text message, then each media item on its own.
- 45015 (the user has not written to the account for 48 hours) and 45047 (the
  customer-service messages allowed since the user last wrote are used up): the target
  fails saying so -- unless the account sets ``template_id``: then a text push is sent as a template
  message (``POST /cgi-bin/message/template/send`` ``{touser, template_id, data: {key:
  {value}}}``), with a note on stderr. ``template_fields`` names the template keys that
  carry the title, the content and the time (default ``title``, ``content``, ``time``);
  every value is one line (lines joined with " / ") cut to the cap WeChat documents for
  the key's type (see TEMPLATE_CAPS; 20 characters for untyped keys) ending with "…",
  and the time is written as the docs show it (``2019年10月1日 15:01``).

-1 (busy) is retried; 45009 (the daily API quota is used up) is retried once only.
"""

from __future__ import annotations

import re
import time
from typing import TYPE_CHECKING, Any

from imcli.errors import AccountOffline, PlatformError, RetryableError, UsageError
from imcli.platforms.base import Field, Formats, PlatformSpec, SendTracker, labelled_sources
from imcli.platforms.weixin import Part, WeixinAdapter

if TYPE_CHECKING:
    from imcli.media import MediaSource
    from imcli.models import Message, Target

MB = 1 << 20

#: Image limit 2 MB: the current "新增临时素材" page (developers.weixin.qq.com/doc/service/
#: api/material/temporary/api_uploadtempmedia) says "文件大小限制：图片2MB/视频10MB" under
#: 注意事项 while its older 其他补充 list keeps "图片(image): 10M"; the earlier page's
#: "请注意" said "图片大小不超过2M", and the API answers 40009 "invalid image size" above
#: it. Both current statements allow 2 MB, only one allows more: 2 MB is the limit.
UPLOAD_LIMITS = {"image": 2 * MB, "voice": 2 * MB, "video": 10 * MB}

SPEC = PlatformSpec(
    name="wechat",
    title="WeChat",
    aliases=("weixin", "wx"),
    user_target="openid of a follower",
    group_target=None,
    group_reason="wechat: group push is not supported",
    api="Official Account customer-service messages",
    refused_kinds={
        "file": "wechat: file push is not supported: customer-service messages have no file type",
    },
    fields=(
        Field("app_id", required=True, help="wx…"),
        Field("app_secret", required=True, secret=True),
        Field("template_id", help="template message used when the 48-hour window is closed"),
        Field(
            "template_fields",
            type=dict,
            help='e.g. {title = "thing1", content = "thing2", time = "time3"}',
        ),
    ),
    # 新增临时素材: "图片(image) 支持PNG\\JPEG\\JPG\\GIF格式; 语音(voice)：2M，播放长度不超过
    # 60s，支持AMR\\MP3格式; 视频(video)：10MB，支持MP4格式"
    formats={
        "image": Formats(("jpeg", "png", "gif"), "JPG, PNG or GIF"),
        "voice": Formats(("amr", "mp3"), "AMR or MP3", "mp3"),
        "video": Formats(("mp4",), "MP4", "mp4"),
    },
    media_limits=UPLOAD_LIMITS,
    default_base_url="https://api.weixin.qq.com",
    adapter="imcli.platforms.wechat:WeChatAdapter",
)

TEXT_LIMIT = 2048  # UTF-8 bytes per text message (conservative: the docs name no limit)
TOKEN_INVALID = frozenset({40001, 40014, 42001})
CREDENTIALS = frozenset({40002, 40013, 40125, 40164, 41002, 41004, 48001, 61024})
BUSY = frozenset({-1})
#: 45009 "reach max api daily quota limit": the day's calls are used up (a rate-limit
#: code, so it is retried, but once only: waiting seconds does not restore it)
QUOTA = frozenset({45009})
WINDOW_CLOSED = 45015
#: 45047 "out of response count limit": the customer-service messages allowed after the
#: user's last message are used up; like 45015, only the user writing again reopens it
QUOTA_USED = 45047
#: why a customer-service message cannot reach the user now, for these codes
NOT_NOW = {
    WINDOW_CLOSED: "48-hour window closed: the user has not written to the account in the "
    "last 48 hours",
    QUOTA_USED: "customer-service quota used up: no more messages may be sent to this user "
    "until they write again",
}
VIDEO_TITLE_LIMIT = 64  # characters; longer titles go first as a text message

#: template value caps by key type (the key without its number: thing1 → thing), from the
#: parameter rules of WeChat's category templates ("参数值内容限制说明": thing 20 characters,
#: character_string/number/letter 32, phone_number 17, car_number 8, name 10, symbol and
#: phrase 5). Since the 2023 template-message change a value is also cut at its first line
#: break ("不能带有换行等控制字符"), so every value is made one line first.
TEMPLATE_CAPS: dict[str, int] = {
    "thing": 20,
    "const": 20,
    "name": 10,
    "character_string": 32,
    "number": 32,
    "letter": 32,
    "phone_number": 17,
    "car_number": 8,
    "symbol": 5,
    "phrase": 5,
}
#: keys without a known type (first, keyword1, the default title/content) are shown cut
#: like thing: the safe cap
UNTYPED_CAP = 20
#: types whose values may hold a symbol: a cut value ends with "…" there; the others
#: (digits only, letters only, …) are cut short without one
_ELLIPSIS_TYPES = frozenset({"thing", "const", "character_string", ""})
DEFAULT_TEMPLATE_FIELDS = {"title": "title", "content": "content", "time": "time"}

_HINTS = {
    43004: "the user does not follow the account",
    40003: "no such openid for this account",
}


def _short_why(exc: PlatformError) -> str:
    """``48-hour window closed`` or ``customer-service quota used up``."""
    return NOT_NOW.get(exc.code, "customer-service message refused").split(":")[0]


def _clean(errmsg: str) -> str:
    """``... rid: 65004ee5-3ca2dfc2-6eb97a55`` / ``, hint: [...]`` → the reason."""
    text = re.split(r",\s*hint:", errmsg, maxsplit=1)[0]
    return re.sub(r"\s*rid:\s*\S+\s*$", "", text).strip()


def key_type(key: str) -> str:
    """``thing1`` → ``thing``, ``character_string21`` → ``character_string``."""
    return re.sub(r"\d+$", "", key.strip().split(".")[0]).lower()


def one_line(value: str) -> str:
    """Lines joined with `` / `` and runs of blanks made one space."""
    lines = [" ".join(line.split()) for line in value.splitlines()]
    return " / ".join(line for line in lines if line)


def template_value(key: str, value: str) -> str:
    """``value`` made acceptable for a template key of that type: one line, within the
    type's cap (TEMPLATE_CAPS, else UNTYPED_CAP), a cut marked with "…" where allowed."""
    kind = key_type(key)
    if kind not in TEMPLATE_CAPS:
        kind = ""
    cap = TEMPLATE_CAPS.get(kind, UNTYPED_CAP)
    value = one_line(value)
    if len(value) <= cap:
        return value
    if kind in _ELLIPSIS_TYPES:
        return value[: cap - 1].rstrip(" /") + "…"
    return value[:cap]


def template_time(t: float | None = None) -> str:
    """The local time as the template docs show it: ``2019年10月1日 15:01``."""
    lt = time.localtime(t)
    return f"{lt.tm_year}年{lt.tm_mon}月{lt.tm_mday}日 {lt.tm_hour:02d}:{lt.tm_min:02d}"


class WeChatAdapter(WeixinAdapter):
    spec = SPEC
    text_limit = TEXT_LIMIT
    token_invalid = TOKEN_INVALID
    credentials = CREDENTIALS
    busy = BUSY
    quota = QUOTA

    def app_id(self) -> str:
        return str(self.account.get("app_id") or "")

    def app_secret(self) -> str:
        return str(self.account.get("app_secret") or "")

    def clean(self, errmsg: str) -> str:
        return _clean(errmsg)

    # -- the token -------------------------------------------------------------------------------
    async def fetch_token(self, stale: str | None) -> tuple[str, float]:
        token, lifetime = await self._stable_token(force=False)
        if stale is not None and token == stale:
            token, lifetime = await self._stable_token(force=True)
        return token, lifetime

    async def _stable_token(self, *, force: bool) -> tuple[str, float]:
        body: dict[str, Any] = {
            "grant_type": "client_credential",
            "appid": self.app_id(),
            "secret": self.app_secret(),
        }
        if force:
            body["force_refresh"] = True
        reply = await self.http.request(
            "POST", self.base_url() + "/cgi-bin/stable_token", json=body, parse=self._token_reply
        )
        token = reply.get("access_token")
        if not isinstance(token, str) or not token:
            raise PlatformError("wechat: stable_token answered no access_token")
        return token, float(reply.get("expires_in") or 7200)

    def dry_run_reply(self, method: str, url: str) -> Any:
        if "/cgi-bin/stable_token" in url or "/cgi-bin/token" in url:
            return {"access_token": "dry-run-token", "expires_in": 7200}
        if "/cgi-bin/media/upload" in url:
            return {"type": "image", "media_id": "dry-run-media-id", "created_at": 0}
        if "/message/template/send" in url:
            return {"errcode": 0, "errmsg": "ok", "msgid": 0}
        return {"errcode": 0, "errmsg": "ok"}

    # -- the adapter interface ------------------------------------------------------------------
    def validate(self, message: Message, targets: list[Target]) -> None:
        for what, src in labelled_sources(message):
            if src.kind not in UPLOAD_LIMITS:  # a file item of a mixed push
                raise UsageError(
                    f"wechat: {what} is not supported: customer-service messages have no file type"
                )
        fields = self.account.get("template_fields")
        if fields is not None:
            bad = [k for k in fields if k not in DEFAULT_TEMPLATE_FIELDS]
            if bad or not all(isinstance(v, str) for v in fields.values()):
                from imcli.errors import ConfigError

                raise ConfigError(
                    f"account {self.account.name!r}: template_fields maps title, content and "
                    'time to template keys, e.g. {title = "thing1", content = "thing2", '
                    'time = "time3"}' + self.account.fix_hint()
                )
        self.check_media(message)

    async def check(self) -> str:
        _, lifetime = await self._stable_token(force=False)
        return f"app {self.app_id()}: access_token ok ({lifetime:.0f} s)"

    async def send_one(self, target: Target, message: Message, tracker: SendTracker) -> None:
        parts = await self.parts(message)  # made once, before the first send
        for i, part in enumerate(parts):
            body = {"touser": target.id.strip(), **part.body(), **message.extra}
            try:
                reply = await self.api(
                    "POST", "/cgi-bin/message/custom/send", json=body, send=True, target=target
                )
            except PlatformError as exc:
                if exc.code not in NOT_NOW:
                    hint = _HINTS.get(exc.code) if isinstance(exc.code, int) else None
                    if hint and not isinstance(exc, (AccountOffline, RetryableError)):
                        raise PlatformError(f"{exc.message}: {hint}", code=exc.code) from None
                    raise
                template_id = self.account.get("template_id")
                if i == 0 and template_id and message.kind == "text":
                    await self._send_template(target, message, str(template_id), exc, tracker)
                    return
                why = (
                    "template messages replace text pushes only"
                    if template_id
                    else "set template_id on the account to send a template message instead"
                )
                raise PlatformError(
                    f"{NOT_NOW[exc.code]} ({exc.message}); {why}", code=exc.code
                ) from None
            tracker.sent(reply.get("msgid"))

    # -- parts -----------------------------------------------------------------------------------
    def _text_parts(self, title: str | None, texts: list[tuple[str, bool]]) -> list[Part]:
        return [
            Part("text", {"content": c}) for c in self.text_chunks(title, texts, markdown_out=False)
        ]

    async def _media_parts(self, src: MediaSource, title: str | None) -> list[Part]:
        title = (title or "").strip() or None
        if src.kind == "video" and title and len(title) <= VIDEO_TITLE_LIMIT:
            media_id = await self.upload(src, "video")
            return [Part("video", {"media_id": media_id, "title": title})]
        out = self._text_parts(title, []) if title else []
        media_id = await self.upload(src, src.kind)
        out.append(Part(src.kind, {"media_id": media_id}))
        return out

    # -- the template fallback ---------------------------------------------------------------------
    def template_data(self, message: Message) -> dict[str, dict[str, str]]:
        from imcli import markup

        text = (message.text or "").strip()
        if message.markdown and text:
            text = markup.to_plain_text(text)
        title = (message.title or "").strip()
        if not text:
            text, title = title, ""
        keys = self.account.get("template_fields") or DEFAULT_TEMPLATE_FIELDS
        values = {
            "title": title,
            "content": text,
            "time": template_time(),
        }
        data: dict[str, dict[str, str]] = {}
        for role in ("title", "content", "time"):
            key = keys.get(role)
            if not key or not values[role]:
                continue
            value = values[role] if role == "time" else template_value(key, values[role])
            data[key] = {"value": value}
        return data

    async def _send_template(
        self,
        target: Target,
        message: Message,
        template_id: str,
        closed: PlatformError,
        tracker: SendTracker,
    ) -> None:
        from imcli import _log

        body = {
            "touser": target.id.strip(),
            "template_id": template_id,
            "data": self.template_data(message),
            **message.extra,
        }
        try:
            reply = await self.api(
                "POST", "/cgi-bin/message/template/send", json=body, send=True, target=target
            )
        except PlatformError as exc:
            if isinstance(exc, AccountOffline):
                raise
            raise PlatformError(
                f"{_short_why(closed)} ({closed.message}); the template message "
                f"{template_id} failed too: {exc.message}",
                code=exc.code,
            ) from None
        tracker.sent(reply.get("msgid"))
        _log.warn(f"wechat {target}: {_short_why(closed)}; sent as template message {template_id}")
