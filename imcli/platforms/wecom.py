"""WeCom (企业微信) app messages: ``message/send`` with a cached access_token.

Every call goes under ``base_url`` (``https://qyapi.weixin.qq.com``) with
``?access_token=…`` in the query string (registered as a secret, so every log masks it).

- Token: ``GET /cgi-bin/gettoken?corpid=…&corpsecret=…`` → ``{errcode: 0, access_token,
  expires_in}``, cached across runs (imcli.tokens: keyed by the credentials, file-locked,
  0600) so a cron job running every minute does not call gettoken every minute. When the
  API says the token is invalid or expired (40014, 42001) one new token is fetched for
  the whole push and the request is made again. Credential errors (40001 invalid
  credential, 40013 invalid corpid, 60020 IP not allowed, …) mean the account is offline:
  the next account takes over.
- Send: ``POST /cgi-bin/message/send`` ``{touser: "u1|u2", msgtype, agentid: <int>,
  <msgtype>: {...}}``. The users of one push share requests (up to 1000 users each, within
  the 30/min per-user limit); ``invaliduser`` (no such member) and ``unlicenseduser``
  (a member without a basic interface license) in the answer mark exactly those targets
  failed, even when errcode is 0.
- text → ``text {content}`` (the title as the first line); ``--markdown`` → ``markdown
  {content}`` (CommonMark passed through: WeCom's subset is mostly compatible; the title
  as a ``#`` heading); both split at 2048 UTF-8 bytes on source line boundaries.
- image/voice/video/file → ``POST /cgi-bin/media/upload?type=…`` (multipart field
  ``media``) once per push, then ``image|voice|file {media_id}`` or ``video {media_id,
  title}``. Limits, checked before anything is sent: image 10 MB (JPG/PNG), voice 2 MB
  (AMR), video 10 MB (MP4), file 20 MB. The title is the video's title, otherwise a text
  message sent before the media.
- mixed → the text and markdown items joined as one text (markdown when any item is
  markdown), then each media item as its own message.

45009 (rate limit), 45033 (too many concurrent calls) and -1 (busy) are retried.

:class:`~imcli.platforms.weixin.WeixinAdapter` (token handling, errcode replies, uploads,
message parts), which WeChat shares, holds what is not WeCom's own.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from imcli.errors import (
    ConfigError,
    PlatformError,
)
from imcli.platforms.base import Field, Formats, Limit, PlatformSpec, SendTracker
from imcli.platforms.weixin import Part, WeixinAdapter

if TYPE_CHECKING:
    from imcli.media import MediaSource
    from imcli.models import Message, Target

MB = 1 << 20


def _wecom_key(target: Target) -> object:
    """WeCom userids are not case-sensitive ("不区分大小写", message/send's touser)."""
    tid = target.id.strip()
    return (target.kind, tid.lower() if target.kind == "user" else tid)


UPLOAD_LIMITS = {"image": 10 * MB, "voice": 2 * MB, "video": 10 * MB, "file": 20 * MB}

SPEC = PlatformSpec(
    name="wecom",
    title="WeCom",
    aliases=("qywx", "wxwork"),
    user_target="userId",
    group_target=None,
    group_reason="wecom: group push is not supported (app messages go to users)",
    api="app messages (message/send)",
    fields=(
        Field("corp_id", required=True, help="ww…"),
        Field("corp_secret", required=True, secret=True),
        Field("agent_id", required=True, type=int),
        Field("allow_all", type=bool, default=False, help="allow the @all target"),
    ),
    rate_limits=(Limit(30, 60.0, "chat"),),
    # media/upload (上传临时素材): "图片（image）：10MB，支持JPG,PNG格式; 语音（voice）：2MB，
    # 播放长度不超过60s，仅支持AMR格式; 视频（video）：10MB，支持MP4格式"
    formats={
        "image": Formats(("jpeg", "png"), "JPG or PNG"),
        "voice": Formats(("amr",), "AMR", "amr"),
        "video": Formats(("mp4",), "MP4", "mp4"),
    },
    media_limits=UPLOAD_LIMITS,
    min_media_size=6,  # media/upload: "each file larger than 5 bytes"
    default_base_url="https://qyapi.weixin.qq.com",
    adapter="imcli.platforms.wecom:WeComAdapter",
    target_key=_wecom_key,
)

TEXT_LIMIT = 2048  # UTF-8 bytes, text and markdown content
VIDEO_TITLE_LIMIT = 128  # UTF-8 bytes
BATCH = 1000  # users per message/send request
TOKEN_INVALID = frozenset({40014, 42001})
CREDENTIALS = frozenset(
    {40001, 40013, 40056, 40082, 40091, 41002, 41004, 42009, 60020, 301002}
)  # fmt: skip
BUSY = frozenset({-1, 45009, 45033})


# --------------------------------------------------------------------------- WeCom


def _user_list(reply: dict[str, Any], key: str) -> set[str]:
    """The user ids of a ``message/send`` answer's ``"u1|u2"`` field, lower-cased."""
    return {u.lower() for u in str(reply.get(key) or "").split("|") if u}


def _clean_wecom(errmsg: str) -> str:
    """``invalid credential, hint: [...], from ip: ..., more info at ...`` → the reason."""
    return re.split(r",\s*hint:", errmsg, maxsplit=1)[0].strip()


class WeComAdapter(WeixinAdapter):
    spec = SPEC
    text_limit = TEXT_LIMIT
    token_invalid = TOKEN_INVALID
    credentials = CREDENTIALS
    busy = BUSY

    def app_id(self) -> str:
        return str(self.account.get("corp_id") or "")

    def app_secret(self) -> str:
        return str(self.account.get("corp_secret") or "")

    def agent_id(self) -> int:
        return int(str(self.account.get("agent_id")).strip())

    def clean(self, errmsg: str) -> str:
        return _clean_wecom(errmsg)

    async def fetch_token(self, stale: str | None) -> tuple[str, float]:
        reply = await self.http.request(
            "GET",
            self.base_url() + "/cgi-bin/gettoken",
            params={"corpid": self.app_id(), "corpsecret": self.app_secret()},
            parse=self._token_reply,
        )
        token = reply.get("access_token")
        if not isinstance(token, str) or not token:
            raise PlatformError("wecom: gettoken answered no access_token")
        return token, float(reply.get("expires_in") or 7200)

    def dry_run_reply(self, method: str, url: str) -> Any:
        if "/cgi-bin/gettoken" in url:
            return {
                "errcode": 0,
                "errmsg": "ok",
                "access_token": "dry-run-token",
                "expires_in": 7200,
            }
        if "/cgi-bin/media/upload" in url:
            return {"errcode": 0, "errmsg": "ok", "media_id": "dry-run-media-id"}
        return {"errcode": 0, "errmsg": "ok", "invaliduser": "", "msgid": "dry-run"}

    # -- the adapter interface ------------------------------------------------------------------
    def validate(self, message: Message, targets: list[Target]) -> None:
        allow_all = bool(self.account.get("allow_all"))
        for t in targets:
            uid = t.id.strip()
            if "|" in uid:
                raise self.refuse(f"user id {uid!r} contains '|': give each user with its own -u")
            if uid == "@all" and not allow_all:
                raise self.refuse(
                    "@all sends to every member of the app; set allow_all = true on "
                    f"account {self.account.name!r} to allow it"
                )
        self.agent_id_checked()
        self.check_media(message)

    def agent_id_checked(self) -> int:
        try:
            return self.agent_id()
        except ValueError:
            raise ConfigError(
                f"account {self.account.name!r}: agent_id must be an integer"
                + self.account.fix_hint()
            ) from None

    async def check(self) -> str:
        token, lifetime = await self.fetch_token(None)
        del token
        return f"corp {self.app_id()}, agent {self.agent_id()}: access_token ok ({lifetime:.0f} s)"

    # -- parts ---------------------------------------------------------------------------------
    def _text_parts(self, title: str | None, texts: list[tuple[str, bool]]) -> list[Part]:
        markdown = any(md for _, md in texts)
        msgtype = "markdown" if markdown else "text"
        return [
            Part(msgtype, {"content": c})
            for c in self.text_chunks(title, texts, markdown_out=markdown)
        ]

    async def _media_parts(self, src: MediaSource, title: str | None) -> list[Part]:
        out: list[Part] = []
        title = (title or "").strip() or None
        if src.kind == "video" and title and len(title.encode()) <= VIDEO_TITLE_LIMIT:
            media_id = await self.upload(src, "video")
            return [Part("video", {"media_id": media_id, "title": title})]
        if title:
            out += self._text_parts(title, [])
        media_id = await self.upload(src, src.kind)
        out.append(Part(src.kind, {"media_id": media_id}))
        return out

    # -- fan-out: users share requests ------------------------------------------------------------
    def batches(self, targets: list[Target]) -> list[list[Target]]:
        """Up to 1000 users per request; ``@all`` in a request of its own (the same
        ``@all`` twice is one send)."""
        everyone = [t for t in targets if t.id.strip() == "@all"]
        named = [t for t in targets if t.id.strip() != "@all"]
        batches = [named[i : i + BATCH] for i in range(0, len(named), BATCH)]
        if everyone:
            batches.append(everyone)
        return batches

    async def send_batch(
        self, batch: list[Target], message: Message, trackers: dict[Target, SendTracker]
    ) -> None:
        active = list(batch)
        for part in await self.parts(message):
            if not active:
                break
            reply = await self._send_part(active, part, message.extra)
            active = self._delivered_to(active, reply, trackers)

    async def _send_part(
        self, active: list[Target], part: Part, extra: dict[str, Any]
    ) -> dict[str, Any]:
        """One message to every user still in the batch, in one request."""
        ids = list(dict.fromkeys(t.id.strip() for t in active))
        body = {"touser": "|".join(ids), "agentid": self.agent_id(), **part.body(), **extra}
        for t in active[1:]:  # the per-user limit counts for every user of the request
            await self.http.take_turn(t)
        reply = await self.api(
            "POST",
            "/cgi-bin/message/send",
            json=body,
            send=True,
            target=active[0],
            accept=frozenset({81013}),
        )
        if active[0] in self.http.resent:  # one request carried every user of the batch
            self.http.resent.update(active)
        return reply

    def _delivered_to(
        self, active: list[Target], reply: dict[str, Any], trackers: dict[Target, SendTracker]
    ) -> list[Target]:
        """The users the answer did not refuse (``invaliduser``, ``unlicenseduser``,
        81013: even with errcode 0, those were not delivered)."""
        invalid = _user_list(reply, "invaliduser")
        unlicensed = _user_list(reply, "unlicenseduser")
        code = reply.get("errcode", 0)
        still: list[Target] = []
        for t in active:
            uid = t.id.strip().lower()
            if uid in unlicensed:
                trackers[t].failed(PlatformError(
                    "the user has no basic interface license (unlicenseduser): assign "
                    "one in the WeCom admin console"
                ))  # fmt: skip
            elif uid in invalid or code == 81013:
                trackers[t].failed(PlatformError(_invalid_user(reply, code), code=code or None))
            else:
                trackers[t].sent(reply.get("msgid"))
                still.append(t)
        return still


def _invalid_user(reply: dict[str, Any], code: int) -> str:
    if not code:
        return "invalid user: no such userId in the app's visible range (invaliduser)"
    why = _clean_wecom(str(reply.get("errmsg") or ""))
    return f"invalid user: no such userId in the app's visible range ({why} ({code}))"
