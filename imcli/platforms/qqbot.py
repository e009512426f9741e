"""The official QQ bot API: listed so that `imcli platforms` can say why it is refused."""

from imcli.platforms.base import PlatformSpec

SPEC = PlatformSpec(
    name="qqbot",
    title="QQ official bot",
    aliases=("qq-official",),
    api="QQ bot open platform",
    unsupported=(
        "qqbot: not supported: the official QQ bot API has allowed no proactive messages "
        "since 2025-04-21; it can only reply (use `-p qq` with a OneBot v11 server instead)"
    ),
)
