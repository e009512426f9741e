"""CommonMark rendering for chat platforms, and splitting of long texts.

``--markdown`` content is CommonMark. It is parsed with markdown-it-py (imported lazily,
so that importing this package costs only the standard library) and rendered from the
parser's token tree -- never with regular expressions on the source -- into:

- :func:`to_telegram_html` -- Telegram's HTML subset (``parse_mode=HTML``): every text
  character escaped, tags balanced and nested, so Telegram never answers "can't parse
  entities";
- :func:`to_slack_mrkdwn` -- Slack ``mrkdwn``;
- :func:`to_plain_text` -- readable plain text for platforms without markup (OneBot/QQ,
  WeChat).

:func:`split_source` cuts a text that is too long for one message into rendered chunks
that each fit the platform's limit, cutting the *source* at line boundaries (never inside
a code block that fits a message on its own) and rendering each part. The measures
:func:`utf16_len`, :func:`telegram_visible_len` and :func:`utf8_len` go with it, and
:func:`pack` / :func:`pack_titled` / :func:`pack_groups` (in ``_pack``) pack the parts
into as few messages as a platform's limits allow.

The renderer lives in ``_render``, the splitter in ``_split``, the parser both use in
``_parse``; this module is their public surface.
"""

from __future__ import annotations

from imcli.markup._pack import keep, pack, pack_groups, pack_titled
from imcli.markup._render import (
    BULLET,
    HR_LINE,
    escape_html,
    to_plain_text,
    to_slack_mrkdwn,
    to_telegram_html,
)
from imcli.markup._split import split_source, telegram_visible_len, utf8_len, utf16_len

__all__ = [
    "BULLET",
    "HR_LINE",
    "escape_html",
    "keep",
    "pack",
    "pack_groups",
    "pack_titled",
    "split_source",
    "telegram_visible_len",
    "to_plain_text",
    "to_slack_mrkdwn",
    "to_telegram_html",
    "utf8_len",
    "utf16_len",
]
