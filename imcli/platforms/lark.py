"""Lark / Feishu: Open Platform IM v1 with app credentials (tenant_access_token).

Every call goes under ``base_url`` (``https://open.feishu.cn``, or
``https://open.larksuite.com`` for Lark) with ``Authorization: Bearer <tenant token>``.

- Token: ``POST /open-apis/auth/v3/tenant_access_token/internal`` ``{app_id, app_secret}``
  → ``{tenant_access_token, expire}``, cached across runs (imcli.tokens: keyed by the
  credentials, file-locked, 0600) and reused until shortly before it expires. When the
  API says a token is missing, invalid or expired (99991661, 99991663, 99991668) one new
  token is fetched for the whole push and the request is made again. Any refusal from
  the token endpoint (10003 invalid param, 10014 app secret invalid, …) means the
  account's credentials are rejected: the next account takes over.
- Send: ``POST /open-apis/im/v1/messages?receive_id_type=…`` with ``{receive_id,
  msg_type, content, uuid}`` where ``content`` is a JSON string and ``uuid`` (one per
  message) makes a resent message count once. The target id picks the type: ``oc_…``
  chat_id, ``ou_…`` open_id, ``on_…`` union_id, an e-mail address email, anything else
  chat_id.
- text → ``text`` ``{"text"}``; with a title or ``--markdown`` → ``post``
  ``{"zh_cn": {"title", "content": [[{"tag": "text"|"md", "text"}], …]}}``. Long texts
  are cut at source line boundaries so that each request body stays within Lark's limits
  (text 150 KB, post 30 KB).
- image → ``POST /open-apis/im/v1/images`` (multipart ``image_type=message``, ``image``)
  then ``image`` ``{"image_key"}`` (with a title: a ``post`` holding the title and the
  image). voice → ``POST /open-apis/im/v1/files`` (``file_type=opus``, ``file_name``,
  ``duration`` in ms when it can be read, ``file``) then ``audio``; a source that is not
  Ogg/Opus is converted with ffmpeg when it is found, else refused before sending.
  video → ``file_type=mp4`` then ``media``; a MOV, WebM or MKV is converted to MP4 the
  same way (the content is checked, not the name); file → ``file_type`` from the extension
  (pdf, doc, xls, ppt, else stream) then ``file``. Lark has no captions: the title of a
  voice, video or file goes first as a text message. Each source is uploaded (and a URL
  downloaded) once per push; the key serves every target. Limits: image 10 MB, others
  30 MB, checked before anything is sent.
- mixed → one ``post`` with the title, the text (``text``), markdown (``md``) and image
  (``img``) items in order; voices, videos and files follow as messages of their own.

Errors ``{code, msg}`` fail the target as ``<msg> (<code>)``; HTTP 429 and code 99991400
obey ``x-ogw-ratelimit-reset``, 230020 (the per-chat frequency limit) is retried too.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from imcli.errors import PlatformError
from imcli.platforms import lark_api
from imcli.platforms.base import (
    Adapter,
    Field,
    Formats,
    Limit,
    PlatformSpec,
    SendTracker,
)

if TYPE_CHECKING:
    from imcli.media import MediaSource
    from imcli.models import Item, Message, Target

MB = 1 << 20

SPEC = PlatformSpec(
    name="lark",
    title="Lark / Feishu",
    aliases=("feishu", "fs"),
    user_target="chatId (also ou_… open_id, on_… union_id, an e-mail)",
    group_target="chatId (oc_…)",
    api="Open Platform IM v1",
    fields=(
        Field("app_id", required=True, help="cli_…"),
        Field("app_secret", required=True, secret=True),
    ),
    rate_limits=(Limit(50, 1.0, "account"), Limit(5, 1.0, "chat")),
    # im/v1/files (上传文件): "opus：OPUS 音频文件。其他格式的音频文件，请转为 OPUS 格式后
    # 上传" and "mp4：MP4 格式视频文件" are the only audio and video types: anything else
    # is converted or refused
    formats={
        "voice": Formats(("ogg-opus",), "Ogg/Opus", "ogg-opus"),
        "video": Formats(("mp4",), "MP4", "mp4"),
    },
    media_limits={"image": 10 * MB, "voice": 30 * MB, "video": 30 * MB, "file": 30 * MB},
    default_base_url="https://open.feishu.cn",
    adapter="imcli.platforms.lark:LarkAdapter",
    send_keys=("uuid",),
)


class LarkAdapter(Adapter):
    """Imported only to send: markup, media, tokens and http are loaded lazily."""

    spec = SPEC

    def __init__(self, account: Any, http: Any) -> None:
        super().__init__(account, http)
        self.auth = self.token_auth(
            lambda stale: self._fetch_token(),
            lambda: (str(self.account.get("app_id")), str(self.account.get("app_secret"))),
        )

    # -- token -----------------------------------------------------------------------
    async def _fetch_token(self) -> tuple[str, float]:
        body = {
            "app_id": str(self.account.get("app_id")),
            "app_secret": str(self.account.get("app_secret")),
        }
        result: tuple[str, float] = await self.http.request(
            "POST",
            self.base_url() + lark_api.TOKEN_PATH,
            json=body,
            headers={"Content-Type": lark_api.JSON},
            parse=lark_api.parse_token,
        )
        return result

    async def _api(
        self,
        path: str,
        *,
        body: dict[str, Any] | None = None,
        params: dict[str, str] | None = None,
        data: dict[str, str] | None = None,
        files: Any = None,
        send: bool = False,
        idempotent: bool = False,
        target: Target | None = None,
        describe: Any = None,
    ) -> dict[str, Any]:
        """One authorised call; a rejected token is renewed once and the call repeated.
        A JSON body goes as compact UTF-8 (what the size limits above measure)."""

        async def request(token: str) -> dict[str, Any]:
            headers = {"Authorization": f"Bearer {token}"}
            if body is not None:
                headers["Content-Type"] = lark_api.JSON
            result: dict[str, Any] = await self.http.request(
                "POST",
                self.base_url() + path,
                params=params,
                headers=headers,
                json=body,
                data=data,
                files=files,
                parse=lark_api.parse_reply,
                send=send,
                idempotent=idempotent,
                target=target,
                describe=describe,
            )
            return result

        try:
            return await self.auth.call(
                request, lambda exc: isinstance(exc, lark_api.TokenRejected)
            )
        except lark_api.TokenRejected as exc:  # the new token was refused too: a plain error
            raise PlatformError(exc.message, code=exc.code, status=exc.status) from None

    def dry_run_reply(self, method: str, url: str) -> Any:
        path = url.split("?", 1)[0]
        if path.endswith(lark_api.TOKEN_PATH):
            return {"code": 0, "msg": "ok", "tenant_access_token": "t-dry-run", "expire": 7200}
        if path.endswith(lark_api.IMAGES_PATH):
            return {"code": 0, "msg": "success", "data": {"image_key": "img_dry_run"}}
        if path.endswith(lark_api.FILES_PATH):
            return {"code": 0, "msg": "success", "data": {"file_key": "file_dry_run"}}
        return {"code": 0, "msg": "success", "data": {"message_id": "om_dry_run"}}

    # -- the adapter interface ----------------------------------------------------------
    def validate(self, message: Message, targets: list[Target]) -> None:
        self.check_media(message)

    async def check(self) -> str:
        token, lifetime = await self._fetch_token()
        del token
        return f"app {self.account.get('app_id')}: tenant_access_token valid for {int(lifetime) // 60} min"

    async def _send(
        self,
        target: Target,
        msg_type: str,
        content: dict[str, Any],
        extra: dict[str, Any],
        tracker: SendTracker,
    ) -> None:
        import uuid

        # one uuid per (message part, target), made once and kept across retries: Lark
        # keeps one message per uuid (for an hour), so a send whose answer was lost is
        # repeated safely. `-o uuid=` is refused before anything is sent (SPEC.send_keys).
        body = {
            "receive_id": target.id.strip(),
            "msg_type": msg_type,
            "content": lark_api.dumps(content),
            **extra,
            "uuid": str(uuid.uuid4()),
        }
        data = await self._api(
            lark_api.MESSAGES_PATH,
            body=body,
            params={"receive_id_type": lark_api.receive_id_type(target.id)},
            send=True,
            idempotent=True,
            target=target,
        )
        tracker.sent(data.get("message_id"))

    # -- text ------------------------------------------------------------------------
    def text_messages(self, message: Message) -> int:
        return len(self._text_contents(message.title, message.text or "", message.markdown))

    def _text_contents(
        self, title: str | None, text: str, markdown: bool
    ) -> list[tuple[str, dict[str, Any]]]:
        """The messages of a text push, ``(msg_type, content)``, laid out once per push."""
        key = ("text", title, text, markdown)
        return self.split_once(key, lambda: self._layout(title, text, markdown))  # type: ignore[no-any-return]

    def _layout(
        self, title: str | None, text: str, markdown: bool
    ) -> list[tuple[str, dict[str, Any]]]:
        """Plain text as ``text`` messages; with a title or markdown, ``post``s. A title
        alone, or one that would leave no room for the text, is a message of its own."""
        title = title.strip() if title and title.strip() else None
        out: list[tuple[str, dict[str, Any]]] = []
        if title is not None and (
            not text.strip() or self._room(title) < lark_api.POST_BODY_LIMIT // 2
        ):
            out += self._plain(title)
            title = None
        if not text.strip():
            return out
        if title is None and not markdown:
            return out + self._plain(text)
        paragraphs = self._paragraphs(text, markdown, self._room(title))
        return out + [("post", content) for content in self.posts(title, paragraphs)]

    @staticmethod
    def _text_size(text: str) -> int:
        return len(lark_api.body_bytes({"content": lark_api.dumps({"text": text})}))

    def _plain(self, text: str) -> list[tuple[str, dict[str, Any]]]:
        """``text`` messages, each body within Lark's limit."""
        from imcli import markup

        chunks = markup.split_source(
            text,
            markdown=False,
            render=markup.keep,
            limit=lark_api.TEXT_BODY_LIMIT,
            measure=self._text_size,
        )
        return [("text", {"text": chunk}) for chunk in chunks]

    @staticmethod
    def _post_size(title: str | None, paragraphs: list[list[dict[str, Any]]]) -> int:
        return len(
            lark_api.body_bytes({"content": lark_api.dumps(lark_api.post(title, paragraphs))})
        )

    def _paragraphs(self, text: str, markdown: bool, room: int) -> list[list[dict[str, Any]]]:
        """``text``/``md`` paragraphs for one text, each fitting a post of its own."""
        from imcli import markup

        tag = "md" if markdown else "text"

        def measure(piece: str) -> int:
            return self._post_size(None, [[{"tag": tag, "text": piece}]])

        pieces = markup.split_source(
            text, markdown=markdown, render=markup.keep, limit=room, measure=measure
        )
        return [[{"tag": tag, "text": p}] for p in pieces if p.strip()]

    def posts(
        self, title: str | None, paragraphs: list[list[dict[str, Any]]]
    ) -> list[dict[str, Any]]:
        """Post contents holding the paragraphs in order, each within the body limit."""
        from imcli import markup

        def fits(n: int, paras: list[list[dict[str, Any]]]) -> bool:
            return self._post_size(title if n == 0 else None, paras) <= lark_api.POST_BODY_LIMIT

        groups = markup.pack_groups(paragraphs, fits)
        return [lark_api.post(title if i == 0 else None, paras) for i, paras in enumerate(groups)]

    def _room(self, title: str | None) -> int:
        return lark_api.POST_BODY_LIMIT - (self._post_size(title, [[]]) if title else 0)

    async def send_text(self, target: Target, message: Message, tracker: SendTracker) -> None:
        contents = self._text_contents(message.title, message.text or "", message.markdown)
        for msg_type, content in contents:
            await self._send(target, msg_type, content, message.extra, tracker)

    async def _send_plain(
        self, target: Target, text: str, extra: dict[str, Any], tracker: SendTracker
    ) -> None:
        for msg_type, content in self._plain(text):
            await self._send(target, msg_type, content, extra, tracker)

    # -- media -----------------------------------------------------------------------
    async def _upload(self, src: MediaSource) -> str:
        """The image_key / file_key for a source, uploaded once per push."""
        return await self.upload_once(src, self._upload_now)

    async def before_upload(self) -> None:
        await self.auth.token()

    async def _upload_now(self, src: MediaSource) -> str:
        """``im/v1/images`` for an image (its image_key), ``im/v1/files`` for the rest
        (its file_key, with the duration in ms when it can be read)."""
        from imcli.media import probe

        if src.kind == "image":
            path, field, key, form = (
                lark_api.IMAGES_PATH,
                "image",
                "image_key",
                {"image_type": "message"},
            )
        else:
            path, field, key = lark_api.FILES_PATH, "file", "file_key"
            form = {"file_type": lark_api.file_type_for(src), "file_name": src.filename}
            duration = probe.duration_ms(src)
            if duration:
                form["duration"] = str(duration)

        def part() -> dict[str, Any]:
            return {field: (src.filename, src.open(), src.mime or "application/octet-stream")}

        data = await self._api(
            path, data=form, files=None if src.is_url else part, describe={**form, field: src}
        )
        value = data.get(key)
        if not isinstance(value, str) or not value:
            raise PlatformError(f"the {field} upload returned no {key}")
        return value

    async def send_media(
        self,
        target: Target,
        src: MediaSource,
        title: str | None,
        extra: dict[str, Any],
        tracker: SendTracker,
    ) -> None:
        title = title.strip() if title and title.strip() else None
        key = await self._upload(src)
        if src.kind == "image":
            if title:
                await self._send(
                    target, "post", lark_api.post(title, [[lark_api.img(key)]]), extra, tracker
                )
            else:
                await self._send(target, "image", {"image_key": key}, extra, tracker)
            return
        if title:  # Lark has no captions: the title goes first
            await self._send_plain(target, title, extra, tracker)
        msg_type = {"voice": "audio", "video": "media"}.get(src.kind, "file")
        await self._send(target, msg_type, {"file_key": key}, extra, tracker)

    # -- mixed -----------------------------------------------------------------------
    async def send_mixed(self, target: Target, message: Message, tracker: SendTracker) -> None:
        title = message.title.strip() if message.title and message.title.strip() else None
        in_post: list[Item] = [it for it in message.items if it.is_text or it.type == "image"]
        others: list[Item] = [it for it in message.items if not (it.is_text or it.type == "image")]
        paragraphs: list[list[dict[str, Any]]] = []
        room = self._room(title)
        for it in in_post:
            if it.is_text:
                paragraphs.extend(self._paragraphs(it.text or "", it.type == "markdown", room))
            else:
                assert it.media is not None
                paragraphs.append([lark_api.img(await self._upload(it.media))])
                if it.caption and it.caption.strip():
                    paragraphs.extend(self._paragraphs(it.caption.strip(), False, room))
        if paragraphs:
            for content in self.posts(title, paragraphs):
                await self._send(target, "post", content, message.extra, tracker)
            title = None
        for it in others:
            assert it.media is not None
            caption = it.caption.strip() if it.caption and it.caption.strip() else None
            heading = "\n".join(t for t in (title, caption) if t) or None
            await self.send_media(target, it.media, heading, message.extra, tracker)
            title = None
