"""WeCom (企业微信) group robot: ``POST /cgi-bin/webhook/send?key=KEY``.

The rules followed (developer.work.weixin.qq.com/document/path/91770, "群机器人配置说明"):

- The account is the robot: ``key`` (the ``key=`` of the webhook URL) or the whole
  ``url``; both secret. A push has no -g/-u: it goes to the robot's group.
- text → ``{"msgtype": "text", "text": {"content"}}``, at most 2048 UTF-8 bytes per
  message (longer texts are cut at source line boundaries into several); the title is
  the first line. ``-o mentioned_list='["@all"]'`` and ``mentioned_mobile_list`` go
  inside ``text``. ``--markdown`` → ``{"msgtype": "markdown", "markdown": {"content"}}``
  (CommonMark passed through, the title as a ``#`` heading), at most 4096 bytes each.
- image → ``{"msgtype": "image", "image": {"base64", "md5"}}``: the bytes themselves,
  JPG or PNG, at most 2 MB before encoding (a URL is downloaded first).
- voice and file → ``POST /cgi-bin/webhook/upload_media?key=KEY&type=voice|file``
  (multipart field ``media``), then ``{"msgtype": "voice"|"file", <type>: {"media_id"}}``;
  voice AMR at most 2 MB, file at most 20 MB (more than 5 bytes). A robot has no video
  message: a video goes as a file. A title or caption is a text message before the media.
- mixed → the text and markdown items as one text (markdown when any is), then each
  media item as its own message, in order; everything is uploaded before the first send.

Answers are ``{errcode, errmsg}``. 45009 (over the 20 messages/min per robot) and -1
(busy) are retried; 93000 (invalid webhook URL: the key is wrong or the robot removed)
means the account is offline.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from imcli.errors import PlatformError
from imcli.platforms._webhook import WebhookAdapter, errcode_parser, register
from imcli.platforms.base import Field, Formats, Limit, PlatformSpec, SendTracker

if TYPE_CHECKING:
    from imcli.media import MediaSource
    from imcli.models import Message, Target

MB = 1 << 20

SPEC = PlatformSpec(
    name="wecom-robot",
    title="WeCom group robot",
    aliases=("qywx-robot",),
    group_target="the robot's group (implicit, no -g)",
    api="group robot webhook (webhook/send)",
    webhook=True,
    one_of=("key", "url"),
    fields=(
        Field("key", secret=True, help="the key=… of the robot's webhook URL"),
        Field("url", secret=True, help="or the whole webhook URL (…/webhook/send?key=…)"),
    ),
    rate_limits=(Limit(20, 60.0, "chat"),),  # 20 messages/min per robot
    # "图片（base64编码前）最大不能超过2M，支持JPG,PNG格式"; voice "仅支持AMR格式" (other
    # audio is converted when ffmpeg is found)
    formats={
        "image": Formats(("jpeg", "png"), "JPG or PNG"),
        "voice": Formats(("amr",), "AMR", "amr"),
    },
    default_base_url="https://qyapi.weixin.qq.com",
    adapter="imcli.platforms.wecom_robot:WeComRobotAdapter",
)

SEND_PATH = "/cgi-bin/webhook/send"
UPLOAD_PATH = "/cgi-bin/webhook/upload_media"
TEXT_LIMIT = 2048  # UTF-8 bytes of text.content
MARKDOWN_LIMIT = 4096  # UTF-8 bytes of markdown.content
IMAGE_LIMIT = 2 * MB  # before base64
VOICE_LIMIT = 2 * MB
FILE_LIMIT = 20 * MB
FILE_MIN = 6  # "大于5个字节"
MENTIONS = ("mentioned_list", "mentioned_mobile_list")  # inside text, not top level
BUSY = frozenset({-1, 45009})
OFFLINE = frozenset({93000})


def utf8_len(text: str) -> int:
    return len(text.encode("utf-8"))


class WeComRobotAdapter(WebhookAdapter):
    spec = SPEC
    reserved = frozenset({"msgtype", "text", "markdown", "image", "voice", "file", "news"})
    url_shape = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=KEY"

    @classmethod
    def media_limit(cls, account: Any, kind: str) -> int | None:
        if cls.converts(kind):
            return None  # the limit is the converted voice's, checked after conversion
        return {"image": IMAGE_LIMIT}.get(kind, FILE_LIMIT)

    def text_messages(self, message: Message) -> int:
        return len(self.text_bodies(message.title, [(message.text or "", message.markdown)]))

    def destination(self) -> str:
        given = self.given_url()
        key = self.field("key") or (given[2].get("key", "") if given else "")
        if given is not None and given[1].rstrip("/") != SEND_PATH:
            raise self.bad_account("url is not a group robot webhook")
        if not key:
            raise self.bad_account("give key (or the whole url)")
        register(key)
        self.key = key
        return self.origin(given) + SEND_PATH

    def dry_run_reply(self, method: str, url: str) -> Any:
        if UPLOAD_PATH in url:
            return {"errcode": 0, "errmsg": "ok", "type": "file", "media_id": "dry-run-media"}
        return {"errcode": 0, "errmsg": "ok"}

    async def check(self) -> str:
        self.url()
        parse = errcode_parser(send=False, busy=BUSY, offline=OFFLINE)
        return await self.probe(parse, params={"key": self.key}, json={})

    # -- checks before anything is sent ------------------------------------------------
    def check_message(self, message: Message) -> None:
        for i, src in enumerate(message.media_sources()):
            what = f"item {i}: {src.kind}" if message.kind == "mixed" else src.kind
            self.check_format(src, what)
            if src.is_url or self.will_convert(src):
                continue  # checked once downloaded or converted
            src.check_size(self.size_limit(src), self.spec.name, what)
            if src.kind not in ("image", "voice") and src.size is not None and src.size < FILE_MIN:
                raise self.refuse(f"{what} {src.filename} must be larger than 5 bytes")

    def size_limit(self, src: MediaSource) -> int:
        return {"image": IMAGE_LIMIT, "voice": VOICE_LIMIT}.get(src.kind, FILE_LIMIT)

    def download_limit(self, src: MediaSource) -> int | None:
        # image and voice URLs are fetched, checked and converted by check_media_first
        return None if src.kind in self.spec.formats else FILE_LIMIT

    # -- the messages ---------------------------------------------------------------------
    def text_bodies(self, title: str | None, texts: list[tuple[str, bool]]) -> list[dict[str, Any]]:
        markdown = any(md for _, md in texts)
        texts = [(t, md) for t, md in texts if t and t.strip()]
        title = (title or "").strip()
        if not texts and title:
            texts, title = [(title, False)], ""
        head = (f"# {title}\n\n" if markdown else f"{title}\n") if title else ""
        limit = (MARKDOWN_LIMIT if markdown else TEXT_LIMIT) - utf8_len(head)
        from imcli import markup

        chunks = markup.pack(
            texts,
            limit=limit,
            measure=utf8_len,
            plain=markup.keep,
            markdown=markup.keep if markdown else markup.to_plain_text,
        )
        if chunks and head:
            chunks[0] = head + chunks[0]
        msgtype = "markdown" if markdown else "text"
        return [{"msgtype": msgtype, msgtype: {"content": c}} for c in chunks]

    async def media_bodies(self, src: MediaSource, caption: str | None) -> list[dict[str, Any]]:
        out = self.text_bodies(caption, []) if caption and caption.strip() else []
        if src.kind == "image":
            local = await self.playable(src)  # downloaded, JPG/PNG checked, ≤ 2 MB
            if local.is_url:  # a dry run
                body = {"base64": f"<base64 of {local.spec}>", "md5": "<md5>"}
            else:
                import base64
                import hashlib

                with local.open() as fh:
                    data = fh.read(IMAGE_LIMIT + 1)
                body = {
                    "base64": base64.b64encode(data).decode("ascii"),
                    "md5": hashlib.md5(data).hexdigest(),  # noqa: S324 - the API's checksum
                }
            return [*out, {"msgtype": "image", "image": body}]
        kind = "voice" if src.kind == "voice" else "file"  # a robot has no video message
        media_id = await self.upload(src, kind)
        return [*out, {"msgtype": kind, kind: {"media_id": media_id}}]

    async def upload(self, src: MediaSource, kind: str) -> str:
        # downloaded, an AMR voice checked (other audio converted), the size checked
        return await self.upload_once(src, lambda local: self._upload(local, kind), kind)

    async def _upload(self, local: MediaSource, kind: str) -> str:
        def files() -> dict[str, Any]:
            return {
                "media": (local.filename, local.open(), local.mime or "application/octet-stream")
            }

        reply = await self.post(
            errcode_parser(send=False, busy=BUSY, offline=OFFLINE),
            url=self.url().replace(SEND_PATH, UPLOAD_PATH),
            params={"key": self.key, "type": kind},
            files=None if local.is_url else files,
            describe={"media": local},
            send=False,
        )
        media_id = reply.get("media_id")
        if not isinstance(media_id, str) or not media_id:
            raise PlatformError("upload failed: webhook/upload_media answered no media_id")
        return media_id

    async def bodies(self, message: Message) -> list[dict[str, Any]]:
        if message.kind == "text":
            return self.text_bodies(message.title, [(message.text or "", message.markdown)])
        if message.kind != "mixed":
            assert message.media is not None
            return await self.media_bodies(message.media, message.title)
        out: list[dict[str, Any]] = []
        title = message.title
        texts = [(it.text or "", it.type == "markdown") for it in message.items if it.is_text]
        if any(t.strip() for t, _ in texts):
            out += self.text_bodies(title, texts)
            title = None
        for it in message.items:
            if it.media is not None:
                out += await self.media_bodies(it.media, it.caption or title)
                title = None
        return out

    async def send_one(self, target: Target, message: Message, tracker: SendTracker) -> None:
        bodies = await self.bodies(message)  # uploads done before the first send
        extra = {k: v for k, v in message.extra.items() if k not in MENTIONS}
        mentions = {k: v for k, v in message.extra.items() if k in MENTIONS}
        parse = errcode_parser(send=True, busy=BUSY, offline=OFFLINE)
        for body in bodies:
            if body["msgtype"] == "text" and mentions:
                body["text"].update(mentions)
            await self.post(parse, params={"key": self.key}, json={**body, **extra})
            tracker.sent(None)
