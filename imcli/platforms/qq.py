"""Personal QQ through a OneBot v11 HTTP server (NapCat, Lagrange, LLOneBot, go-cqhttp).

``POST {base_url}/<action>`` with a JSON body, ``Authorization: Bearer <access_token>``
when the account sets one.

- ``--user`` → ``send_private_msg {user_id, message}``, ``--group`` → ``send_group_msg
  {group_id, message}``; ids are sent as integers when numeric; ``message`` is a segment
  array.
- text → ``text`` segments (the title as the first line, markdown rendered as readable
  plain text). image → one message ``[text title?, image]``; voice → ``record`` and video
  → ``video``, each a message of its own (a title goes first as a text message).
- A segment's ``data.file`` is the URL as given for http(s) sources, ``file:///abs/path``
  for local files when the account sets ``shared_files = true`` (the OneBot server runs
  on this machine or shares its files), else ``base64://…``. A base64 payload has to sit
  whole in the JSON body, so it is capped at 30 MB (BASE64_LIMIT), checked before
  anything is sent; larger media need ``shared_files`` or a URL.
- file → ``upload_private_file`` / ``upload_group_file`` ``{user_id|group_id, file, name}``.
  The servers differ (``get_version_info`` → ``app_name``, asked once per push): go-cqhttp
  and Lagrange open ``file`` as a path on their own disk, NapCat and LLOneBot also take a
  URL or base64. So ``file`` is the absolute local path when ``shared_files``; otherwise
  the server first fetches the file into its own cache with ``download_file`` (go-cqhttp:
  ``url``, ``thread_count``, ``headers``; NapCat: ``url`` or ``base64``), once per push,
  and the path it answers (``{file}``) is uploaded to every target. go-cqhttp cannot take
  a local file that way (its ``download_file`` takes URLs only), and Lagrange has no
  ``download_file``: those pushes are refused with the reason (exit 2). LLOneBot and
  unknown servers get the URL or ``base64://…`` as before.
- mixed → one segment array with the title, the text and the images in order; voices,
  videos and files follow as sends of their own.

Replies ``{status, retcode, data}``: ``failed`` fails the target naming ``wording`` /
``message`` / ``msg`` and the retcode; HTTP 401/403 (and retcode 1401/1403) mean the
access token is rejected: the account is offline and the next account takes over.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from imcli.errors import AccountOffline, ImcliError, PlatformError, RetryableError, UsageError
from imcli.platforms.base import (
    Adapter,
    Field,
    Formats,
    Limit,
    OncePerPush,
    PlatformSpec,
    SendTracker,
    labelled_sources,
)

if TYPE_CHECKING:
    import httpx

    from imcli.media import MediaSource
    from imcli.models import Item, Message, Target

MB = 1 << 20


def _qq_key(target: Target) -> object:
    """QQ numbers and group numbers are numbers (``10001`` and ``010001`` are one), in
    two id spaces: a user and a group may share a number."""
    tid = target.id.strip()
    return (target.kind, int(tid)) if tid.isdigit() else (target.kind, tid)


SPEC = PlatformSpec(
    name="qq",
    title="Personal QQ (OneBot v11)",
    aliases=("onebot",),
    user_target="QQ number",
    group_target="group number",
    api="OneBot v11 HTTP API",
    fields=(
        Field("base_url", required=True, help="the OneBot HTTP server, e.g. http://127.0.0.1:3000"),
        Field("access_token", secret=True, help="sent as Authorization: Bearer"),
        Field(
            "shared_files",
            type=bool,
            default=False,
            help="the OneBot server shares this machine's files (file:// paths)",
        ),
    ),
    rate_limits=(Limit(2, 1.0, "account"),),
    # record segments: QQ voices are SILK or AMR; go-cqhttp and NapCat encode other audio
    # (MP3 among it) to SILK with the ffmpeg of the server's host. Anything else is made
    # AMR here, which every server sends without converting.
    formats={"voice": Formats(("silk", "amr", "mp3"), "SILK, AMR or MP3", "amr")},
    adapter="imcli.platforms.qq:QQAdapter",
    target_key=_qq_key,
)

#: media sent inline as base64:// (the whole payload is in the JSON body)
BASE64_LIMIT = 30 * MB
SEGMENT = {"image": "image", "voice": "record", "video": "video"}
ALONE = frozenset({"voice", "video"})  # record and video go as messages of their own


def _id(target: Target) -> int | str:
    tid = target.id.strip()
    return int(tid) if re.fullmatch(r"\d+", tid) else tid


def parse_reply(resp: httpx.Response) -> Any:
    """``{status: ok|async|failed, retcode, data, msg|message|wording}``."""
    from imcli.http import json_reply, retry_after_header

    if resp.status_code in (401, 403):
        reason = "access token missing" if resp.status_code == 401 else "access token rejected"
        detail = ""
        try:
            body = resp.json()
            if isinstance(body, dict) and body.get("message"):
                detail = f": {body['message']}"
        except ValueError:
            pass
        raise AccountOffline(
            f"{reason}{detail} (HTTP {resp.status_code})",
            reason="credentials",
            status=resp.status_code,
        )
    if resp.status_code == 429 or resp.status_code >= 500:
        raise RetryableError(
            f"HTTP {resp.status_code}",
            retry_after=retry_after_header(resp),
            status=resp.status_code,
        )
    if resp.status_code == 404:
        raise PlatformError(
            "HTTP 404: no such action (is base_url the OneBot HTTP server?)", status=404
        )
    data = json_reply(resp)
    if not isinstance(data, dict) or "status" not in data:
        raise PlatformError(
            f"unexpected answer (HTTP {resp.status_code}): not a OneBot reply",
            status=resp.status_code,
        )
    status = data.get("status")
    if status in ("ok", "async"):
        return data.get("data")
    retcode = data.get("retcode")
    texts: list[str] = []
    for key in ("wording", "message", "msg"):
        value = data.get(key)
        if isinstance(value, str) and value.strip() and value.strip() not in texts:
            texts.append(value.strip())
    text = texts[0] if texts else f"status {status}"
    if len(texts) > 1:
        text += f" ({', '.join(texts[1:])}, retcode {retcode})"
    else:
        text += f" (retcode {retcode})"
    if retcode in (1401, 1403):
        raise AccountOffline(text, reason="credentials", code=retcode, status=resp.status_code)
    raise PlatformError(text, code=retcode, status=resp.status_code)


class QQAdapter(Adapter):
    """Imported only to send."""

    @classmethod
    def media_limit(cls, account: Any, kind: str) -> int | None:
        # with shared_files the server reads the file itself: no limit of imcli's
        if cls.converts(kind):
            return None  # the limit applies to the converted file
        return None if account.get("shared_files") else BASE64_LIMIT

    spec = SPEC
    #: targets in flight per account with ``rate = 0``. Measured: 200 groups at 20 ms an
    #: answer take ~0.3 s at 16 and over 1 s at 64, because httpcore's connection pool
    #: scans every connection (quadratically) on every request event.
    concurrency = 16

    def __init__(self, account: Any, http: Any) -> None:
        import asyncio

        super().__init__(account, http)
        self._b64: OncePerPush[int, str] = OncePerPush()  # id(source) → base64://…
        self._app: str | None = None  # the server's app_name, asked once per push
        self._app_lock = asyncio.Lock()
        self._server_files: dict[int, str | ImcliError] = {}  # id(source) → path there
        self._server_files_lock = asyncio.Lock()

    # -- plumbing ----------------------------------------------------------------------------
    @property
    def shared_files(self) -> bool:
        return bool(self.account.get("shared_files"))

    def _headers(self) -> dict[str, str] | None:
        token = self.account.get("access_token")
        return {"Authorization": f"Bearer {token}"} if token else None

    async def _call(
        self,
        action: str,
        params: dict[str, Any],
        *,
        target: Target | None = None,
        send: bool = True,
        describe: Any = None,
    ) -> Any:
        return await self.http.request(
            "POST",
            f"{self.base_url()}/{action}",
            json=params,
            headers=self._headers(),
            parse=parse_reply,
            send=send,
            target=target,
            describe=describe,
        )

    def dry_run_reply(self, method: str, url: str) -> Any:
        if url.endswith("/get_login_info"):
            return {"status": "ok", "retcode": 0, "data": {"user_id": 0, "nickname": "dry-run"}}
        if url.endswith("/get_version_info"):
            return {"status": "ok", "retcode": 0, "data": {"app_name": "dry-run"}}
        if url.endswith("/download_file"):
            return {"status": "ok", "retcode": 0, "data": {"file": "/dry-run/cache/file"}}
        return {"status": "ok", "retcode": 0, "data": {"message_id": 0}}

    # -- the adapter interface ----------------------------------------------------------------
    def validate(self, message: Message, targets: list[Target]) -> None:

        for what, src in labelled_sources(message):
            self.check_format(src, what)
            if src.is_url or self.will_convert(src):
                continue  # the OneBot server fetches it; a conversion is checked after
            if src.path is not None and self.shared_files:
                src.check_size(1 << 62, "qq", what)  # only refuses an empty file
                continue
            try:
                src.check_size(BASE64_LIMIT, "qq", what)
            except UsageError as exc:
                if src.size == 0:
                    raise
                raise UsageError(
                    f"{exc.message} for media sent inline as base64; set shared_files = true "
                    "when the OneBot server can read this machine's files, or give a URL"
                ) from None

    async def check(self) -> str:
        info = await self._call("get_login_info", {}, send=False)
        if isinstance(info, dict):
            return f"QQ {info.get('user_id')} ({info.get('nickname') or 'no nickname'})"
        return "ok"

    async def send_text(self, target: Target, message: Message, tracker: SendTracker) -> None:
        text = self._text(message.title, [(message.text or "", message.markdown)])
        await self._send(target, [_text_seg(text)], message.extra, tracker)

    # -- building messages -----------------------------------------------------------------------
    @staticmethod
    def _text(title: str | None, parts: list[tuple[str, bool]]) -> str:
        from imcli import markup

        lines: list[str] = []
        if title and title.strip():
            lines.append(title.strip())
        for text, md in parts:
            if not text or not text.strip():
                continue
            lines.append(markup.to_plain_text(text) if md else text)
        return "\n".join(lines)

    async def _file_ref(self, src: MediaSource) -> str:
        """``data.file`` of a segment: the URL, a file:// URI, or base64://."""
        if src.is_url:
            assert src.url is not None
            return src.url
        if src.path is not None and self.shared_files:
            return src.path.resolve().as_uri()
        return await self._base64(src)

    async def _base64(self, src: MediaSource) -> str:
        """base64:// of the source, encoded once per push (it is at most BASE64_LIMIT)."""
        import asyncio
        import base64

        if self.http.dry_run:
            return f"base64://<{src.describe()}>"

        def encode() -> str:
            with src.open() as fh:
                return "base64://" + base64.b64encode(fh.read()).decode("ascii")

        async def encoded() -> str:
            return await asyncio.to_thread(encode)

        return await self._b64.get(id(src), encoded)

    async def _segment(self, src: MediaSource) -> dict[str, Any]:
        if src.kind == "voice":
            src = await self._playable_voice(src)
        return {"type": SEGMENT[src.kind], "data": {"file": await self._file_ref(src)}}

    async def _playable_voice(self, src: MediaSource) -> MediaSource:
        """A voice in a format the servers take: a URL whose name says so is handed over
        (the server fetches it); anything else is checked by its content, and converted
        (a URL downloaded first), once per push."""
        from imcli.media import probe

        fmts = self.spec.formats["voice"]
        if src.is_url and probe.format_from_name(src.filename, src.mime) in fmts.accepted:
            return src
        return await self.playable(src)

    def size_limit(self, src: MediaSource) -> int:
        return 1 << 62 if self.shared_files else BASE64_LIMIT

    def checked_first(self, src: MediaSource) -> bool:
        """A voice URL whose name says the servers take it is handed over, not fetched."""
        from imcli.media import probe

        fmts = self.spec.formats.get(src.kind)
        if fmts and src.is_url and probe.format_from_name(src.filename, src.mime) in fmts.accepted:
            return False
        return super().checked_first(src)

    # -- sending ------------------------------------------------------------------------------
    async def _send(
        self,
        target: Target,
        segments: list[dict[str, Any]],
        extra: dict[str, Any],
        tracker: SendTracker,
    ) -> None:
        params: dict[str, Any]
        if target.kind == "group":
            action, params = "send_group_msg", {"group_id": _id(target)}
        else:
            action, params = "send_private_msg", {"user_id": _id(target)}
        params["message"] = segments
        params.update(extra)
        describe = {**params, "message": [_short(s) for s in segments]}
        data = await self._call(action, params, target=target, describe=describe)
        tracker.sent(data.get("message_id") if isinstance(data, dict) else None)

    async def send_media(
        self,
        target: Target,
        src: MediaSource,
        title: str | None,
        extra: dict[str, Any],
        tracker: SendTracker,
    ) -> None:
        title = (title or "").strip() or None
        if src.kind == "image":
            segments = [_text_seg(title + "\n")] if title else []
            segments.append(await self._segment(src))
            await self._send(target, segments, extra, tracker)
            return
        if title:
            await self._send(target, [_text_seg(title)], extra, tracker)
        if src.kind in ALONE:
            await self._send(target, [await self._segment(src)], extra, tracker)
        else:
            await self._upload_file(target, src, extra, tracker)

    async def check_media_first(self, message: Message) -> None:
        """Also, before any send: what each file will be uploaded as (a refusal, such as
        a local file for go-cqhttp without shared_files, comes before the first message)."""
        await super().check_media_first(message)
        for src in message.media_sources():
            if src.kind != "file" or (src.path is not None and self.shared_files):
                continue
            try:
                await self._upload_ref(src)
            except UsageError:
                raise
            except ImcliError:
                pass  # asked again per target, which then fails with the reason

    # -- file uploads: what each server takes ---------------------------------------------------
    async def _app_name(self) -> str:
        """``get_version_info`` → ``app_name`` (go-cqhttp, NapCat.Onebot, Lagrange.OneBot,
        LLOneBot, ...), once per push; '' when the server does not say."""
        async with self._app_lock:
            if self._app is None:
                try:
                    info = await self._call("get_version_info", {}, send=False)
                except (AccountOffline, RetryableError):
                    raise
                except PlatformError:
                    info = None  # an older server without the action
                name = info.get("app_name") if isinstance(info, dict) else None
                self._app = name.strip() if isinstance(name, str) else ""
            return self._app

    async def _upload_ref(self, src: MediaSource) -> str:
        """``file`` of upload_*_file: the local path (shared_files), a path the server
        fetched into its cache with download_file (once per push), or (LLOneBot and
        servers that do not say) the URL or base64://."""
        if src.path is not None and self.shared_files:
            return str(src.path.resolve())
        app = (await self._app_name()).lower()
        if app.startswith("lagrange"):
            raise UsageError(
                "qq: Lagrange.OneBot uploads a file only from its own disk and cannot "
                "download one (it has no download_file): set shared_files = true on the "
                "account when it runs on this machine, and push a local file"
            )
        if app == "go-cqhttp" and not src.is_url:
            raise UsageError(
                "qq: go-cqhttp uploads a file only from its own disk, and its download_file "
                "takes only URLs: set shared_files = true on the account when it runs on "
                "this machine, or push an http(s):// URL it can download"
            )
        if app not in ("go-cqhttp",) and not app.startswith("napcat"):
            if src.is_url:
                assert src.url is not None
                return src.url
            return await self._base64(src)
        async with self._server_files_lock:
            got = self._server_files.get(id(src))
            if got is None:
                try:
                    got = await self._download_on_server(src, app)
                except (UsageError, AccountOffline):
                    raise
                except ImcliError as exc:
                    got = exc
                self._server_files[id(src)] = got
        if isinstance(got, ImcliError):
            raise got
        return got

    async def _download_on_server(self, src: MediaSource, app: str) -> str:
        """``download_file``: the server stores the file in its cache → ``{file}``."""
        params: dict[str, Any]
        describe: Any = None
        if src.is_url:
            params = {"url": src.url}
            if app == "go-cqhttp":  # CQDownloadFile(url, headers, threadCount)
                params.update(thread_count=1, headers=[])
        else:  # NapCat: base64 (without the base64:// prefix) and a name
            b64 = await self._base64(src)
            params = {"base64": b64[len("base64://") :], "name": src.filename or "file"}
            describe = {**params, "base64": f"<{src.describe()}>"}
        try:
            data = await self._call("download_file", params, send=False, describe=describe)
        except PlatformError as exc:
            if isinstance(exc, AccountOffline):
                raise
            raise PlatformError(
                f"the OneBot server could not fetch {src.filename or src.spec} "
                f"(download_file): {exc.message}",
                code=exc.code,
                status=exc.status,
            ) from None
        path = data.get("file") if isinstance(data, dict) else None
        if not isinstance(path, str) or not path:
            raise PlatformError("download_file answered no file path")
        return path

    async def _upload_file(
        self, target: Target, src: MediaSource, extra: dict[str, Any], tracker: SendTracker
    ) -> None:
        file = await self._upload_ref(src)
        params: dict[str, Any]
        if target.kind == "group":
            action, params = "upload_group_file", {"group_id": _id(target)}
        else:
            action, params = "upload_private_file", {"user_id": _id(target)}
        params.update(file=file, name=src.filename or "file")
        params.update(extra)
        describe = (
            {**params, "file": f"<{src.describe()}>"} if file.startswith("base64://") else None
        )
        try:
            data = await self._call(action, params, target=target, describe=describe)
        except PlatformError as exc:
            if isinstance(exc, (AccountOffline, RetryableError)) or self.shared_files or self._app:
                raise
            raise PlatformError(  # a server that did not say what it is
                f"{exc.message}; go-cqhttp and Lagrange upload local paths only: set "
                "shared_files = true when the server runs on this machine",
                code=exc.code,
                status=exc.status,
            ) from None
        tracker.sent(data.get("file_id") if isinstance(data, dict) else None)

    async def send_mixed(self, target: Target, message: Message, tracker: SendTracker) -> None:
        from imcli import markup

        segments: list[dict[str, Any]] = []
        title = (message.title or "").strip()
        if title:
            segments.append(_text_seg(title))
        later: list[Item] = []
        for it in message.items:
            if it.is_text:
                text = it.text or ""
                if it.type == "markdown":
                    text = markup.to_plain_text(text)
                if not text.strip():
                    continue
                segments.append(_text_seg(("\n" if segments else "") + text))
            elif it.media is not None and it.media.kind == "image":
                if it.caption and it.caption.strip():
                    segments.append(_text_seg(("\n" if segments else "") + it.caption.strip()))
                if segments:
                    segments.append(_text_seg("\n"))
                segments.append(await self._segment(it.media))
            elif it.media is not None:
                later.append(it)
        if segments:
            await self._send(target, _merge_text(segments), message.extra, tracker)
        for it in later:
            assert it.media is not None
            await self.send_media(target, it.media, it.caption, message.extra, tracker)


def _text_seg(text: str) -> dict[str, Any]:
    return {"type": "text", "data": {"text": text}}


def _merge_text(segments: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Adjacent text segments joined into one."""
    out: list[dict[str, Any]] = []
    for seg in segments:
        if out and seg["type"] == "text" and out[-1]["type"] == "text":
            out[-1] = _text_seg(out[-1]["data"]["text"] + seg["data"]["text"])
        else:
            out.append(seg)
    if out and out[-1]["type"] == "text":
        out[-1] = _text_seg(out[-1]["data"]["text"].rstrip("\n"))
    return [s for s in out if s["type"] != "text" or s["data"]["text"]]


def _short(seg: dict[str, Any]) -> dict[str, Any]:
    """A segment for --dry-run and plans: base64 payloads abbreviated."""
    file = seg["data"].get("file")
    if isinstance(file, str) and file.startswith("base64://") and len(file) > 60:
        return {"type": seg["type"], "data": {"file": f"base64://… ({len(file) - 9} chars)"}}
    return seg
