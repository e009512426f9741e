"""The data that flows one way: CLI flags → PushRequest → per-target results.

Nothing here imports the HTTP stack, so the CLI can build a request cheaply.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from imcli.media import MediaSource

KINDS: tuple[str, ...] = ("text", "image", "voice", "video", "file", "mixed")
MEDIA_KINDS: tuple[str, ...] = ("image", "voice", "video", "file")


@dataclass(frozen=True)
class Target:
    """One recipient: ``user:<id>`` or ``group:<id>``."""

    kind: Literal["user", "group"]
    id: str

    def __str__(self) -> str:
        return f"{self.kind}:{self.id}"


@dataclass
class Item:
    """One part of a mixed message (the SDK's item shape)."""

    type: str  # text | markdown | image | voice | video | file
    text: str | None = None
    media: MediaSource | None = None
    caption: str | None = None

    @property
    def is_text(self) -> bool:
        return self.type in ("text", "markdown")


@dataclass
class Message:
    """What to send, independent of the platform."""

    kind: str
    title: str | None = None
    text: str | None = None
    markdown: bool = False
    media: MediaSource | None = None
    items: list[Item] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)  # -o KEY=VALUE, merged into sends

    def media_sources(self) -> list[MediaSource]:
        if self.media is not None:
            return [self.media]
        return [it.media for it in self.items if it.media is not None]


@dataclass
class PushRequest:
    platform: str | None
    targets: list[Target]
    message: Message
    account: str | None = None
    timeout_ms: int | None = None
    dry_run: bool = False
    profile: str | None = None


@dataclass
class TargetResult:
    target: Target
    ok: bool = False
    account: str | None = None
    message_ids: list[str] = field(default_factory=list)
    error: str | None = None
    error_exc: BaseException | None = field(default=None, repr=False)

    def to_json(self) -> dict[str, Any]:
        return {
            "target": str(self.target),
            "ok": self.ok,
            "account": self.account,
            "message_ids": list(self.message_ids),
            "error": self.error,
        }


@dataclass
class PushResult:
    platform: str
    results: list[TargetResult]
    exit_code: int = 0
    dry_run: bool = False
    plan: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def sent(self) -> int:
        return sum(1 for r in self.results if r.ok)

    @property
    def failed(self) -> int:
        return sum(1 for r in self.results if not r.ok)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "sent": self.sent,
            "failed": self.failed,
            "targets": [r.to_json() for r in self.results],
        }
        if self.dry_run:
            out["dry_run"] = True
            out["requests"] = self.plan
        return out
