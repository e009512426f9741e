"""Lark / Feishu custom bot: ``POST /open-apis/bot/v2/hook/TOKEN``.

The rules followed (open.feishu.cn/document/client-docs/bot-v3/add-custom-bot, "自定义
机器人使用指南"):

- The account is the bot: ``token`` (the last part of the webhook URL) or the whole
  ``url``; ``secret`` when the bot is set to sign. All secret. The host is
  ``open.feishu.cn``; a Lark (larksuite) bot's URL says ``open.larksuite.com``, or set
  ``base_url = "https://open.larksuite.com"`` with a ``token``.
- Signing: ``timestamp`` = now in seconds (a string) and ``sign = base64(hmac_sha256(
  key=f"{timestamp}\\n{secret}", msg=b""))`` in the JSON body; Lark accepts a timestamp
  within an hour of its clock.
- text → ``{"msg_type": "text", "content": {"text"}}`` (``content`` is an object here,
  unlike the IM API's JSON string); with a title → ``{"msg_type": "post", "content":
  {"post": {"zh_cn": {"title", "content": [[{"tag": "text", "text"}]]}}}}``;
  ``--markdown`` → ``{"msg_type": "interactive", "card": {"header": {"title"},
  "elements": [{"tag": "markdown", "content"}]}}`` (the header only with a title). A
  request body may be at most 20 KB: longer texts are cut at source line boundaries
  into messages of at most 18,000 UTF-8 bytes.
- A custom bot cannot upload (images need an image_key that only an app can make):
  image, voice, video, file and mixed are refused with that reason.

Answers are ``{code, msg, data}`` (old bots: ``{StatusCode, StatusMessage}``); 0 is
success. 19021 (bad signature or a stale timestamp) and 19001 (no such bot) mean the
account is offline; 19024 (a keyword missing from the text) and 19022 (IP not allowed)
are definite; 11232 (over 100 messages/min or 5/s) is retried.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from imcli.platforms import lark_api
from imcli.platforms._webhook import WebhookAdapter, errcode_parser, register
from imcli.platforms.base import Field, Limit, PlatformSpec, SendTracker

if TYPE_CHECKING:
    from imcli.models import Message, Target

NO_UPLOAD = (
    "lark-robot: a custom bot cannot upload media (images need an image_key only an app "
    "can make); use `-p lark` with an app for media"
)

SPEC = PlatformSpec(
    name="lark-robot",
    title="Lark/Feishu custom bot",
    aliases=("feishu-robot",),
    group_target="the bot's group (implicit, no -g)",
    api="custom bot webhook (bot/v2/hook)",
    webhook=True,
    one_of=("token", "url"),
    refused_kinds={k: NO_UPLOAD for k in ("image", "voice", "video", "file", "mixed")},
    fields=(
        Field("token", secret=True, help="the last part of the bot's webhook URL"),
        Field("url", secret=True, help="or the whole webhook URL (…/open-apis/bot/v2/hook/…)"),
        Field("secret", secret=True, help="when the bot signs (签名校验)"),
    ),
    rate_limits=(Limit(5, 1.0, "chat"), Limit(100, 60.0, "chat")),  # 100/min, 5/s per bot
    default_base_url="https://open.feishu.cn",
    adapter="imcli.platforms.lark_robot:LarkRobotAdapter",
)

HOOK_PATH = "/open-apis/bot/v2/hook/"
TEXT_LIMIT = 18_000  # UTF-8 bytes a message, within the 20 KB request body
BUSY = frozenset({11232})
OFFLINE = frozenset({19001, 19021})
HINTS = {
    19021: "the signature does not match (check secret) or the clock is over an hour off",
    19024: "the text lacks a keyword the bot's security settings require",
    19022: "this machine's IP is not in the bot's allowed list",
}


def sign(secret: str, timestamp: int) -> str:
    """base64(HMAC-SHA256(key=f"{timestamp}\\n{secret}", msg=b"")): the key and the
    message the other way round from DingTalk's."""
    import base64
    import hashlib
    import hmac

    digest = hmac.new(f"{timestamp}\n{secret}".encode(), b"", hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def utf8_len(text: str) -> int:
    return len(text.encode("utf-8"))


class LarkRobotAdapter(WebhookAdapter):
    spec = SPEC
    reserved = frozenset({"msg_type", "content", "card", "timestamp", "sign"})
    url_shape = "https://open.feishu.cn/open-apis/bot/v2/hook/TOKEN"

    def text_messages(self, message: Message) -> int:
        return len(self.bodies(message))

    def destination(self) -> str:
        given = self.given_url()
        token = self.field("token")
        if given is not None:
            path = given[1]
            if not path.startswith(HOOK_PATH) or "/" in path[len(HOOK_PATH) :].strip("/"):
                raise self.bad_account("url is not a custom bot webhook")
            token = token or path[len(HOOK_PATH) :].strip("/")
        if not token:
            raise self.bad_account("give token (or the whole url)")
        register(token)
        return self.origin(given) + HOOK_PATH + token

    def dry_run_reply(self, method: str, url: str) -> Any:
        return {"code": 0, "msg": "success", "data": {}}

    def signed(self, body: dict[str, Any]) -> dict[str, Any]:
        secret = self.field("secret")
        if not secret:
            return body
        import time

        ts = int(time.time())
        signature = sign(secret, ts)
        register(signature)
        return {"timestamp": str(ts), "sign": signature, **body}

    async def check(self) -> str:
        self.url()
        parse = errcode_parser(send=False, busy=BUSY, offline=OFFLINE, hints=HINTS)
        return await self.probe(parse, frozenset({19022}), json=self.signed({}))

    def bodies(self, message: Message) -> list[dict[str, Any]]:
        from imcli import markup

        title = (message.title or "").strip()
        text = message.text or ""
        if not text.strip():
            text, title = title, ""
        md = message.markdown
        chunks = markup.pack(
            [(text, md)], limit=TEXT_LIMIT - utf8_len(title), measure=utf8_len,
            plain=markup.keep, markdown=markup.keep if md else markup.to_plain_text,
        )  # fmt: skip
        out: list[dict[str, Any]] = []
        for i, chunk in enumerate(chunks):
            head = title if i == 0 else ""
            if md:
                card: dict[str, Any] = {"elements": [{"tag": "markdown", "content": chunk}]}
                if head:
                    card["header"] = {"title": {"tag": "plain_text", "content": head}}
                out.append({"msg_type": "interactive", "card": card})
            elif head:
                post = lark_api.post(head, [[{"tag": "text", "text": chunk}]])
                out.append({"msg_type": "post", "content": {"post": post}})
            else:
                out.append({"msg_type": "text", "content": {"text": chunk}})
        return out

    async def send_one(self, target: Target, message: Message, tracker: SendTracker) -> None:
        parse = errcode_parser(send=True, busy=BUSY, offline=OFFLINE, hints=HINTS)
        for body in self.bodies(message):
            await self.post(parse, json=self.signed({**body, **message.extra}))
            tracker.sent(None)
