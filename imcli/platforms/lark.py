"""Lark / Feishu: Open Platform IM v1 with app credentials (tenant_access_token)."""

from imcli.platforms.base import Field, Limit, PlatformSpec

SPEC = PlatformSpec(
    name="lark",
    title="Lark / Feishu",
    aliases=("feishu", "fs"),
    user_target="chatId (also ou_… open_id, on_… union_id, an e-mail)",
    group_target="chatId (oc_…)",
    api="Open Platform IM v1",
    fields=(
        Field("app_id", required=True, help="cli_…"),
        Field("app_secret", required=True, secret=True),
    ),
    rate_limits=(Limit(50, 1.0, "account"), Limit(5, 1.0, "chat")),
    default_base_url="https://open.feishu.cn",
    adapter=None,
)
