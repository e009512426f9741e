"""DingTalk: listed so that `imcli platforms` can say why it is refused."""

from imcli.platforms.base import PlatformSpec

SPEC = PlatformSpec(
    name="dingtalk",
    title="DingTalk",
    aliases=("dd",),
    api="DingTalk robot",
    unsupported=(
        "dingtalk: not supported: DingTalk app bots answer callbacks only; "
        "to post to a group use `-p dingtalk-robot`"
    ),
)
