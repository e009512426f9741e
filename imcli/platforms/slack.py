"""Slack: Web API with a bot token (chat.postMessage, external file uploads).

Every call is ``POST {base_url}/<method>`` with ``Authorization: Bearer xoxb-…``;
chat.postMessage takes a JSON body (``application/json; charset=utf-8``), the other
methods an urlencoded form (as slack_sdk sends them).

- text → ``chat.postMessage`` with ``channel`` and ``text``. Plain text has ``&``, ``<``
  and ``>`` escaped (Slack parses them) and goes with ``"mrkdwn": false`` in
  ``plain_text`` sections, so ``*x*``, ``_x_`` and backticks arrive as typed;
  ``--markdown`` is rendered as Slack mrkdwn. With
  a title: a ``header`` block (a section when the title is over 150 characters),
  the text in ``section`` blocks of at most 3,000 characters, and ``text`` carrying title
  and text as the notification fallback. Long texts are cut at source line boundaries
  (never inside a code block) into messages of at most 40,000 characters (50 blocks).
- image/voice/video/file → the external upload, once per target (a file id can be
  completed only once): ``files.getUploadURLExternal`` (``filename``, ``length``), the
  bytes POSTed raw to the absolute ``upload_url`` (streamed from disk, no token sent),
  then ``files.completeUploadExternal`` (``files`` = JSON ``[{"id", "title"}]``,
  ``channel_id``, ``initial_comment`` = the title). ``files.upload`` is never used.
  Slack cannot fetch URLs for uploads: a URL source is downloaded (streamed, capped at
  Slack's 1 GB) once per push and uploaded from the temporary file.
- mixed → the text and markdown items in one message (the title as its header), then
  every file in one ``files.completeUploadExternal`` call (the title is the
  ``initial_comment`` when there was no text; an item's caption is its file's title).

User targets: a ``U…``/``W…`` user id is opened as a DM with ``conversations.open``
(``users``) and the ``D…`` channel it returns is used for every request, text included,
so a push lands in one conversation and an unknown user fails the same way for every
kind; the DM is cached per user within a push. That needs the ``im:write`` scope; when
the app lacks it (``missing_scope``), text is posted with the user id as ``channel``
(Slack then opens the DM itself, ``chat:write`` suffices) while uploads fail naming the
missing scope.

Errors: ``{"ok": false, "error": "channel_not_found"}`` fails the target naming the
code; HTTP 429 obeys ``Retry-After``; ``invalid_auth``, ``not_authed``,
``account_inactive``, ``token_revoked`` and ``token_expired`` mean the account is
offline (the next account takes over).
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

from imcli import _redact
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
    upload_failed,
)

if TYPE_CHECKING:
    import httpx

    from imcli.media import MediaSource
    from imcli.models import Message, Target


def _channel_key(target: Target) -> object:
    """Slack ids are upper-case and unique across users and channels: ``c0123`` and
    ``-u C0123`` name the same conversation as ``-g C0123``."""
    return target.id.strip().upper()


GB = 1 << 30
UPLOAD_LIMIT = 1 * GB

SPEC = PlatformSpec(
    name="slack",
    title="Slack",
    user_target="chatId (a D… DM channel, or a U… user id, opened as a DM)",
    group_target="chatId (C…/G…)",
    api="Web API",
    fields=(Field("token", required=True, secret=True, help="bot token, xoxb-…"),),
    rate_limits=(Limit(1, 1.0, "chat"),),
    # Slack has no voice message: a voice is an uploaded file, which its clients play
    # inline as a browser does (MP3, M4A/AAC, WAV, Ogg, FLAC); AMR does not play there
    formats={
        "voice": Formats(
            ("mp3", "m4a", "aac", "wav", "ogg-opus", "ogg-vorbis", "ogg", "flac"),
            "MP3, M4A, WAV, Ogg or FLAC",
            "mp3",
        )
    },
    media_limits={k: UPLOAD_LIMIT for k in ("image", "voice", "video", "file")},
    default_base_url="https://slack.com/api",
    adapter="imcli.platforms.slack:SlackAdapter",
    target_key=_channel_key,
)

TEXT_LIMIT = 40_000  # chat.postMessage truncates text beyond this
SECTION_LIMIT = 3_000  # a section block's text
HEADER_LIMIT = 150  # a header block's plain_text
MAX_BLOCKS = 50
#: errors meaning the token is not (or no longer) valid: the account is offline
CREDENTIAL_ERRORS = frozenset(
    {"invalid_auth", "not_authed", "account_inactive", "token_revoked", "token_expired"}
)
#: errors meaning "come back later" inside a 200 answer
BUSY_ERRORS = frozenset({"ratelimited", "service_unavailable"})
_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")
_JSON = {"Content-Type": "application/json; charset=utf-8"}


def escape(text: str) -> str:
    """Slack's control characters in text: ``&``, ``<`` and ``>``."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def parse_reply(resp: httpx.Response) -> dict[str, Any]:
    """A Web API answer: ``{"ok": true, …}`` or ``{"ok": false, "error": "<code>"}``."""
    from imcli.http import retry_after_header

    if resp.status_code == 429:
        raise RetryableError("ratelimited (429)", retry_after=retry_after_header(resp), status=429)
    if resp.status_code >= 500:
        raise RetryableError(
            f"HTTP {resp.status_code}: {resp.reason_phrase}", status=resp.status_code
        )
    data = json_object(resp)
    if data.get("ok") is True:
        return data
    code = str(data.get("error") or f"HTTP {resp.status_code}")
    text = code
    meta = data.get("response_metadata")
    messages = meta.get("messages") if isinstance(meta, dict) else None
    if isinstance(messages, list) and messages:
        text = f"{code} ({'; '.join(str(m) for m in messages[:3])})"
    elif code == "missing_scope" and data.get("needed"):
        text = f"missing_scope (needed: {data.get('needed')})"
    if code in CREDENTIAL_ERRORS:
        raise AccountOffline(text, reason="credentials", code=code, status=resp.status_code)
    if code in BUSY_ERRORS:
        raise RetryableError(text, retry_after=retry_after_header(resp), code=code)
    raise PlatformError(text, code=code, status=resp.status_code)


def parse_upload(resp: httpx.Response) -> None:
    """The upload URL answers HTTP 200 for success, anything else is a failure."""
    from imcli.http import retry_after_header

    if resp.status_code == 200:
        return
    # masked before it is cut: a secret across the cut must not leave half of it
    snippet = _redact.shorten(resp.text, 200).strip().replace("\n", " ") or resp.reason_phrase
    text = f"upload failed: HTTP {resp.status_code}: {snippet}"
    if resp.status_code == 429 or resp.status_code >= 500:
        raise RetryableError(text, retry_after=retry_after_header(resp), status=resp.status_code)
    raise PlatformError(text, status=resp.status_code)


class SlackAdapter(Adapter):
    """Imported only to send: markup, media and http are loaded lazily."""

    spec = SPEC

    def __init__(self, account: Any, http: Any) -> None:
        super().__init__(account, http)
        self._dms: OncePerPush[str, str] = OncePerPush()  # user id → D… channel

    # -- plumbing --------------------------------------------------------------------
    def _auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.account.get('token')}"}

    async def _call(
        self,
        method: str,
        *,
        json_body: dict[str, Any] | None = None,
        form: dict[str, Any] | None = None,
        send: bool = False,
        target: Target | None = None,
    ) -> dict[str, Any]:
        url = f"{self.base_url()}/{method}"
        if json_body is not None:
            return await self.http.request(
                "POST",
                url,
                json=json_body,
                headers={**self._auth(), **_JSON},
                parse=parse_reply,
                send=send,
                target=target,
            )
        data = {
            k: v if isinstance(v, str) else json.dumps(v, ensure_ascii=False)
            for k, v in (form or {}).items()
            if v is not None
        }
        return await self.http.request(
            "POST",
            url,
            data=data,
            headers=self._auth(),
            parse=parse_reply,
            send=send,
            target=target,
        )

    def dry_run_reply(self, method: str, url: str) -> Any:
        name = url.rsplit("/", 1)[-1]
        if name == "auth.test":
            return {"ok": True, "team": "dry-run", "user": "dry-run"}
        if name == "conversations.open":
            return {"ok": True, "channel": {"id": "D0DRYRUN"}}
        if name == "files.getUploadURLExternal":
            return {
                "ok": True,
                "upload_url": "https://files.slack.com/upload/v1/dry-run",
                "file_id": "F0DRYRUN",
            }
        if name == "files.completeUploadExternal":
            return {"ok": True, "files": [{"id": "F0DRYRUN"}]}
        return {"ok": True, "ts": "0.000000"}

    # -- the adapter interface ----------------------------------------------------------
    def validate(self, message: Message, targets: list[Target]) -> None:
        self.check_media(message)

    async def check(self) -> str:
        me = await self._call("auth.test")
        return f"team {me.get('team')} as {me.get('user')}"

    def download_limit(self, src: MediaSource) -> int | None:
        return UPLOAD_LIMIT  # files.upload takes bytes only: every URL is downloaded

    async def send_text(self, target: Target, message: Message, tracker: SendTracker) -> None:
        parts = [(message.text or "", message.markdown)]
        await self._send_texts(target, message.title, parts, message.extra, tracker)

    async def send_media(
        self,
        target: Target,
        src: MediaSource,
        title: str | None,
        extra: dict[str, Any],
        tracker: SendTracker,
    ) -> None:
        await self._send_files(target, [(src, None)], title, extra, tracker)

    async def send_mixed(self, target: Target, message: Message, tracker: SendTracker) -> None:
        texts = [(it.text or "", it.type == "markdown") for it in message.items if it.is_text]
        files = [(it.media, it.caption) for it in message.items if it.media is not None]
        title = message.title
        if any(t.strip() for t, _ in texts):
            await self._send_texts(target, title, texts, message.extra, tracker)
            title = None
        if files:
            await self._send_files(target, files, title, message.extra, tracker)

    # -- channels ----------------------------------------------------------------------
    async def _channel(self, target: Target, *, for_upload: bool) -> str:
        """The channel id to use: a user id is opened as a DM (cached per push)."""
        tid = target.id.strip()
        if not _USER_ID.match(tid):
            return tid

        async def open_dm() -> str:
            reply = await self._call("conversations.open", form={"users": tid}, target=target)
            channel = reply.get("channel")
            cid = channel.get("id") if isinstance(channel, dict) else None
            if not isinstance(cid, str) or not cid:
                raise PlatformError("conversations.open returned no channel id")
            return cid

        try:
            return await self._dms.get(tid, open_dm)
        except PlatformError as exc:
            if exc.code == "missing_scope" and not for_upload:
                return tid  # chat.postMessage opens the DM itself
            raise

    # -- text ------------------------------------------------------------------------
    def text_messages(self, message: Message) -> int:
        return len(self.render_messages(message.title, [(message.text or "", message.markdown)]))

    def render_messages(
        self, title: str | None, parts: list[tuple[str, bool]]
    ) -> list[dict[str, Any]]:
        """chat.postMessage payloads (without ``channel``) for a title and text parts."""
        import copy

        key = ("render_messages", title, tuple(parts))
        made = self.split_once(key, lambda: self._render_messages(title, parts))
        return copy.deepcopy(made)  # callers add the channel to each payload

    def _render_messages(
        self, title: str | None, parts: list[tuple[str, bool]]
    ) -> list[dict[str, Any]]:
        parts = [(t, md) for t, md in parts if t and t.strip()]
        title = title.strip() if title and title.strip() else None
        if not parts and title:
            parts, title = [(title, False)], None
        if not parts:
            return []
        # Plain text arrives as typed: ``mrkdwn`` defaults to true on chat.postMessage
        # ("Disable Slack markup parsing by setting to false"), and a section's text object
        # is ``plain_text`` unless it holds rendered markdown.
        any_md = any(md for _, md in parts)
        flags: dict[str, Any] = {} if any_md else {"mrkdwn": False}
        if title is None:
            from imcli import markup

            messages = markup.pack(
                parts, limit=TEXT_LIMIT, measure=len, plain=escape, markdown=markup.to_slack_mrkdwn
            )
            return [{"text": m, **flags} for m in messages]
        return [
            {**payload, **flags} for payload in self._block_messages(title, parts, any_md=any_md)
        ]

    @staticmethod
    def _header_block(title: str, *, any_md: bool) -> dict[str, Any]:
        """The title as a header block; one too long for a header is a bold section."""
        heading = " ".join(title.split())
        if len(heading) <= HEADER_LIMIT:
            return {
                "type": "header",
                "text": {"type": "plain_text", "text": heading, "emoji": True},
            }
        shown = escape(heading)
        if len(shown) > SECTION_LIMIT - 2:
            shown = shown[: SECTION_LIMIT - 3].rsplit("&", 1)[0] + "…"
        if any_md:
            return {"type": "section", "text": {"type": "mrkdwn", "text": f"*{shown}*"}}
        return {"type": "section", "text": {"type": "plain_text", "text": shown}}

    def _block_messages(
        self, title: str, parts: list[tuple[str, bool]], *, any_md: bool
    ) -> list[dict[str, Any]]:
        """Messages of section blocks under the title's header: at most MAX_BLOCKS blocks
        each, and a ``text`` fallback within TEXT_LIMIT."""
        from imcli import markup

        pieces = [
            (p, md)
            for text, md in parts
            for p in markup.split_source(
                text,
                markdown=md,
                render=markup.to_slack_mrkdwn if md else escape,
                limit=SECTION_LIMIT,
                measure=len,
            )
            if p.strip()
        ]
        fallback_head = escape(title)[: TEXT_LIMIT // 4]

        def fits(n: int, group: list[tuple[str, bool]]) -> bool:
            texts = [fallback_head] * (n == 0) + [p for p, _ in group]
            return len(texts) <= MAX_BLOCKS and len("\n\n".join(texts)) <= TEXT_LIMIT

        out: list[dict[str, Any]] = []
        for n, group in enumerate(markup.pack_groups(pieces, fits) or [[]]):  # the header alone
            blocks = [self._header_block(title, any_md=any_md)] if n == 0 else []
            blocks += [
                {"type": "section", "text": {"type": "mrkdwn" if md else "plain_text", "text": p}}
                for p, md in group
            ]
            texts = [fallback_head] * (n == 0) + [p for p, _ in group]
            out.append({"text": "\n\n".join(texts), "blocks": blocks})
        return out

    async def _send_texts(
        self,
        target: Target,
        title: str | None,
        parts: list[tuple[str, bool]],
        extra: dict[str, Any],
        tracker: SendTracker,
    ) -> None:
        payloads = self.render_messages(title, parts)
        if not payloads:
            return
        channel = await self._channel(target, for_upload=False)
        for payload in payloads:
            body = {"channel": channel, **payload, **extra}
            reply = await self._call("chat.postMessage", json_body=body, send=True, target=target)
            tracker.sent(reply.get("ts"))

    # -- files -----------------------------------------------------------------------
    async def _upload(self, target: Target, src: MediaSource, title: str | None) -> dict[str, Any]:
        """Steps 1 and 2 of the external upload; the ``files`` entry for step 3."""
        from imcli.http import file_chunks

        local = await self.playable(src)
        length: Any = local.size if local.size is not None else f"<size of {local.spec}>"
        ticket = await self._call(
            "files.getUploadURLExternal",
            form={"filename": local.filename, "length": length},
            target=target,
        )
        upload_url, file_id = ticket.get("upload_url"), ticket.get("file_id")
        if not isinstance(upload_url, str) or not isinstance(file_id, str):
            raise PlatformError("files.getUploadURLExternal returned no upload_url/file_id")
        headers = {"Content-Type": local.mime or "application/octet-stream"}
        if local.size is not None:
            headers["Content-Length"] = str(local.size)
        try:
            await self.http.request(
                "POST",
                upload_url,
                content=(lambda: file_chunks(local)) if not local.is_url else None,
                headers=headers,
                parse=parse_upload,
                target=target,
                describe=local,
            )
        except PlatformError as exc:
            raise upload_failed(exc) from None
        entry = {"id": file_id, "title": (title or "").strip() or local.filename}
        return entry

    async def _send_files(
        self,
        target: Target,
        files: list[tuple[MediaSource, str | None]],
        title: str | None,
        extra: dict[str, Any],
        tracker: SendTracker,
    ) -> None:
        channel = await self._channel(target, for_upload=True)
        entries = [await self._upload(target, src, caption) for src, caption in files]
        form: dict[str, Any] = {"files": entries, "channel_id": channel}
        if title and title.strip():
            form["initial_comment"] = escape(title.strip())
        form.update(extra)
        reply = await self._call(
            "files.completeUploadExternal", form=form, send=True, target=target
        )
        done = reply.get("files")
        ids = [f.get("id") for f in done if isinstance(f, dict)] if isinstance(done, list) else []
        for fid in ids or [e["id"] for e in entries]:
            tracker.sent(fid)
