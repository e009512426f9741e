"""What WeCom and WeChat share: the ``?access_token=`` calls with errcode replies, the
media uploads and the messages of a push (:class:`WeixinAdapter`, which each platform's
adapter subclasses, declaring its limits, formats and errcodes).

Both answer ``{errcode, errmsg, ...}`` (errcode 0 or absent: ok), judge an upload's format
by its file name's extension, and take a push as a list of messages that is the same for
every target (:class:`Part`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar

from imcli.errors import (
    AccountOffline,
    PlatformError,
    RetryableError,
)
from imcli.platforms.base import Adapter, OncePerPush, json_object

if TYPE_CHECKING:
    import httpx

    from imcli.media import MediaSource
    from imcli.models import Message, Target


def upload_name(src: MediaSource) -> str:
    """The file name to upload as: WeCom and WeChat judge the format by its extension,
    so it is the content's (a JPEG named ``shot`` goes as ``shot.jpg``)."""
    from imcli.media import probe

    return probe.extension_for(src)


def errcode_reply(
    resp: httpx.Response,
    *,
    credentials: frozenset[int],
    busy: frozenset[int],
    clean: Callable[[str], str],
    accept: frozenset[int] = frozenset(),
    quota: frozenset[int] = frozenset(),
) -> dict[str, Any]:
    """``{errcode, errmsg, ...}`` replies (WeCom and WeChat); errcode 0 or absent is ok."""
    from imcli.http import retry_after_header

    if resp.status_code == 429 or resp.status_code >= 500:
        try:
            data = resp.json()
        except ValueError:
            data = None
        raise RetryableError(
            f"HTTP {resp.status_code}" + (f": {data}" if isinstance(data, dict) else ""),
            retry_after=retry_after_header(resp),
            status=resp.status_code,
        )
    data = json_object(resp)
    code = data.get("errcode", 0)
    if code in (0, None) or code in accept:
        return data
    text = f"{clean(str(data.get('errmsg') or 'error'))} ({code})"
    if code in busy:
        raise RetryableError(text, code=code, status=resp.status_code)
    if code in quota:  # a quota that waiting seconds will not restore: one retry only
        raise RetryableError(text, code=code, status=resp.status_code, retries=1)
    if code in credentials:
        raise AccountOffline(text, reason="credentials", code=code, status=resp.status_code)
    raise PlatformError(text, code=code, status=resp.status_code)


class Part:
    """One message of a push, the same for every target: ``{msgtype, <msgtype>: {...}}``."""

    def __init__(self, msgtype: str, content: dict[str, Any]) -> None:
        self.msgtype = msgtype
        self.content = content

    def body(self) -> dict[str, Any]:
        return {"msgtype": self.msgtype, self.msgtype: dict(self.content)}


class WeixinAdapter(Adapter):
    """What WeCom and WeChat share: the cached access_token, errcode replies, uploads."""

    # what each platform declares
    text_limit: ClassVar[int]  # UTF-8 bytes of one text message
    token_invalid: ClassVar[frozenset[int]]  # errcodes: the token is no longer valid
    credentials: ClassVar[frozenset[int]]  # errcodes: the credentials are refused
    busy: ClassVar[frozenset[int]]  # errcodes: come back later
    quota: ClassVar[frozenset[int]] = frozenset()

    def __init__(self, account: Any, http: Any) -> None:
        super().__init__(account, http)
        self.auth = self.token_auth(self.fetch_token, lambda: (self.app_id(), self.app_secret()))
        self._parts: OncePerPush[int, list[Part]] = OncePerPush()  # id(message) → its parts

    # -- what subclasses provide ---------------------------------------------------------
    def app_id(self) -> str:
        raise NotImplementedError

    def app_secret(self) -> str:
        raise NotImplementedError

    async def fetch_token(self, stale: str | None) -> tuple[str, float]:
        """Ask the platform for a token: (token, lifetime in seconds)."""
        raise NotImplementedError

    def clean(self, errmsg: str) -> str:
        return errmsg.strip()

    # -- replies -----------------------------------------------------------------------------
    def parse(self, accept: frozenset[int] = frozenset()) -> Callable[[httpx.Response], Any]:
        def parse(resp: httpx.Response) -> dict[str, Any]:
            return errcode_reply(
                resp,
                credentials=self.credentials,
                busy=self.busy,
                clean=self.clean,
                accept=accept,
                quota=self.quota,
            )

        return parse

    # -- the access token ------------------------------------------------------------------------
    def _token_reply(self, resp: httpx.Response) -> dict[str, Any]:
        """A token endpoint's answer: any refusal other than "later" is the credentials."""
        try:
            return self.parse()(resp)  # type: ignore[no-any-return]
        except PlatformError as exc:
            if exc.code is None or isinstance(exc, (AccountOffline, RetryableError)):
                raise  # "later", or no errcode at all (a proxy's page): not the credentials
            raise AccountOffline(exc.message, reason="credentials", code=exc.code) from None

    async def api(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
        files: Callable[[], Any] | None = None,
        send: bool = False,
        target: Target | None = None,
        describe: Any = None,
        accept: frozenset[int] = frozenset(),
    ) -> dict[str, Any]:
        """A call with ``?access_token=``; a token the platform rejects is renewed once."""
        url = self.base_url() + path

        async def request(token: str) -> dict[str, Any]:
            result: dict[str, Any] = await self.http.request(
                method,
                url,
                params={"access_token": token, **(params or {})},
                json=json,
                files=files,
                parse=self.parse(accept),
                send=send,
                target=target,
                describe=describe,
            )
            return result

        return await self.auth.call(request, lambda exc: exc.code in self.token_invalid)

    # -- media -------------------------------------------------------------------------------
    async def upload(self, src: MediaSource, upload_type: str) -> str:
        """The media_id of ``src``: downloaded and uploaded once per push."""
        return await self.upload_once(
            src, lambda local: self._upload(local, upload_type), upload_type
        )

    async def before_upload(self) -> None:
        await self.auth.token()

    async def _upload(self, local: MediaSource, upload_type: str) -> str:
        name = upload_name(local)
        mime = local.mime or "application/octet-stream"

        def files() -> dict[str, Any]:
            return {"media": (name, local.open(), mime)}

        reply = await self.api(
            "POST",
            "/cgi-bin/media/upload",
            params={"type": upload_type},
            files=None if local.is_url else files,
            describe={"media": local},
        )
        media_id = reply.get("media_id") or reply.get("thumb_media_id")
        if not isinstance(media_id, str) or not media_id:
            raise PlatformError(f"{self.spec.name}: the upload answered no media_id")
        return media_id

    # -- the messages of a push ------------------------------------------------------------
    async def parts(self, message: Message) -> list[Part]:
        """Every message of the push, uploads done; made once per push."""

        async def make() -> list[Part]:
            return await self._make_parts(message)

        return await self._parts.get(id(message), make)

    async def _make_parts(self, message: Message) -> list[Part]:
        out: list[Part] = []
        if message.kind == "text":
            out += self._text_parts(message.title, [(message.text or "", message.markdown)])
        elif message.kind == "mixed":
            texts = [(it.text or "", it.type == "markdown") for it in message.items if it.is_text]
            title = message.title
            if texts:
                out += self._text_parts(title, texts)
                title = None
            for it in message.items:
                if it.is_text or it.media is None:
                    continue
                out += await self._media_parts(it.media, it.caption or title)
                title = None
        else:
            assert message.media is not None
            out += await self._media_parts(message.media, message.title)
        return out

    async def prepare(self, message: Message) -> None:
        await self.parts(message)  # uploads done once, before any send

    def _text_parts(self, title: str | None, texts: list[tuple[str, bool]]) -> list[Part]:
        raise NotImplementedError

    def text_messages(self, message: Message) -> int:
        return len(self._text_parts(message.title, [(message.text or "", message.markdown)]))

    async def _media_parts(self, src: MediaSource, title: str | None) -> list[Part]:
        raise NotImplementedError

    # -- text --------------------------------------------------------------------------------

    def text_chunks(
        self, title: str | None, texts: list[tuple[str, bool]], *, markdown_out: bool
    ) -> list[str]:
        """Messages of at most ``text_limit`` UTF-8 bytes: the title first, then the texts.

        ``markdown_out``: the platform renders markdown (WeCom ``markdown``); the source is
        passed through and the title becomes a ``#`` heading. Otherwise markdown items are
        rendered as plain text and the title is the first line.
        """
        key = ("text_chunks", title, tuple(texts), markdown_out)
        return list(
            self.split_once(key, lambda: self._text_chunks(title, texts, markdown_out=markdown_out))
        )

    def _text_chunks(
        self, title: str | None, texts: list[tuple[str, bool]], *, markdown_out: bool
    ) -> list[str]:
        from imcli import markup

        return markup.pack_titled(
            title,
            texts,
            heading=(lambda t: f"# {t}\n\n") if markdown_out else (lambda t: f"{t}\n"),
            limit=self.text_limit,
            measure=markup.utf8_len,
            plain=markup.keep,
            markdown=markup.keep if markdown_out else markup.to_plain_text,
        )
