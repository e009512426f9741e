"""Slack incoming webhook: ``POST https://hooks.slack.com/services/T…/B…/X…``.

The rules followed (docs.slack.dev/messaging/sending-messages-using-incoming-webhooks):

- The account is the webhook: its ``url`` (secret). The channel was chosen when the
  webhook was made; a push has no -g/-u.
- text → ``{"text"}`` with Slack's control characters ``&``, ``<``, ``>`` escaped;
  ``--markdown`` → ``{"text", "blocks": [{"type": "section", "text": {"type":
  "mrkdwn", "text"}}]}`` (CommonMark rendered as mrkdwn, ``text`` the notification
  fallback); a title is a ``header`` block (a bold section over 150 characters). Section
  texts hold at most 3,000 characters, a message at most 50 blocks and 40,000
  characters of ``text``; longer texts go as several messages, cut at source lines.
- A webhook cannot upload: image, voice, video, file and mixed are refused with that
  reason (`-p slack` with a bot token uploads).

Answers are text: ``ok`` with 200; errors are ``invalid_payload``/``no_text`` (400),
``invalid_token``/``action_prohibited`` (403), ``no_service``/``no_team`` (404),
``channel_is_archived`` (410) and 429 with ``Retry-After``. ``invalid_token``,
``no_service``, ``no_team`` and ``team_disabled`` mean the webhook is gone (the account
is offline).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from imcli.errors import AccountOffline, PlatformError
from imcli.platforms._webhook import WebhookAdapter, register, status_check
from imcli.platforms.base import Field, Limit, PlatformSpec, SendTracker

if TYPE_CHECKING:
    import httpx

    from imcli.models import Message, Target

NO_UPLOAD = (
    "slack-webhook: an incoming webhook cannot upload files; use `-p slack` with a bot "
    "token for media"
)

SPEC = PlatformSpec(
    name="slack-webhook",
    title="Slack incoming webhook",
    group_target="the webhook's channel (implicit, no -g)",
    api="incoming webhook (hooks.slack.com)",
    webhook=True,
    refused_kinds={k: NO_UPLOAD for k in ("image", "voice", "video", "file", "mixed")},
    fields=(
        Field("url", required=True, secret=True, help="https://hooks.slack.com/services/T…/B…/…"),
    ),
    rate_limits=(Limit(1, 1.0, "chat"),),  # 1 message/s per webhook
    default_base_url="https://hooks.slack.com",
    adapter="imcli.platforms.slack_webhook:SlackWebhookAdapter",
)

TEXT_LIMIT = 40_000
SECTION_LIMIT = 3_000
HEADER_LIMIT = 150
MAX_BLOCKS = 50
GONE = frozenset({"invalid_token", "no_service", "no_team", "team_disabled"})


def escape(text: str) -> str:
    """Slack's control characters in text: ``&``, ``<`` and ``>``."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def parse_reply(resp: httpx.Response) -> None:
    """200 is success (the body says ``ok``); else the body is the error code."""
    status_check(resp)
    if resp.status_code == 200:
        return
    from imcli.http import snippet

    # masked before it is cut: a webhook url's secret across the cut must not leave half
    code = snippet(resp)[0] or f"HTTP {resp.status_code}"
    text = f"{code} ({resp.status_code})"
    if code in GONE:
        raise AccountOffline(text, reason="credentials", code=code, status=resp.status_code)
    raise PlatformError(text, code=code, status=resp.status_code)


class SlackWebhookAdapter(WebhookAdapter):
    spec = SPEC
    reserved = frozenset({"text", "blocks", "attachments"})
    url_shape = "https://hooks.slack.com/services/T…/B…/…"

    def text_messages(self, message: Message) -> int:
        return len(self.bodies(message))

    def destination(self) -> str:
        given = self.given_url()
        if given is None or len(given[1].strip("/")) < 4:
            raise self.bad_account("give the webhook's url")
        secret_path = given[1].strip("/")
        register(secret_path, secret_path.rsplit("/", 1)[-1])
        return self.origin(given) + given[1]

    async def check(self) -> str:
        """An empty payload is refused with ``no_text`` by a live webhook and posts
        nothing; a dead one answers ``no_service``/``invalid_token``."""
        try:
            await self.post(parse_reply, json={}, send=False)
        except AccountOffline:
            raise
        except PlatformError as exc:
            if exc.code in ("no_text", "invalid_payload"):
                return "webhook ok (an empty payload was refused with no_text; nothing posted)"
            raise
        return "webhook answered ok"

    def bodies(self, message: Message) -> list[dict[str, Any]]:
        from imcli import markup

        title = " ".join((message.title or "").split())
        text, md = message.text or "", message.markdown
        if not text.strip():
            text, md, title = title, False, ""
        render = markup.to_slack_mrkdwn if md else escape
        if not title and not md:
            chunks = markup.pack(
                [(text, md)], limit=TEXT_LIMIT, measure=len, plain=render, markdown=render
            )
            return [{"text": c} for c in chunks]
        pieces = markup.pack(
            [(text, md)], limit=SECTION_LIMIT, measure=len, plain=render, markdown=render
        )
        blocks: list[dict[str, Any]] = []
        if title and len(title) <= HEADER_LIMIT:
            blocks.append(
                {"type": "header", "text": {"type": "plain_text", "text": title, "emoji": True}}
            )
        elif title:
            shown = escape(title)[: SECTION_LIMIT - 3]
            blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": f"*{shown}*"}})
        out: list[dict[str, Any]] = []
        texts = [escape(title)] if title else []
        for piece in pieces:
            if (
                len(blocks) >= MAX_BLOCKS
                or sum(len(t) + 2 for t in texts) + len(piece) > TEXT_LIMIT
            ):
                out.append({"text": "\n\n".join(texts), "blocks": blocks})
                blocks, texts = [], []
            blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": piece}})
            texts.append(piece)
        out.append({"text": "\n\n".join(texts), "blocks": blocks})
        return out

    async def send_one(self, target: Target, message: Message, tracker: SendTracker) -> None:
        for body in self.bodies(message):
            await self.post(parse_reply, json={**body, **message.extra})
            tracker.sent(None)
