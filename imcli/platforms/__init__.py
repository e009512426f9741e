"""The registry: platform names and aliases → platform modules.

Adding a platform is adding ``imcli/platforms/<name>.py`` with a ``SPEC`` and one line in
``_MODULES``. Importing a spec never imports the HTTP stack.
"""

from __future__ import annotations

import importlib
from functools import cache
from typing import TYPE_CHECKING

from imcli.errors import UsageError

if TYPE_CHECKING:
    from imcli.platforms.base import Adapter, PlatformSpec

#: the support matrix in its order: the app platforms, then the webhook robots
#: (module names use ``_`` where the platform names have ``-``)
_MODULES: tuple[str, ...] = (
    "telegram",
    "wechat",
    "qq",
    "lark",
    "slack",
    "wecom",
    "qqbot",
    "discord",
    "dingtalk",
    # webhook robots: the account is the destination (no -g/-u)
    "wecom_robot",
    "lark_robot",
    "dingtalk_robot",
    "discord_webhook",
    "slack_webhook",
)


@cache
def all_specs() -> tuple[PlatformSpec, ...]:
    return tuple(importlib.import_module(f"imcli.platforms.{m}").SPEC for m in _MODULES)


@cache
def _by_name() -> dict[str, PlatformSpec]:
    table: dict[str, PlatformSpec] = {}
    for spec in all_specs():
        table[spec.name] = spec
        for alias in spec.aliases:
            table[alias] = spec
    return table


def names_and_aliases() -> list[str]:
    return sorted(_by_name())


def find(name: str) -> PlatformSpec | None:
    return _by_name().get(name.strip().lower())


def get(name: str) -> PlatformSpec:
    spec = find(name)
    if spec is None:
        known = ", ".join(s.name for s in all_specs())
        hint = did_you_mean(name.strip().lower(), names_and_aliases())
        raise UsageError(
            f"unknown platform {name!r}{hint}; known platforms: {known} (see `imcli platforms`)"
        )
    return spec


def did_you_mean(word: str, choices: list[str] | tuple[str, ...] | set[str]) -> str:
    """``" (did you mean 'telegram'?)"`` when one of ``choices`` is close to ``word``."""
    import difflib

    close = difflib.get_close_matches(word, sorted(choices), n=1, cutoff=0.7)
    return f" (did you mean {close[0]!r}?)" if close else ""


def adapter_class(spec: PlatformSpec) -> type[Adapter]:
    if spec.adapter is None:
        raise UsageError(f"{spec.name}: the adapter is not built in this version of imcli yet")
    module, _, cls = spec.adapter.partition(":")
    return getattr(importlib.import_module(module), cls)  # type: ignore[no-any-return]
