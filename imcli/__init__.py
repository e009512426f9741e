"""imcli: push messages to Telegram, WeChat, QQ (OneBot v11), Lark/Feishu, Slack and WeCom.

The Python API (the SDK's functions and signatures, its camelCase names as aliases)::

    from imcli import push, push_image
    push("telegram", "", "123456", "Backup", "done in 42 s")   # → 1

Everything is imported lazily, so ``import imcli`` costs next to nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from imcli._version import __version__

if TYPE_CHECKING:
    from imcli.api import (
        push,
        push_file,
        push_image,
        push_mixed,
        push_video,
        push_voice,
    )
    from imcli.errors import (
        ConfigError,
        ImcliError,
        PlatformError,
        UsageError,
    )

_API = {
    "push": "push",
    "push_image": "push_image",
    "push_voice": "push_voice",
    "push_video": "push_video",
    "push_file": "push_file",
    "push_mixed": "push_mixed",
    "pushImage": "push_image",
    "pushVoice": "push_voice",
    "pushVideo": "push_video",
    "pushFile": "push_file",
    "pushMixed": "push_mixed",
}
_ERRORS = (
    "ImcliError",
    "UsageError",
    "ConfigError",
    "NoAccountError",
    "PlatformError",
    "AccountOffline",
    "MaybeDeliveredError",
    "Interrupted",
)

__all__ = [
    "__version__",
    "push",
    "push_image",
    "push_voice",
    "push_video",
    "push_file",
    "push_mixed",
    "pushImage",
    "pushVoice",
    "pushVideo",
    "pushFile",
    "pushMixed",
    "ImcliError",
    "UsageError",
    "ConfigError",
    "NoAccountError",
    "PlatformError",
    "AccountOffline",
    "MaybeDeliveredError",
    "Interrupted",
]


def __getattr__(name: str) -> Any:
    if name in _API:
        from imcli import api

        return getattr(api, _API[name])
    if name in _ERRORS:
        from imcli import errors

        return getattr(errors, name)
    raise AttributeError(f"module 'imcli' has no attribute {name!r}")
