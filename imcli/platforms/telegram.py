"""Telegram: the Bot API (``{base_url}/bot<token>/<method>``).

text → sendMessage (parse_mode=HTML; split at 4096 rendered characters on source line
boundaries); image/voice/video/file → sendPhoto/sendVoice/sendVideo/sendDocument (a
public URL is passed through, anything else is uploaded as multipart streamed from
disk); mixed → the text, then media groups (photos with videos, documents with
documents) via sendMediaGroup with ``attach://`` parts, voices on their own. A voice is
always uploaded (a URL is downloaded first) after its content is checked: Ogg/Opus, MP3
and M4A go as they are, anything else is converted to Ogg/Opus with ffmpeg, or refused
up front when there is no ffmpeg.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

from imcli.errors import AccountOffline, PlatformError, RetryableError
from imcli.platforms.base import (
    Adapter,
    Field,
    Formats,
    Limit,
    OncePerPush,
    PlatformSpec,
    SendTracker,
    json_object,
)

if TYPE_CHECKING:
    import httpx

    from imcli.media import MediaSource
    from imcli.models import Item, Message, Target

MB = 1 << 20


def _chat_key(target: Target) -> object:
    """Telegram's own comparison: a numeric chat_id is a number (``42``, ``042`` and
    ``-g 42`` are one chat, users and groups share one id space); a ``@channelname`` is
    case-insensitive."""
    tid = target.id.strip()
    try:
        return int(tid)
    except ValueError:
        return tid.lower()


UPLOAD_LIMITS = {"image": 10 * MB, "voice": 50 * MB, "video": 50 * MB, "file": 50 * MB}

SPEC = PlatformSpec(
    name="telegram",
    title="Telegram",
    aliases=("tg",),
    user_target="user id (chat_id)",
    group_target="group/channel chat_id or @channelname",
    api="Bot API",
    fields=(
        Field("token", required=True, secret=True, help="bot token from @BotFather"),
        Field(
            "local_server",
            type=bool,
            default=False,
            help="base_url is a local Bot API server (uploads up to 2000 MB)",
            needs="base_url",
        ),
    ),
    rate_limits=(Limit(30, 1.0, "account"), Limit(1, 1.0, "chat"), Limit(20, 60.0, "group")),
    # sendVoice: "audio must be in an .OGG file encoded with OPUS, or in .MP3 format, or in
    # .M4A format"; anything else (Ogg/Vorbis included) goes out as a document
    formats={"voice": Formats(("ogg-opus", "mp3", "m4a"), "OGG/Opus, MP3 or M4A", "ogg-opus")},
    media_limits=UPLOAD_LIMITS,
    default_base_url="https://api.telegram.org",
    adapter="imcli.platforms.telegram:TelegramAdapter",
    target_key=_chat_key,
)

TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024
#: kind → (method, field, media-group type)
METHODS: dict[str, tuple[str, str, str | None]] = {
    "image": ("sendPhoto", "photo", "photo"),
    "voice": ("sendVoice", "voice", None),
    "video": ("sendVideo", "video", "video"),
    "file": ("sendDocument", "document", "document"),
}
LOCAL_SERVER_LIMIT = 2000 * MB
#: descriptions meaning "Telegram could not fetch the URL you gave": upload instead
_URL_FAILED = re.compile(
    r"failed to get HTTP URL content|wrong file identifier/HTTP URL specified|"
    r"wrong type of the web page content|URL host is empty|"
    r"wrong remote file identifier specified|file is too big|too big for a",
    re.IGNORECASE,
)


def _chat_id(target: Target) -> int | str:
    tid = target.id.strip()
    return int(tid) if re.fullmatch(r"-?\d+", tid) else tid


def _file_id(result: Any, field: str) -> str | None:
    """The file_id Telegram gave an uploaded file (the largest size of a photo)."""
    if not isinstance(result, dict):
        return None
    obj = result.get(field)
    if isinstance(obj, list) and obj:
        obj = obj[-1]
    if isinstance(obj, dict) and isinstance(obj.get("file_id"), str):
        return str(obj["file_id"])
    return None


def parse_reply(resp: httpx.Response) -> Any:
    """Telegram's ``{ok, result}`` / ``{ok: false, error_code, description, parameters}``."""

    data = json_object(resp)
    if data.get("ok") is True:
        return data.get("result")
    code = data.get("error_code", resp.status_code)
    desc = str(data.get("description") or resp.reason_phrase or "error")
    text = f"{desc} ({code})"
    params = data.get("parameters") or {}
    if code == 429 or resp.status_code == 429:
        retry = params.get("retry_after") if isinstance(params, dict) else None
        raise RetryableError(
            text, retry_after=float(retry) if retry is not None else None, code=code
        )
    if isinstance(code, int) and code >= 500:
        raise RetryableError(text, code=code, status=resp.status_code)
    if code == 401 or resp.status_code == 401:
        raise AccountOffline(text, reason="credentials", code=code, status=resp.status_code)
    raise PlatformError(text, code=code, status=resp.status_code)


class TelegramAdapter(Adapter):
    """Imported only to send: markup and media are loaded with it."""

    spec = SPEC

    def __init__(self, account: Any, http: Any) -> None:
        super().__init__(account, http)
        self._file_ids: dict[int, str] = {}  # id(source) → Telegram file_id after one upload
        # one upload of a source at a time: the first upload is also the first target's
        # send, so only its lock is shared (a failed upload is tried again by the next target)
        self._uploads: OncePerPush[int, str] = OncePerPush()

    # -- plumbing --------------------------------------------------------------------
    def _url(self, method: str) -> str:
        return f"{self.base_url()}/bot{self.account.get('token')}/{method}"

    async def _call(
        self,
        method: str,
        fields: dict[str, Any],
        *,
        target: Target | None = None,
        uploads: dict[str, MediaSource] | None = None,
        send: bool = True,
    ) -> Any:
        url = self._url(method)
        if not uploads:
            return await self.http.request(
                "POST", url, json=fields, parse=parse_reply, send=send, target=target
            )
        form = {k: v if isinstance(v, str) else json.dumps(v) for k, v in fields.items()}
        parts = dict(uploads)

        def files() -> dict[str, Any]:
            return {
                name: (src.filename, src.open(), src.mime or "application/octet-stream")
                for name, src in parts.items()
            }

        describe = dict(fields)
        describe.update({name: src for name, src in parts.items()})
        return await self.http.request(
            "POST",
            url,
            data=form,
            files=files,
            parse=parse_reply,
            send=send,
            target=target,
            describe=describe,
        )

    @classmethod
    def upload_limit(cls, account: Any, kind: str) -> int | None:
        if account.get("local_server"):
            return LOCAL_SERVER_LIMIT
        return super().upload_limit(account, kind)

    def dry_run_reply(self, method: str, url: str) -> Any:
        if url.endswith("/getMe"):
            return {"ok": True, "result": {"id": 0, "is_bot": True, "username": "dry_run"}}
        if url.endswith("/sendMediaGroup"):
            return {"ok": True, "result": [{"message_id": 0}]}
        return {"ok": True, "result": {"message_id": 0}}

    # -- the adapter interface ----------------------------------------------------------
    def validate(self, message: Message, targets: list[Target]) -> None:
        self.check_media(message)

    async def check(self) -> str:
        me = await self._call("getMe", {}, send=False)
        return f"@{me.get('username')}" if isinstance(me, dict) else "ok"

    async def send_text(self, target: Target, message: Message, tracker: SendTracker) -> None:
        parts = [(message.text or "", message.markdown)]
        await self._send_texts(target, message.title, parts, message.extra, tracker)

    # -- text ------------------------------------------------------------------------
    def text_messages(self, message: Message) -> int:
        return len(self.render_chunks(message.title, [(message.text or "", message.markdown)]))

    def render_chunks(self, title: str | None, parts: list[tuple[str, bool]]) -> list[str]:
        """HTML messages for a title and (text, is_markdown) parts, each ≤ 4096 shown chars."""
        key = ("render_chunks", title, tuple(parts))
        return list(self.split_once(key, lambda: self._render_chunks(title, parts)))

    def _render_chunks(self, title: str | None, parts: list[tuple[str, bool]]) -> list[str]:
        from imcli import markup

        return markup.pack_titled(
            title,
            parts,
            heading=lambda t: f"<b>{markup.escape_html(t)}</b>\n",
            limit=TEXT_LIMIT,
            measure=markup.telegram_visible_len,
            plain=markup.escape_html,
            markdown=markup.to_telegram_html,
        )

    async def _send_texts(
        self,
        target: Target,
        title: str | None,
        parts: list[tuple[str, bool]],
        extra: dict[str, Any],
        tracker: SendTracker,
    ) -> None:
        for chunk in self.render_chunks(title, parts):
            fields = {"chat_id": _chat_id(target), "text": chunk, "parse_mode": "HTML", **extra}
            result = await self._call("sendMessage", fields, target=target)
            tracker.sent(result.get("message_id") if isinstance(result, dict) else None)

    # -- media -----------------------------------------------------------------------
    def _by_url(self, src: MediaSource) -> bool:
        from imcli.media import is_private_url

        if not src.is_url or is_private_url(src.url or ""):
            return False
        # a voice by URL over 1 MB or not audio/ogg arrives as a document, and Ogg/Vorbis
        # does not play: voices are downloaded, checked (converted) and uploaded.
        # sendDocument fetches only GIF, PDF and ZIP by URL: anything else is uploaded.
        if src.kind == "voice":
            return False
        if src.kind == "file":
            return src.extension in ("gif", "pdf", "zip")
        return True

    def download_limit(self, src: MediaSource) -> int | None:
        return None if self._by_url(src) else self.size_limit(src)

    def _caption(self, title: str | None) -> str | None:
        from imcli import markup

        if not title or not title.strip():
            return None
        html = markup.escape_html(title.strip())
        return html if markup.telegram_visible_len(html) <= CAPTION_LIMIT else None

    async def send_media(
        self,
        target: Target,
        src: MediaSource,
        title: str | None,
        extra: dict[str, Any],
        tracker: SendTracker,
    ) -> None:
        caption = self._caption(title)
        if title and title.strip() and caption is None:
            # too long for a caption: the title goes first as a message of its own
            await self._send_texts(target, title, [], {}, tracker)
        method, field, _ = METHODS[src.kind]
        fields: dict[str, Any] = {"chat_id": _chat_id(target)}
        if caption:
            fields.update(caption=caption, parse_mode="HTML")
        fields.update(extra)
        result: Any = None
        if self._by_url(src):
            try:
                result = await self._call(method, {**fields, field: src.url}, target=target)
            except PlatformError as exc:
                if isinstance(exc, (RetryableError, AccountOffline)) or not _URL_FAILED.search(
                    exc.message
                ):
                    raise
                result = None  # Telegram could not fetch it: download and upload instead
        if result is None:
            result = await self._upload_once(target, src, method, field, fields)
        tracker.sent(result.get("message_id") if isinstance(result, dict) else None)

    async def _upload_once(
        self, target: Target, src: MediaSource, method: str, field: str, fields: dict[str, Any]
    ) -> Any:
        """Upload the file for the first target; the others get Telegram's file_id."""
        import asyncio

        from imcli._async import wait_for

        lock = self._uploads.lock(id(src))
        try:  # another target's upload of the file may be under way: its file_id serves
            await wait_for(lock.acquire(), max(0.0, self.http.budget.remaining()))
        except asyncio.TimeoutError:
            raise PlatformError(
                "not sent: the --timeout budget ran out while the file was being uploaded "
                "for another target"
            ) from None
        try:
            file_id = self._file_ids.get(id(src))
            if file_id is None:
                local = await self.playable(src)
                if local.is_url:  # dry run: show the URL
                    return await self._call(method, {**fields, field: local.url}, target=target)
                # the part carries the field's name; attach:// is only for media groups
                result = await self._call(method, fields, target=target, uploads={field: local})
                found = _file_id(result, field)
                if found:
                    self._file_ids[id(src)] = found
                return result
        finally:
            lock.release()
        return await self._call(method, {**fields, field: file_id}, target=target)

    # -- mixed -----------------------------------------------------------------------
    async def send_mixed(self, target: Target, message: Message, tracker: SendTracker) -> None:
        texts = [(it.text or "", it.type == "markdown") for it in message.items if it.is_text]
        media = [it for it in message.items if not it.is_text and it.media is not None]
        title = message.title
        if texts:
            await self._send_texts(target, title, texts, message.extra, tracker)
            title = None
        visual = [it for it in media if it.type in ("image", "video")]
        docs = [it for it in media if it.type == "file"]
        voices = [it for it in media if it.type == "voice"]
        for group in (visual, docs):
            for start in range(0, len(group), 10):
                batch = group[start : start + 10]
                if len(batch) == 1:
                    it = batch[0]
                    assert it.media is not None
                    await self.send_media(
                        target, it.media, it.caption or title, message.extra, tracker
                    )
                else:
                    await self._send_group(target, batch, title, message.extra, tracker)
                title = None
        for it in voices:
            assert it.media is not None
            await self.send_media(target, it.media, it.caption or title, message.extra, tracker)
            title = None

    async def _send_group(
        self,
        target: Target,
        batch: list[Item],
        title: str | None,
        extra: dict[str, Any],
        tracker: SendTracker,
    ) -> None:
        async def attempt(upload_all: bool) -> Any:
            media: list[dict[str, Any]] = []
            uploads: dict[str, MediaSource] = {}
            for i, it in enumerate(batch):
                assert it.media is not None
                kind = METHODS[it.type][2]
                entry: dict[str, Any] = {"type": kind}
                src = it.media
                if self._by_url(src) and not upload_all:
                    entry["media"] = src.url
                else:
                    local = await self.local_copy(src, self.size_limit(src))
                    if local.is_url:
                        entry["media"] = local.url
                    else:
                        name = f"file{i}"
                        uploads[name] = local
                        entry["media"] = f"attach://{name}"
                cap = self._caption(it.caption or (title if i == 0 else None))
                if cap:
                    entry.update(caption=cap, parse_mode="HTML")
                media.append(entry)
            fields = {"chat_id": _chat_id(target), "media": media, **extra}
            return await self._call(
                "sendMediaGroup", fields, target=target, uploads=uploads or None
            )

        any_url = any(it.media is not None and self._by_url(it.media) for it in batch)
        try:
            result = await attempt(upload_all=False)
        except PlatformError as exc:
            if (
                not any_url
                or isinstance(exc, (RetryableError, AccountOffline))
                or not _URL_FAILED.search(exc.message)
            ):
                raise
            result = await attempt(upload_all=True)
        for msg in result if isinstance(result, list) else [result]:
            tracker.sent(msg.get("message_id") if isinstance(msg, dict) else None)
