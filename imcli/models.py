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
    """One recipient: ``user:<id>`` or ``group:<id>``; a webhook platform's one implicit
    target is ``webhook`` (the account is the destination)."""

    kind: Literal["user", "group", "webhook"]
    id: str

    def __str__(self) -> str:
        if self.kind == "webhook":
            return "webhook"
        return f"{self.kind}:{self.id}"


#: the one target of a push to a webhook platform
WEBHOOK_TARGET = Target("webhook", "webhook")


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
    verbose: int = 0  # 1: every request; 2: their bodies too
    profile: str | None = None
    #: at most this many messages per text (None: ``[settings] max_parts``, else 10; 0 = no limit)
    max_parts: int | None = None


@dataclass
class TargetResult:
    target: Target
    ok: bool = False
    account: str | None = None
    message_ids: list[str] = field(default_factory=list)
    error: str | None = None
    error_exc: BaseException | None = field(default=None, repr=False)
    #: its fate is unknown (no answer, a 5xx from a gateway, an interrupt in flight):
    #: "may have been delivered", never counted as sent
    uncertain: bool = False
    #: a send that may have arrived was repeated (``resend_uncertain``)
    resent: bool = False
    #: the messages a long text was split into (0: not known / not split)
    parts_total: int = 0

    @property
    def maybe_delivered(self) -> bool:
        """Not surely sent, but it may have arrived (never counted as sent)."""
        if self.ok:
            return False
        from imcli.errors import MaybeDeliveredError

        return self.uncertain or isinstance(self.error_exc, MaybeDeliveredError)

    @property
    def parts_sent(self) -> int:
        return len(self.message_ids)

    @property
    def partly_sent(self) -> bool:
        """Some parts of a split text arrived, not all."""
        return not self.ok and 0 < self.parts_sent < self.parts_total

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "target": str(self.target),
            "ok": self.ok,
            "account": self.account,
            "message_ids": list(self.message_ids),
            "error": self.error,
            "uncertain": self.maybe_delivered,
        }
        if self.parts_total > 1:
            out["parts_sent"] = self.parts_sent
            out["parts_total"] = self.parts_total
        if self.resent:
            out["resent"] = True
        return out


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

    @property
    def uncertain(self) -> int:
        """Targets that may have been delivered (not counted in ``sent``)."""
        return sum(1 for r in self.results if r.maybe_delivered)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "sent": self.sent,
            "failed": self.failed,
            "uncertain": self.uncertain,
            "targets": [r.to_json() for r in self.results],
        }
        if self.dry_run:
            out["dry_run"] = True
            out["requests"] = self.plan
        return out
