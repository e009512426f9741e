"""Discord: listed so that `imcli platforms` can say why it is refused."""

from imcli.platforms.base import PlatformSpec

SPEC = PlatformSpec(
    name="discord",
    title="Discord",
    api="Discord bot",
    unsupported=(
        "discord: not supported: the bot only replies after a user writes to it; "
        "to post to a channel use `-p discord-webhook`"
    ),
)
