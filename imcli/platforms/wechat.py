"""WeChat Official Account (公众号) customer-service messages, with template fallback."""

from imcli.platforms.base import Field, PlatformSpec

SPEC = PlatformSpec(
    name="wechat",
    title="WeChat",
    aliases=("weixin", "wx"),
    user_target="openid of a follower",
    group_target=None,
    group_reason="wechat: group push is not supported",
    api="Official Account customer-service messages",
    refused_kinds={
        "file": "wechat: file push is not supported: customer-service messages have no file type",
    },
    fields=(
        Field("app_id", required=True, help="wx…"),
        Field("app_secret", required=True, secret=True),
        Field("template_id", help="template message used when the 48-hour window is closed"),
        Field(
            "template_fields",
            type=dict,
            help='e.g. {title = "thing1", content = "thing2", time = "time3"}',
        ),
    ),
    default_base_url="https://api.weixin.qq.com",
    adapter=None,
)
