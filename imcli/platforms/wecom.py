"""WeCom (企业微信) app messages: message/send with a cached access_token."""

from imcli.platforms.base import Field, Limit, PlatformSpec

SPEC = PlatformSpec(
    name="wecom",
    title="WeCom",
    aliases=("qywx", "wxwork"),
    user_target="userId",
    group_target=None,
    group_reason="wecom: group push is not supported (app messages go to users)",
    api="app messages (message/send)",
    fields=(
        Field("corp_id", required=True, help="ww…"),
        Field("corp_secret", required=True, secret=True),
        Field("agent_id", required=True, type=int),
        Field("allow_all", type=bool, default=False, help="allow the @all target"),
    ),
    rate_limits=(Limit(30, 60.0, "chat"),),
    default_base_url="https://qyapi.weixin.qq.com",
    adapter=None,
)
