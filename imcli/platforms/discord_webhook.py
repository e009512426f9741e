"""Discord channel webhook: ``POST /api/webhooks/{id}/{token}?wait=true``.

The rules followed (discord.com/developers/docs/resources/webhook#execute-webhook,
…/reference#uploading-files, …/topics/rate-limits):

- The account is the webhook: its ``url`` (secret; the token is the last part of its
  path). A push has no -g/-u: it goes to the webhook's channel. ``wait=true`` makes
  Discord answer the message (its id) instead of 204, so a send is confirmed.
- text → ``{"content"}``, at most 2,000 characters a message (longer texts are cut at
  source line boundaries). Discord renders markdown itself: ``--markdown`` is passed
  through, plain text too. A title → ``{"embeds": [{"title", "description"}]}`` on the
  first message (the embed title cut to 256 characters).
- image, voice, video, file → ``multipart/form-data`` with ``payload_json`` (the JSON
  payload, ``attachments: [{"id": n, "filename"}]``) and the file as ``files[n]``;
  the title is the message's ``content``. At most 25 MiB a request (the default without
  boosts); a URL is downloaded first.
- mixed → the texts as messages, the last of them together with the files, up to 10
  files (and 25 MiB) a message; an item's caption is its attachment's ``description``.
- ``-o thread_id=…`` posts in a thread of the channel (a query parameter); other keys
  (``username``, ``avatar_url``, ``allowed_mentions``, …) go into the payload.

Errors are JSON ``{"message", "code"}``: 10015 (Unknown Webhook) and 50027 (Invalid
Webhook Token) mean the account is offline. 429 answers carry ``retry_after`` (seconds)
and are retried after it; the per-webhook bucket is read from ``X-RateLimit-Remaining``
and ``X-RateLimit-Reset-After``: when it is empty the next send waits for the reset
instead of provoking a 429.
"""

from __future__ import annotations

import re
import time
from typing import TYPE_CHECKING, Any

from imcli.errors import AccountOffline, PlatformError, RetryableError
from imcli.platforms._webhook import WebhookAdapter, register, status_check
from imcli.platforms.base import Field, Limit, PlatformSpec, SendTracker

if TYPE_CHECKING:
    import httpx

    from imcli.media import MediaSource
    from imcli.models import Message, Target

MiB = 1 << 20

SPEC = PlatformSpec(
    name="discord-webhook",
    title="Discord webhook",
    group_target="the webhook's channel (implicit, no -g)",
    api="channel webhook (execute webhook)",
    webhook=True,
    fields=(
        Field(
            "url",
            required=True,
            secret=True,
            help="https://discord.com/api/webhooks/ID/TOKEN",
        ),
    ),
    # 5 requests per 2 s per webhook, 30 messages/min per channel; the live bucket is
    # read from the answers' X-RateLimit-* headers
    rate_limits=(Limit(5, 2.0, "chat"), Limit(30, 60.0, "chat")),
    default_base_url="https://discord.com",
    adapter="imcli.platforms.discord_webhook:DiscordWebhookAdapter",
)

CONTENT_LIMIT = 2_000  # characters of content
EMBED_TITLE_LIMIT = 256
DESCRIPTION_LIMIT = 1_024  # an attachment's description
UPLOAD_LIMIT = 25 * MiB  # a request's files together
MAX_FILES = 10
GONE = frozenset({10015, 50027})
QUERY_KEYS = frozenset({"thread_id"})
_PATH = re.compile(r"^/api(?:/v\d+)?/webhooks/(\d+)/([A-Za-z0-9._-]+)/?$")


def chars(text: str) -> int:
    """Discord counts UTF-16 code units (JavaScript string length)."""
    return len(text.encode("utf-16-le")) // 2


class DiscordWebhookAdapter(WebhookAdapter):
    spec = SPEC
    reserved = frozenset({"content", "embeds", "attachments", "payload_json", "files", "wait"})
    url_shape = "https://discord.com/api/webhooks/ID/TOKEN"

    def __init__(self, account: Any, http: Any) -> None:
        super().__init__(account, http)
        self._bucket_reset = 0.0  # monotonic time the emptied bucket refills
        self._query: dict[str, str] = {}

    @classmethod
    def media_limit(cls, account: Any, kind: str) -> int | None:
        return UPLOAD_LIMIT

    def download_limit(self, src: MediaSource) -> int | None:
        return UPLOAD_LIMIT  # Discord cannot fetch a URL for an attachment: imcli uploads it

    def text_messages(self, message: Message) -> int:
        return len(self.text_payloads(message.title, [(message.text or "", message.markdown)]))

    def destination(self) -> str:
        given = self.given_url()
        match = _PATH.match(given[1]) if given is not None else None
        if given is None or match is None:
            raise self.bad_account("give the webhook's url")
        register(match.group(2))
        return self.origin(given) + given[1].rstrip("/")

    def dry_run_reply(self, method: str, url: str) -> Any:
        return {"id": "0", "channel_id": "0", "name": "dry-run"}

    # -- answers -------------------------------------------------------------------------
    def parse(self, resp: httpx.Response) -> Any:
        from imcli.http import retry_after_header

        self._read_bucket(resp)
        data: Any = None
        try:
            data = resp.json() if resp.content else None
        except ValueError:
            data = None
        if resp.status_code == 429:
            after = data.get("retry_after") if isinstance(data, dict) else None
            wait = float(after) if isinstance(after, (int, float)) else retry_after_header(resp)
            scope = " (global)" if isinstance(data, dict) and data.get("global") else ""
            raise RetryableError(
                f"You are being rate limited{scope} (429)", retry_after=wait, status=429
            )
        status_check(resp)
        if resp.status_code < 300:
            if resp.status_code != 204 and not isinstance(data, dict):
                from imcli.http import json_reply

                data = json_reply(resp)  # raises: a 200 that is not the message
            return data if isinstance(data, dict) else {}
        if not isinstance(data, dict):
            from imcli.http import snippet

            # masked before it is cut: the webhook token across the cut must not leave half
            text = snippet(resp)[0] or resp.reason_phrase
            raise PlatformError(f"HTTP {resp.status_code}: {text}", status=resp.status_code)
        code = data.get("code")
        text = (
            f"{data.get('message') or 'error'} ({code if code is not None else resp.status_code})"
        )
        errors = data.get("errors")
        if isinstance(errors, dict):
            text += f": {_first_error(errors)}"
        if code in GONE:
            raise AccountOffline(text, reason="credentials", code=code, status=resp.status_code)
        raise PlatformError(text, code=code, status=resp.status_code)

    def _read_bucket(self, resp: httpx.Response) -> None:
        remaining = resp.headers.get("x-ratelimit-remaining")
        reset_after = resp.headers.get("x-ratelimit-reset-after")
        try:
            if remaining is not None and int(remaining) <= 0 and reset_after:
                self._bucket_reset = time.monotonic() + float(reset_after)
        except ValueError:
            pass

    async def check(self) -> str:
        """GET on the webhook URL answers the webhook (its name) and posts nothing."""
        hook = await self.http.request("GET", self.url(), parse=self.parse)
        return f"webhook {hook.get('name')!r} of channel {hook.get('channel_id')}"

    # -- checks before anything is sent ------------------------------------------------
    def check_message(self, message: Message) -> None:
        for i, src in enumerate(message.media_sources()):
            if not src.is_url:
                what = f"item {i}: {src.kind}" if message.kind == "mixed" else src.kind
                src.check_size(UPLOAD_LIMIT, self.spec.name, what)

    # -- the messages ---------------------------------------------------------------------
    def text_payloads(
        self, title: str | None, texts: list[tuple[str, bool]]
    ) -> list[dict[str, Any]]:
        from imcli import markup

        title = " ".join((title or "").split())
        texts = [(t, md) for t, md in texts if t and t.strip()]
        chunks = markup.pack(
            texts, limit=CONTENT_LIMIT, measure=chars, plain=markup.keep, markdown=markup.keep
        )
        if not title:
            return [{"content": c} for c in chunks]
        if chars(title) > EMBED_TITLE_LIMIT:
            title = title[: EMBED_TITLE_LIMIT - 1] + "…"
        embed: dict[str, Any] = {"title": title}
        if chunks:
            embed["description"] = chunks[0]
        return [{"embeds": [embed]}] + [{"content": c} for c in chunks[1:]]

    def file_groups(
        self, files: list[tuple[MediaSource, str | None]]
    ) -> list[list[tuple[MediaSource, str | None]]]:
        groups: list[list[tuple[MediaSource, str | None]]] = []
        size = 0
        for src, caption in files:
            n = src.size or 0
            if not groups or len(groups[-1]) >= MAX_FILES or size + n > UPLOAD_LIMIT:
                groups.append([])
                size = 0
            groups[-1].append((src, caption))
            size += n
        return groups

    async def send_files(
        self,
        payload: dict[str, Any],
        files: list[tuple[MediaSource, str | None]],
        extra: dict[str, Any],
    ) -> Any:
        local = [(await self.local_copy(src, UPLOAD_LIMIT), cap) for src, cap in files]
        attachments = []
        for n, (src, cap) in enumerate(local):
            entry: dict[str, Any] = {"id": n, "filename": src.filename}
            if cap and cap.strip():
                entry["description"] = cap.strip()[:DESCRIPTION_LIMIT]
            attachments.append(entry)
        body = {**payload, **extra, "attachments": attachments}
        import json

        def parts() -> dict[str, Any]:
            return {
                f"files[{n}]": (src.filename, src.open(), src.mime or "application/octet-stream")
                for n, (src, _) in enumerate(local)
            }

        described = {"payload_json": body, **{f"files[{n}]": s for n, (s, _) in enumerate(local)}}
        dry = self.http.dry_run or any(s.is_url for s, _ in local)
        return await self.send(
            data={"payload_json": json.dumps(body, ensure_ascii=False)},
            files=None if dry else parts,
            describe=described,
        )

    async def send(self, **kwargs: Any) -> Any:
        params = {"wait": "true", **self._query}
        wait = self._bucket_reset - time.monotonic()
        if 0 < wait < self.http.budget.remaining():
            import asyncio

            await asyncio.sleep(wait)  # the bucket is empty: wait for it, do not provoke a 429
        return await self.post(self.parse, params=params, **kwargs)

    async def send_one(self, target: Target, message: Message, tracker: SendTracker) -> None:
        # thread_id (a thread of the webhook's channel) is a query parameter, not a field
        self._query = {k: str(v) for k, v in message.extra.items() if k in QUERY_KEYS}
        extra = {k: v for k, v in message.extra.items() if k not in QUERY_KEYS}
        if message.kind == "text":
            texts = [(message.text or "", message.markdown)]
            files: list[tuple[MediaSource, str | None]] = []
            title = message.title
        elif message.kind == "mixed":
            texts = [(it.text or "", it.type == "markdown") for it in message.items if it.is_text]
            files = [(it.media, it.caption) for it in message.items if it.media is not None]
            title = message.title
        else:
            assert message.media is not None
            texts, files, title = [], [(message.media, None)], None
            if message.title and message.title.strip():
                texts = [(message.title, False)]
        payloads = self.text_payloads(title, texts)
        groups = self.file_groups(files)
        # the last text message carries the first files, as one message
        carried = payloads.pop() if payloads and groups else {}
        for payload in payloads:
            reply = await self.send(json={**payload, **extra})
            tracker.sent(reply.get("id"))
        for n, group in enumerate(groups):
            reply = await self.send_files(carried if n == 0 else {}, group, extra)
            tracker.sent(reply.get("id"))


def _first_error(errors: dict[str, Any], path: str = "") -> str:
    """The first message of Discord's nested ``errors`` object, with its field path."""
    for key, value in errors.items():
        if key == "_errors" and isinstance(value, list) and value:
            first = value[0]
            msg = first.get("message") if isinstance(first, dict) else str(first)
            return f"{path or 'body'}: {msg}"
        if isinstance(value, dict):
            found = _first_error(value, f"{path}.{key}" if path else key)
            if found:
                return found
    return ""
