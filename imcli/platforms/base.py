"""What every platform module declares, and the adapter base class.

A platform module (``imcli/platforms/<name>.py``) holds everything about one platform:
``SPEC`` (its matrix row, aliases, account fields, rate limits) and, when it can send,
an ``Adapter`` subclass with its payloads and send logic. This module is cheap to import
(no HTTP stack): ``imcli platforms`` and completion read only the specs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from imcli.errors import AccountOffline, ConfigError, ImcliError, PlatformError, UsageError
from imcli.models import KINDS, Message, Target, TargetResult

if TYPE_CHECKING:
    from imcli.http import HttpClient
    from imcli.media import MediaSource
    from imcli.profile import Account


@dataclass(frozen=True)
class Field:
    """One account field: drives validation, `accounts add`, masking and the docs."""

    name: str
    required: bool = False
    secret: bool = False
    type: type = str  # str, int, float, bool or dict
    help: str = ""
    default: Any = None


#: Fields every platform accepts.
COMMON_FIELDS: tuple[Field, ...] = (
    Field("base_url", help="API root; every call of this platform goes under it"),
    Field("proxy", help="http://, https:// or socks5:// proxy for this account"),
    Field("rate", type=float, help="messages/s for fan-out, 0 = no limit"),
    Field("default", type=bool, help="the platform's default account"),
    Field(
        "resend_uncertain",
        type=bool,
        help="repeat a send that may have been delivered (a duplicate rather than a loss)",
    ),
)


@dataclass(frozen=True)
class Limit:
    """At most ``count`` sends per ``period`` seconds, per ``scope``.

    scope: ``account`` (per bot/app), ``chat`` (per target) or ``group`` (group targets only).
    """

    count: int
    period: float
    scope: str = "account"


@dataclass(frozen=True)
class PlatformSpec:
    """One row of the support matrix, plus what the code needs to use it."""

    name: str
    title: str
    aliases: tuple[str, ...] = ()
    user_target: str | None = None  # what --user means, None = refused
    group_target: str | None = None  # what --group means, None = refused
    api: str = ""
    unsupported: str | None = None  # the whole platform is refused, with this reason
    refused_kinds: dict[str, str] = field(default_factory=dict)  # kind -> reason
    fields: tuple[Field, ...] = ()
    rate_limits: tuple[Limit, ...] = ()
    default_base_url: str | None = None
    adapter: str | None = None  # "module:Class", imported only to send; None = not built yet
    user_reason: str | None = None  # why --user is refused
    group_reason: str | None = None  # why --group is refused
    #: how the platform compares destinations: targets with the same key are one
    #: destination, sent once (None: the kind and the id as written)
    target_key: Callable[[Target], object] | None = None
    #: -o keys imcli itself sets on every send to keep it idempotent (refused, exit 2)
    send_keys: tuple[str, ...] = ()

    @property
    def supported(self) -> bool:
        return self.unsupported is None

    @property
    def built(self) -> bool:
        return self.unsupported is None and self.adapter is not None

    def all_fields(self) -> tuple[Field, ...]:
        own = {f.name for f in self.fields}
        return self.fields + tuple(f for f in COMMON_FIELDS if f.name not in own)

    def field(self, name: str) -> Field | None:
        for f in self.all_fields():
            if f.name == name:
                return f
        return None

    def secret_fields(self) -> list[str]:
        return [f.name for f in self.all_fields() if f.secret]

    def key(self, target: Target) -> object:
        """The destination ``target`` names, as the platform compares them."""
        if self.target_key is not None:
            return self.target_key(target)
        return (target.kind, target.id)

    def kind_status(self, kind: str) -> str | None:
        """None when the kind can be pushed, else the reason it cannot."""
        if self.unsupported:
            return self.unsupported
        if kind in self.refused_kinds:
            return self.refused_kinds[kind]
        if self.adapter is None:
            return f"{self.name}: the adapter is not built in this version of imcli yet"
        return None

    def target_status(self, kind: str) -> str | None:
        if self.unsupported:
            return self.unsupported
        if kind == "user" and self.user_target is None:
            return self.user_reason or f"{self.name}: personal (--user) push is not supported"
        if kind == "group" and self.group_target is None:
            return self.group_reason or f"{self.name}: group push is not supported"
        return None

    def matrix_row(self) -> dict[str, Any]:
        return {
            "platform": self.name,
            "aliases": list(self.aliases),
            "supported": self.supported,
            "built": self.built,
            "user": self.user_target if self.supported else None,
            "group": self.group_target if self.supported else None,
            "api": self.api,
            "reason": self.unsupported,
            "kinds": {k: self.kind_status(k) is None for k in KINDS},
            "refused": {k: r for k in KINDS if (r := self.kind_status(k))},
        }


class SendTracker:
    """What one target's delivery has done so far (shared with the core for failover)."""

    def __init__(self, result: TargetResult) -> None:
        self.result = result

    def sent(self, message_id: object) -> None:
        self.result.message_ids.append("" if message_id is None else str(message_id))

    @property
    def reached_platform(self) -> bool:
        return bool(self.result.message_ids)


class Adapter:
    """Base of every platform adapter: one instance per account per push."""

    spec: ClassVar[PlatformSpec]
    #: concurrent targets per account; rate limits still apply on top
    concurrency: ClassVar[int] = 64

    def __init__(self, account: Account, http: HttpClient) -> None:
        self.account = account
        self.http = http
        self._downloads: dict[str, MediaSource] = {}  # URL → its downloaded copy
        self._download_lock: Any = None

    # -- what adapters implement -------------------------------------------------
    def validate(self, message: Message, targets: list[Target]) -> None:
        """Refuse (UsageError) what this platform cannot send, before any request."""

    async def check(self) -> str:
        """Call the identity endpoint; return a short description of the account."""
        raise NotImplementedError

    async def send_one(self, target: Target, message: Message, tracker: SendTracker) -> None:
        """Send the whole message to one target; call ``tracker.sent(id)`` per part."""
        raise NotImplementedError

    def dry_run_reply(self, method: str, url: str) -> Any:
        """The JSON a successful answer to this request would carry (for --dry-run)."""
        return {}

    async def aclose(self) -> None:
        """Release anything the adapter holds (temporary files, …)."""
        from imcli.media import _forget

        for src in self._downloads.values():
            if src.path is not None:
                _forget(str(src.path))
        self._downloads.clear()

    async def local_copy(self, src: MediaSource, limit: int) -> MediaSource:
        """The source as something to upload: a URL is downloaded once per push
        (streamed to a temporary file, at most ``limit`` bytes), whatever the number of
        targets. In a dry run the URL is left as it is."""
        if not src.is_url or self.http.dry_run:
            return src
        assert src.url is not None
        if self._download_lock is None:
            import asyncio

            self._download_lock = asyncio.Lock()
        async with self._download_lock:
            got = self._downloads.get(src.url)
            if got is None:
                got = await src.download(self.http, limit, self.spec.name)
                self._downloads[src.url] = got
            return got

    # -- fan-out ---------------------------------------------------------------
    async def deliver(
        self,
        targets: Iterable[Target],
        message: Message,
        results: dict[Target, TargetResult],
        on_done: Callable[[TargetResult], None] | None = None,
    ) -> None:
        """Send to every target concurrently (bounded); record each outcome.

        An AccountOffline raised before anything reached the platform propagates out
        of the target (the core then hands that target to the next account).
        """
        import asyncio

        sem = asyncio.Semaphore(self.concurrency)
        offline: list[AccountOffline] = []

        async def one(target: Target) -> None:
            from imcli.http import _IN_FLIGHT

            res = results[target]
            tracker = SendTracker(res)
            flight: list[Any] = []
            _IN_FLIGHT.set(flight)  # this task's own context: its sends in flight
            async with sem:
                if offline:
                    res.error_exc = offline[0]
                    return
                try:
                    await self.send_one(target, message, tracker)
                    res.ok = True
                    res.error = None
                    res.error_exc = None
                except AccountOffline as exc:
                    if not tracker.reached_platform:
                        offline.append(exc)
                    res.ok = False
                    res.error = exc.message
                    res.error_exc = exc
                except (UsageError, ConfigError):
                    raise  # not a failed target: the push itself is wrong
                except ImcliError as exc:
                    res.ok = False
                    res.error = exc.message
                    res.error_exc = exc
                except asyncio.CancelledError:
                    # interrupted: a send whose request was out may have been delivered
                    if flight:
                        res.uncertain = True
                        res.error = (
                            "interrupted while it was being sent; it may have been delivered"
                        )
                    else:
                        res.error = "interrupted before it was sent"
                    raise
            if on_done is not None:
                on_done(res)

        # a fixed pool of workers takes the targets in order: a 10,000-target fan-out
        # holds `concurrency` tasks, not 10,000 (memory stays flat)
        queue = iter(targets)

        async def worker() -> None:
            for target in queue:
                await one(target)

        await asyncio.gather(*(worker() for _ in range(self.concurrency)))

    # -- helpers for adapters ----------------------------------------------------
    def base_url(self) -> str:
        url = self.account.get("base_url") or self.spec.default_base_url or ""
        return str(url).rstrip("/")

    def refuse(self, message: str) -> UsageError:
        return UsageError(f"{self.spec.name}: {message}")


def interrupted(res: TargetResult, *, in_flight: bool) -> None:
    """Record an interrupt (SIGINT/SIGTERM) on a target: a send whose request was out
    may have been delivered ("uncertain"); one not yet sent surely was not."""
    res.ok = False
    if in_flight:
        res.uncertain = True
        res.error = "interrupted while it was being sent; it may have been delivered"
    elif res.message_ids:
        res.error = "interrupted between two parts of the message"
    else:
        res.error = "interrupted before it was sent"


def upload_failed(exc: PlatformError) -> PlatformError:
    """``exc`` saying that it is the media upload that failed (every target of a push
    that shares the upload fails with it); its class, and so the retry and failover
    rules, unchanged. An offline account speaks for itself."""
    if not isinstance(exc, AccountOffline) and not exc.message.startswith("upload failed"):
        exc.reword(f"upload failed: {exc.message}")
    return exc
