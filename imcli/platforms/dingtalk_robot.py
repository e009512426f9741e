"""DingTalk (钉钉) custom group robot: ``POST /robot/send?access_token=TOKEN``.

The rules followed (open.dingtalk.com, "自定义机器人发送群消息" and "自定义机器人安全设置"):

- The account is the robot: ``token`` (the ``access_token=`` of the webhook URL) or the
  whole ``url``; ``secret`` (``SEC…``) when the robot is set to sign. All three secret.
- Signing: ``timestamp`` = now in milliseconds, ``sign = urlencode(base64(hmac_sha256(
  key=secret, msg=f"{timestamp}\\n{secret}")))``, both as query parameters; DingTalk
  accepts a timestamp within an hour of its clock. The sign is registered as a secret
  (it would let anyone post for that hour).
- text → ``{"msgtype": "text", "text": {"content"}}`` (the title as the first line);
  ``--markdown`` → ``{"msgtype": "markdown", "markdown": {"title", "text"}}``: ``title``
  (the chat list preview) is required, so it is the title, or the text's first line when
  there is none; the title is also a heading of the text. At most 20,000 UTF-8 bytes a
  message; longer texts are cut at source line boundaries.
- image → ``{"msgtype": "link", "link": {"title", "text", "picUrl", "messageUrl"}}`` for
  an http(s) URL that DingTalk fetches itself: a robot cannot upload, so a local file or
  an intranet URL is refused, as are voice, video, file and mixed.
- ``-o at='{"isAtAll": true}'`` and other keys are merged into the body.

Answers are ``{errcode, errmsg}``. 310000 is DingTalk's "security settings check
failed" (the signature, a keyword missing from the text, or the IP list); 300001 (no
such token) means the account is offline; 130101/410100 ("send too fast", over 20
messages/min per robot) and -1 (busy) are retried.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from imcli.platforms._webhook import WebhookAdapter, errcode_parser, first_line, register
from imcli.platforms.base import Field, Limit, PlatformSpec, SendTracker

if TYPE_CHECKING:
    from imcli.models import Message, Target

NO_UPLOAD = (
    "dingtalk-robot: a custom robot cannot upload media; an image goes as a link card "
    "(give an http(s) URL to `push image`)"
)

SPEC = PlatformSpec(
    name="dingtalk-robot",
    title="DingTalk custom robot",
    aliases=("dd-robot",),
    group_target="the robot's group (implicit, no -g)",
    api="custom robot webhook (robot/send)",
    webhook=True,
    one_of=("token", "url"),
    refused_kinds={"voice": NO_UPLOAD, "video": NO_UPLOAD, "file": NO_UPLOAD, "mixed": NO_UPLOAD},
    fields=(
        Field("token", secret=True, help="the access_token=… of the robot's webhook URL"),
        Field("url", secret=True, help="or the whole webhook URL (…/robot/send?access_token=…)"),
        Field("secret", secret=True, help="SEC…, when the robot signs (加签)"),
    ),
    rate_limits=(Limit(20, 60.0, "chat"),),  # 20 messages/min per robot
    default_base_url="https://oapi.dingtalk.com",
    adapter="imcli.platforms.dingtalk_robot:DingTalkRobotAdapter",
)

SEND_PATH = "/robot/send"
TEXT_LIMIT = 20_000  # UTF-8 bytes of a message's text
BUSY = frozenset({-1, 130101, 410100})
OFFLINE = frozenset({300001})
HINTS = {
    310000: "the robot's security settings refused it (signature secret, a keyword the "
    "text must contain, or the IP list)"
}


def sign(secret: str, timestamp_ms: int) -> str:
    """base64(HMAC-SHA256(key=secret, msg=f"{timestamp}\\n{secret}")); the query
    encoding of the request does the urlencode."""
    import base64
    import hashlib
    import hmac

    digest = hmac.new(
        secret.encode("utf-8"), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256
    ).digest()
    return base64.b64encode(digest).decode("ascii")


def utf8_len(text: str) -> int:
    return len(text.encode("utf-8"))


class DingTalkRobotAdapter(WebhookAdapter):
    spec = SPEC
    reserved = frozenset({"msgtype", "text", "markdown", "link", "timestamp", "sign"})
    url_shape = "https://oapi.dingtalk.com/robot/send?access_token=TOKEN"

    def text_messages(self, message: Message) -> int:
        return len(self.text_bodies(message.title, message.text or "", message.markdown))

    def destination(self) -> str:
        given = self.given_url()
        token = self.field("token") or (given[2].get("access_token", "") if given else "")
        if given is not None and given[1].rstrip("/") != SEND_PATH:
            raise self.bad_account("url is not a custom robot webhook")
        if not token:
            raise self.bad_account("give token (or the whole url)")
        register(token)
        self.token = token
        return self.origin(given) + SEND_PATH

    def dry_run_reply(self, method: str, url: str) -> Any:
        return {"errcode": 0, "errmsg": "ok"}

    def params(self) -> dict[str, Any]:
        """The query of one send, signed now when the robot has a secret."""
        params: dict[str, Any] = {"access_token": self.token}
        secret = self.field("secret")
        if secret:
            import time

            ts = int(time.time() * 1000)
            signature = sign(secret, ts)
            register(signature)
            params.update(timestamp=str(ts), sign=signature)
        return params

    async def check(self) -> str:
        self.url()
        parse = errcode_parser(send=False, busy=BUSY, offline=OFFLINE, hints=HINTS)
        return await self.probe(parse, frozenset({310000}), params=self.params(), json={})

    def check_message(self, message: Message) -> None:
        from imcli.media import is_private_url

        for src in message.media_sources():
            if not src.is_url:
                raise self.refuse(
                    f"{src.kind} {src.filename or src.spec}: a custom robot cannot upload; "
                    "give the image as an http(s) URL (DingTalk shows it as a link card)"
                )
            if is_private_url(src.url or ""):
                raise self.refuse(
                    f"{src.kind} {src.spec}: DingTalk fetches the image itself and cannot reach "
                    "this address; give a public URL"
                )

    # -- the messages ---------------------------------------------------------------------
    def text_bodies(self, title: str | None, text: str, markdown: bool) -> list[dict[str, Any]]:
        from imcli import markup

        title = (title or "").strip()
        if not text.strip() and title:
            text, title = title, ("" if not markdown else title)
        if not markdown:
            head = f"{title}\n" if title else ""
            chunks = markup.pack(
                [(text, False)], limit=TEXT_LIMIT - utf8_len(head), measure=utf8_len,
                plain=markup.keep, markdown=markup.to_plain_text,
            )  # fmt: skip
            if chunks and head:
                chunks[0] = head + chunks[0]
            return [{"msgtype": "text", "text": {"content": c}} for c in chunks]
        heading = f"### {title}\n\n" if title and title != text.strip() else ""
        chunks = markup.pack(
            [(text, True)], limit=TEXT_LIMIT - utf8_len(heading), measure=utf8_len,
            plain=markup.keep, markdown=markup.keep,
        )  # fmt: skip
        if chunks and heading:
            chunks[0] = heading + chunks[0]
        # the required preview title: the title, else the first line of the text
        preview = title or first_line(text) or "message"
        return [{"msgtype": "markdown", "markdown": {"title": preview, "text": c}} for c in chunks]

    def bodies(self, message: Message) -> list[dict[str, Any]]:
        if message.kind == "text":
            return self.text_bodies(message.title, message.text or "", message.markdown)
        src = message.media
        assert src is not None and src.url is not None
        name = (message.title or "").strip() or src.filename or "image"
        link = {"title": name, "text": name, "picUrl": src.url, "messageUrl": src.url}
        return [{"msgtype": "link", "link": link}]

    async def send_one(self, target: Target, message: Message, tracker: SendTracker) -> None:
        parse = errcode_parser(send=True, busy=BUSY, offline=OFFLINE, hints=HINTS)
        for body in self.bodies(message):
            await self.post(parse, params=self.params(), json={**body, **message.extra})
            tracker.sent(None)
