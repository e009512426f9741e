"""Slack: Web API with a bot token (chat.postMessage, external file uploads)."""

from imcli.platforms.base import Field, Limit, PlatformSpec

SPEC = PlatformSpec(
    name="slack",
    title="Slack",
    user_target="chatId (a D… DM channel, or a U… user id, opened as a DM)",
    group_target="chatId (C…/G…)",
    api="Web API",
    fields=(Field("token", required=True, secret=True, help="bot token, xoxb-…"),),
    rate_limits=(Limit(1, 1.0, "chat"),),
    default_base_url="https://slack.com/api",
    adapter=None,
)
