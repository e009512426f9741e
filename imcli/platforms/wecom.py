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

:class:`WeixinAdapter` (token handling, errcode replies, uploads, message parts) is shared
with :mod:`imcli.platforms.wechat`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, ClassVar

from imcli.errors import (
    AccountOffline,
    ConfigError,
    ImcliError,
    PlatformError,
    RetryableError,
    UsageError,
)
from imcli.platforms.base import (
    Adapter,
    Field,
    Formats,
    Limit,
    PlatformSpec,
    SendTracker,
    upload_failed,
)

if TYPE_CHECKING:
    import httpx

    from imcli.media import MediaSource
    from imcli.models import Message, Target, TargetResult
    from imcli.tokens import TokenCache

MB = 1 << 20


def _wecom_key(target: Target) -> object:
    """WeCom userids are not case-sensitive ("不区分大小写", message/send's touser)."""
    tid = target.id.strip()
    return (target.kind, tid.lower() if target.kind == "user" else tid)


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
    default_base_url="https://qyapi.weixin.qq.com",
    adapter="imcli.platforms.wecom:WeComAdapter",
    target_key=_wecom_key,
)

TEXT_LIMIT = 2048  # UTF-8 bytes, text and markdown content
VIDEO_TITLE_LIMIT = 128  # UTF-8 bytes
BATCH = 1000  # users per message/send request
UPLOAD_LIMITS = {"image": 10 * MB, "voice": 2 * MB, "video": 10 * MB, "file": 20 * MB}
TOKEN_INVALID = frozenset({40014, 42001})
CREDENTIALS = frozenset(
    {40001, 40013, 40056, 40082, 40091, 41002, 41004, 42009, 60020, 301002}
)  # fmt: skip
BUSY = frozenset({-1, 45009, 45033})


# --------------------------------------------------------------------------- shared parts


def upload_name(src: MediaSource) -> str:
    """The file name to upload as: WeCom and WeChat judge the format by its extension,
    so it is the content's (a JPEG named ``shot`` goes as ``shot.jpg``)."""
    from imcli.media import probe

    return probe.extension_for(src)


def labelled_sources(message: Message) -> list[tuple[str, MediaSource]]:
    """Each media source with how to name it in an error (``item 3: image`` in mixed)."""
    if message.kind != "mixed":
        return [(src.kind, src) for src in message.media_sources()]
    return [(f"item {i}: {it.type}", it.media) for i, it in enumerate(message.items) if it.media]


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
    from imcli.http import json_reply, retry_after_header

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
    data = json_reply(resp)
    if not isinstance(data, dict):
        raise PlatformError(f"unexpected answer (HTTP {resp.status_code})", status=resp.status_code)
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

    text_limit: ClassVar[int] = TEXT_LIMIT
    upload_limits: ClassVar[dict[str, int]] = UPLOAD_LIMITS
    token_invalid: ClassVar[frozenset[int]] = TOKEN_INVALID
    credentials: ClassVar[frozenset[int]] = CREDENTIALS
    busy: ClassVar[frozenset[int]] = BUSY
    quota: ClassVar[frozenset[int]] = frozenset()
    min_size: ClassVar[int] = 1  # bytes

    @classmethod
    def media_limit(cls, account: Any, kind: str) -> int | None:
        if cls.converts(kind):
            return None  # the limit applies to the converted file
        return cls.upload_limits.get(kind)

    def __init__(self, account: Any, http: Any) -> None:
        import asyncio

        super().__init__(account, http)
        self._cache: TokenCache | None = None
        self._token: str | None = None
        self._token_lock = asyncio.Lock()
        self._token_error: PlatformError | None = None
        self._media: dict[tuple[str, int], str | ImcliError] = {}
        self._media_lock = asyncio.Lock()

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
    def _tokens(self) -> TokenCache:
        if self._cache is None:
            from imcli.tokens import TokenCache, cache_key

            key = cache_key(self.spec.name, self.base_url(), self.app_id(), self.app_secret())
            self._cache = TokenCache(key, enabled=not self.http.dry_run, budget=self.http.budget)
        return self._cache

    def _token_reply(self, resp: httpx.Response) -> dict[str, Any]:
        """A token endpoint's answer: any refusal other than "later" is the credentials."""
        try:
            return self.parse()(resp)  # type: ignore[no-any-return]
        except PlatformError as exc:
            if exc.code is None or isinstance(exc, (AccountOffline, RetryableError)):
                raise  # "later", or no errcode at all (a proxy's page): not the credentials
            raise AccountOffline(exc.message, reason="credentials", code=exc.code) from None

    async def access_token(self, stale: str | None = None) -> str:
        """The token; with ``stale``, a new one unless someone already renewed it."""
        async with self._token_lock:
            if self._token_error is not None:
                raise self._token_error  # failed once: the other targets need not ask again
            if self._token is not None and self._token != stale:
                return self._token

            async def fetch() -> tuple[str, float]:
                return await self.fetch_token(stale)

            try:
                self._token = await self._tokens().get(fetch, stale=stale)
            except PlatformError as exc:
                self._token_error = exc
                raise
            return self._token

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
        token = await self.access_token()
        for attempt in (0, 1):
            try:
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
            except PlatformError as exc:
                if attempt or exc.code not in self.token_invalid:
                    raise
                token = await self.access_token(stale=token)
        raise AssertionError("unreachable")

    # -- media -------------------------------------------------------------------------------
    def check_media(self, message: Message) -> None:
        """Sizes and formats, before anything is sent (exit 2, naming the limit). A URL
        is checked the same way once downloaded, before it is uploaded."""
        for what, src in labelled_sources(message):
            self.check_format(src, what)
            if src.is_url or self.will_convert(src):
                continue  # checked once downloaded or converted
            src.check_size(self.upload_limits[src.kind], self.spec.name, what)
            if src.size is not None and src.size < self.min_size:
                raise UsageError(
                    f"{self.spec.name}: {what} {src.filename or src.spec} is {src.size} bytes; "
                    f"{self.spec.name} takes media of at least {self.min_size} bytes"
                )

    def size_limit(self, src: MediaSource) -> int:
        return self.upload_limits[src.kind]

    async def upload(self, src: MediaSource, upload_type: str) -> str:
        """The media_id of ``src``: downloaded and uploaded once per push."""
        key = (upload_type, id(src))
        async with self._media_lock:
            got = self._media.get(key)
            if got is None:
                try:
                    got = await self._upload(src, upload_type)
                except (UsageError, ConfigError):
                    raise
                except ImcliError as exc:
                    got = exc
                self._media[key] = got
        if isinstance(got, ImcliError):
            raise got
        return got

    async def _upload(self, src: MediaSource, upload_type: str) -> str:
        local = await self.playable(src)
        name = upload_name(local)
        mime = local.mime or "application/octet-stream"

        def files() -> dict[str, Any]:
            return {"media": (name, local.open(), mime)}

        await self.access_token()  # a token problem is not an upload problem
        try:
            reply = await self.api(
                "POST",
                "/cgi-bin/media/upload",
                params={"type": upload_type},
                files=None if local.is_url else files,
                describe={"media": local},
            )
        except PlatformError as exc:
            raise upload_failed(exc) from None
        media_id = reply.get("media_id") or reply.get("thumb_media_id")
        if not isinstance(media_id, str) or not media_id:
            raise PlatformError(f"{self.spec.name}: the upload answered no media_id")
        return media_id

    # -- the messages of a push ------------------------------------------------------------
    async def parts(self, message: Message) -> list[Part]:
        """Every message of the push, uploads done (once)."""
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

    async def parts_or_fail(
        self,
        targets: list[Target],
        message: Message,
        results: dict[Target, TargetResult],
        on_done: Callable[[TargetResult], None] | None,
    ) -> list[Part] | None:
        """The push's messages (uploads done once); if that fails, every target fails
        with the reason (an offline account's targets then go to the next account)."""
        try:
            return await self.parts(message)
        except (UsageError, ConfigError):
            raise
        except ImcliError as exc:
            for t in targets:
                fail(results[t], exc, on_done)
            return None

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

        texts = [(t, md) for t, md in texts if t and t.strip()]
        heading = ""
        if title and title.strip():
            if not texts:
                texts = [(title.strip(), False)]
            else:
                heading = f"# {title.strip()}\n\n" if markdown_out else f"{title.strip()}\n"
                if markup.utf8_len(heading) > self.text_limit // 2:
                    # a title that would leave no room for the text: its own message(s)
                    texts, heading = [(title.strip(), False), *texts], ""
        room = self.text_limit - markup.utf8_len(heading)
        chunks: list[str] = []
        for text, md in texts:
            render = markup.to_plain_text if md and not markdown_out else _keep
            for piece in markup.split_source(
                text, markdown=md, render=render, limit=room, measure=markup.utf8_len
            ):
                joined = chunks[-1] + "\n\n" + piece if chunks else ""
                if chunks and markup.utf8_len(joined) <= room:
                    chunks[-1] = joined
                else:
                    chunks.append(piece)
        if chunks and heading:
            chunks[0] = heading + chunks[0]
        return chunks


def _keep(text: str) -> str:
    return text


def cut_utf8(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` UTF-8 bytes, never inside a character."""
    data = text.encode("utf-8")
    if len(data) <= limit:
        return text
    return data[:limit].decode("utf-8", "ignore")


def fail(
    res: TargetResult, exc: ImcliError, on_done: Callable[[TargetResult], None] | None
) -> None:
    res.ok = False
    res.error = exc.message
    res.error_exc = exc
    if on_done is not None:
        on_done(res)


# --------------------------------------------------------------------------- WeCom


def _user_list(reply: dict[str, Any], key: str) -> set[str]:
    """The user ids of a ``message/send`` answer's ``"u1|u2"`` field, lower-cased."""
    return {u.lower() for u in str(reply.get(key) or "").split("|") if u}


def _clean_wecom(errmsg: str) -> str:
    """``invalid credential, hint: [...], from ip: ..., more info at ...`` → the reason."""
    return re.split(r",\s*hint:", errmsg, maxsplit=1)[0].strip()


class WeComAdapter(WeixinAdapter):
    spec = SPEC
    min_size = 6  # "each file larger than 5 bytes"

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

    async def send_one(self, target: Target, message: Message, tracker: SendTracker) -> None:
        results = {target: tracker.result}
        await self.deliver([target], message, results)
        res = results[target]
        if not res.ok and isinstance(res.error_exc, ImcliError):
            raise res.error_exc

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
    async def deliver(
        self,
        targets: Iterable[Target],
        message: Message,
        results: dict[Target, TargetResult],
        on_done: Callable[[TargetResult], None] | None = None,
    ) -> None:
        import asyncio

        targets = list(targets)
        if not targets:
            return
        parts = await self.parts_or_fail(targets, message, results, on_done)
        if parts is None:
            return
        everyone = [t for t in targets if t.id.strip() == "@all"]
        named = [t for t in targets if t.id.strip() != "@all"]
        batches = [named[i : i + BATCH] for i in range(0, len(named), BATCH)]
        batches += [[t] for t in everyone[:1]]
        for t in everyone[1:]:  # the same @all twice is one send
            batches[-1].append(t)
        sem = asyncio.Semaphore(4)

        async def run(batch: list[Target]) -> None:
            from imcli.http import _IN_FLIGHT
            from imcli.platforms.base import interrupted

            flight: list[Any] = []
            _IN_FLIGHT.set(flight)  # this task's own context: its send in flight
            async with sem:
                try:
                    await self._send_batch(batch, parts, message.extra, results, on_done)
                except asyncio.CancelledError:
                    # every user of a request in flight may have got the message
                    for t in batch:
                        if not results[t].ok and not results[t].error:
                            interrupted(results[t], in_flight=bool(flight))
                    raise

        from imcli.platforms.base import gather_all

        await gather_all([run(b) for b in batches])

    async def _send_batch(
        self,
        batch: list[Target],
        parts: list[Part],
        extra: dict[str, Any],
        results: dict[Target, TargetResult],
        on_done: Callable[[TargetResult], None] | None,
    ) -> None:
        active = list(batch)
        agent_id = self.agent_id()
        for part in parts:
            if not active:
                break
            ids = list(dict.fromkeys(t.id.strip() for t in active))
            body = {"touser": "|".join(ids), "agentid": agent_id, **part.body(), **extra}
            for t in active[1:]:  # the per-user limit counts for every user of the request
                await self.http.limiter.acquire(t)
            try:
                reply = await self.api(
                    "POST",
                    "/cgi-bin/message/send",
                    json=body,
                    send=True,
                    target=active[0],
                    accept=frozenset({81013}),
                )
            except (UsageError, ConfigError):
                raise
            except ImcliError as exc:
                for t in active:
                    fail(results[t], exc, on_done)
                return
            if active[0] in self.http.resent:  # one request carried every user of the batch
                self.http.resent.update(active)
            invalid, unlicensed = (
                _user_list(reply, "invaliduser"),
                _user_list(reply, "unlicenseduser"),
            )
            code = reply.get("errcode", 0)
            still: list[Target] = []
            for t in active:
                if t.id.strip().lower() in unlicensed:  # errcode 0, but not delivered
                    reason = (
                        "the user has no basic interface license (unlicenseduser): assign "
                        "one in the WeCom admin console"
                    )
                    fail(results[t], PlatformError(reason), on_done)
                elif t.id.strip().lower() in invalid or code == 81013:
                    why = _clean_wecom(str(reply.get("errmsg") or ""))
                    reason = (
                        f"invalid user: no such userId in the app's visible range ({why} ({code}))"
                        if code
                        else "invalid user: no such userId in the app's visible range (invaliduser)"
                    )
                    fail(results[t], PlatformError(reason, code=code or None), on_done)
                else:
                    msgid = reply.get("msgid")
                    results[t].message_ids.append("" if msgid is None else str(msgid))
                    still.append(t)
            active = still
        for t in active:
            res = results[t]
            res.ok = True
            res.error = None
            res.error_exc = None
            if on_done is not None:
                on_done(res)
