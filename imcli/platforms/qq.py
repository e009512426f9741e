"""Personal QQ through a OneBot v11 HTTP server (NapCat, Lagrange, LLOneBot, go-cqhttp)."""

from imcli.platforms.base import Field, Limit, PlatformSpec

SPEC = PlatformSpec(
    name="qq",
    title="Personal QQ (OneBot v11)",
    aliases=("onebot",),
    user_target="QQ number",
    group_target="group number",
    api="OneBot v11 HTTP API",
    fields=(
        Field("base_url", required=True, help="the OneBot HTTP server, e.g. http://127.0.0.1:3000"),
        Field("access_token", secret=True, help="sent as Authorization: Bearer"),
        Field(
            "shared_files",
            type=bool,
            default=False,
            help="the OneBot server shares this machine's files",
        ),
    ),
    rate_limits=(Limit(2, 1.0, "account"),),
    adapter=None,
)
