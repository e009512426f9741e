"""What every platform module declares, and the adapter base class.

A platform module (``imcli/platforms/<name>.py``) holds everything about one platform:
``SPEC`` (its matrix row, aliases, account fields, rate limits) and, when it can send,
an ``Adapter`` subclass with its payloads and send logic. This module is cheap to import
(no HTTP stack): ``imcli platforms`` and completion read only the specs.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

from imcli.errors import AccountOffline, ConfigError, ImcliError, PlatformError, UsageError
from imcli.models import KINDS, Message, Target
from imcli.ratelimit import Limit as Limit  # platform specs declare their limits with it

if TYPE_CHECKING:
    import httpx

    from imcli.http import HttpClient
    from imcli.media import MediaSource
    from imcli.profile import Account
    from imcli.tokens import TokenAuth


@dataclass(frozen=True)
class Field:
    """One account field: drives validation, `accounts add`, masking and the docs."""

    name: str
    required: bool = False
    secret: bool = False
    type: type = str  # str, int, float, bool or dict
    help: str = ""
    default: Any = None
    ask: bool = True  # offered by the `accounts add` walk-through
    needs: str | None = None  # a field that must be set too when this one is true


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
        ask=False,
    ),
)


@dataclass(frozen=True)
class Formats:
    """The formats a platform takes for one kind of media (names from imcli.media.probe).

    ``convert_to``: other content is converted to this format when ffmpeg is found;
    None: it is refused."""

    accepted: tuple[str, ...]
    label: str  # how a refusal names them: "OGG/Opus, MP3 or M4A"
    convert_to: str | None = None


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
    #: a webhook platform: the account is the destination, pushes take no -g/-u and
    #: go to one implicit target (shown as ``webhook``)
    webhook: bool = False
    #: fields of which the account needs at least one (a webhook's ``key`` or ``url``)
    one_of: tuple[str, ...] = ()
    formats: dict[str, Formats] = field(default_factory=dict)  # kind -> what it takes
    #: kind -> the most bytes an upload of it may have (absent: no limit of its own)
    media_limits: dict[str, int] = field(default_factory=dict)
    #: the fewest bytes an upload may have
    min_media_size: int = 1
    #: how the platform compares destinations: targets with the same key are one
    #: destination, sent once (None: the kind and the id as written)
    target_key: Callable[[Target], object] | None = None
    #: -o keys imcli itself sets on every send to keep it idempotent (refused, exit 2)
    send_keys: tuple[str, ...] = ()

    @property
    def supported(self) -> bool:
        return self.unsupported is None

    @property
    def env_prefix(self) -> str:
        """``IMCLI_<PLATFORM>_`` of environment accounts (a hyphen becomes ``_``)."""
        return f"IMCLI_{self.name.upper().replace('-', '_')}_"

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
        if self.webhook and kind != "webhook":
            return (
                f"{self.name}: the webhook is the destination: drop -g/-u "
                "(an account per webhook picks the chat)"
            )
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
            "webhook": self.webhook,
            "reason": self.unsupported,
            "kinds": {k: self.kind_status(k) is None for k in KINDS},
            "refused": {k: r for k in KINDS if (r := self.kind_status(k))},
            "formats": {
                k: {"accepted": list(f.accepted), "convert_to": f.convert_to}
                for k, f in self.formats.items()
            },
        }


K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class OncePerPush(Generic[K, V]):
    """What an adapter works out once per push and every target reuses (a download, an
    upload's media id, an opened DM channel, an encoded file), per key.

    The first target to ask for a key computes it; targets asking for the same key
    meanwhile wait for that one result; other keys never wait on it. With
    ``remember_errors``, a failure (an :class:`ImcliError`) is kept too and raised to every
    later asker without trying again; a UsageError or ConfigError never is (it stops the
    whole push). Without it, the next asker tries again.
    """

    def __init__(self, *, remember_errors: bool = False) -> None:
        self.remember_errors = remember_errors
        self._done: dict[K, V | ImcliError] = {}
        self._locks: dict[K, Any] = {}

    def lock(self, key: K) -> Any:
        """The key's own ``asyncio.Lock`` (for an adapter that decides itself what to keep)."""
        lock = self._locks.get(key)
        if lock is None:
            import asyncio

            lock = self._locks[key] = asyncio.Lock()
        return lock

    async def get(self, key: K, compute: Callable[[], Awaitable[V]]) -> V:
        async with self.lock(key):
            if key in self._done:
                done = self._done[key]
                if isinstance(done, ImcliError):
                    raise done
                return done
            try:
                value = await compute()
            except (UsageError, ConfigError):
                raise
            except ImcliError as exc:
                if self.remember_errors:
                    self._done[key] = exc
                raise
            self._done[key] = value
            return value

    def values(self) -> list[V]:
        """Every value computed so far (not the failures)."""
        return [v for v in self._done.values() if not isinstance(v, ImcliError)]

    def clear(self) -> None:
        self._done.clear()
        self._locks.clear()


@dataclass
class Outcome:
    """What one target's delivery came to, as the adapter reports it: the core records
    it on the target's result (adapters never see the results)."""

    target: Target
    message_ids: list[str] = field(default_factory=list)
    ok: bool = False
    error: str | None = None
    error_exc: ImcliError | None = None
    #: its fate is unknown (an interrupt with the request out, or after some parts)
    uncertain: bool = False
    #: the target's delivery came to an end (sent or failed), rather than being
    #: interrupted or never tried
    settled: bool = True

    @classmethod
    def delivered(cls, target: Target, message_ids: list[str]) -> Outcome:
        return cls(target, list(message_ids), ok=True)

    @classmethod
    def failed(cls, target: Target, message_ids: list[str], exc: ImcliError) -> Outcome:
        return cls(target, list(message_ids), error=exc.message, error_exc=exc)

    @classmethod
    def not_tried(cls, target: Target, offline: AccountOffline) -> Outcome:
        """The account went offline before this target's turn: the next account takes it."""
        return cls(target, error=offline.message, error_exc=offline, settled=False)

    @classmethod
    def interrupted(cls, target: Target, message_ids: list[str], *, in_flight: bool) -> Outcome:
        """An interrupt (SIGINT/SIGTERM): a send whose request was out, or a message some
        parts of which arrived, may have been delivered ("uncertain"); one not yet sent
        surely was not."""
        out = cls(target, list(message_ids), settled=False)
        if in_flight:
            out.uncertain = True
            out.error = "interrupted while it was being sent; it may have been delivered"
        elif message_ids:  # some of it arrived: not "sent", not "not sent" either
            out.uncertain = True
            out.error = "interrupted after some parts of the message were delivered"
        else:
            out.error = "interrupted before it was sent"
        return out


Report = Callable[[Outcome], None]


class SendTracker:
    """What one target's delivery has done so far: the ids of the parts that arrived and,
    in a shared request (:meth:`Adapter.send_batch`), the failure of this target alone."""

    def __init__(self, target: Target) -> None:
        self.target = target
        self.message_ids: list[str] = []
        self.error: ImcliError | None = None

    def sent(self, message_id: object) -> None:
        self.message_ids.append("" if message_id is None else str(message_id))

    def failed(self, exc: ImcliError) -> None:
        self.error = exc

    @property
    def reached_platform(self) -> bool:
        return bool(self.message_ids)

    def outcome(self) -> Outcome:
        if self.error is not None:
            return Outcome.failed(self.target, self.message_ids, self.error)
        return Outcome.delivered(self.target, self.message_ids)

    def interrupted(self, *, in_flight: bool) -> Outcome:
        if self.error is not None:  # its own failure came before the interrupt
            return self.outcome()
        return Outcome.interrupted(self.target, self.message_ids, in_flight=in_flight)


class Adapter:
    """Base of every platform adapter: one instance per account per push."""

    spec: ClassVar[PlatformSpec]
    #: concurrent targets per account; rate limits still apply on top
    concurrency: ClassVar[int] = 64
    #: concurrent shared requests, for a platform that sends targets in batches
    batch_concurrency: ClassVar[int] = 4

    def __init__(self, account: Account, http: HttpClient) -> None:
        self.account = account
        self.http = http
        self._downloads: dict[str, MediaSource] = {}  # URL → its downloaded copy
        self._split: dict[Any, Any] = {}  # a text's messages, split once per push
        self._download_lock: Any = None
        self._download_errors: dict[str, UsageError] = {}
        self._playable: dict[int, MediaSource | ImcliError] = {}  # id(source) → as sent
        self._playable_locks: dict[int, Any] = {}
        self._converted: list[str] = []  # temporary files of conversions
        # (upload type, id(source)) → the platform's key; a failed upload fails every target
        self._uploaded: OncePerPush[tuple[str, int], str] = OncePerPush(remember_errors=True)

    # -- what adapters implement -------------------------------------------------
    @classmethod
    def upload_limit(cls, account: Account, kind: str) -> int | None:
        """The most bytes this account can upload as ``kind``: the spec's
        ``media_limits`` (an adapter whose accounts change them says so here)."""
        return cls.spec.media_limits.get(kind)

    @classmethod
    def media_limit(cls, account: Account, kind: str) -> int | None:
        """The most bytes this account can send as ``kind`` (None: no limit of the
        platform's own); standard input is read no further than this."""
        if cls.converts(kind):
            return None  # converted before upload: the limit applies to the result
        return cls.upload_limit(account, kind)

    def split_once(self, key: Any, split: Callable[[], Any]) -> Any:
        """``split()``, made once per push for the same ``key``: a long text is split
        for the overflow check and then sent to every target without splitting again."""
        if key not in self._split:
            if len(self._split) > 64:
                self._split.clear()  # the overflow search tries many prefixes
            self._split[key] = split()
        return self._split[key]

    @classmethod
    def converts(cls, kind: str) -> bool:
        """Content of this kind in another format is converted (when ffmpeg is found):
        the platform's size limit applies to the result, not to what is read."""
        fmts = cls.spec.formats.get(kind)
        return fmts is not None and fmts.convert_to is not None

    def text_messages(self, message: Message) -> int:
        """How many messages a text push takes on this platform (its own split), for
        the overflow policy and ``parts_total``; 1 where texts are never split."""
        return 1

    def validate(self, message: Message, targets: list[Target]) -> None:
        """Refuse (UsageError) what this platform cannot send, before any request."""

    async def check(self) -> str:
        """Call the identity endpoint; return a short description of the account."""
        raise NotImplementedError

    async def send_one(self, target: Target, message: Message, tracker: SendTracker) -> None:
        """Send the whole message to one target; call ``tracker.sent(id)`` per part.
        By the message's kind: :meth:`send_text`, :meth:`send_media` or :meth:`send_mixed`."""
        if message.kind == "text":
            await self.send_text(target, message, tracker)
        elif message.kind == "mixed":
            await self.send_mixed(target, message, tracker)
        else:
            assert message.media is not None
            await self.send_media(target, message.media, message.title, message.extra, tracker)

    async def send_text(self, target: Target, message: Message, tracker: SendTracker) -> None:
        raise NotImplementedError

    async def send_media(
        self,
        target: Target,
        src: MediaSource,
        title: str | None,
        extra: dict[str, Any],
        tracker: SendTracker,
    ) -> None:
        """One media message (with its title: a caption, or a message before it)."""
        raise NotImplementedError

    async def send_mixed(self, target: Target, message: Message, tracker: SendTracker) -> None:
        raise NotImplementedError

    def dry_run_reply(self, method: str, url: str) -> Any:
        """The JSON a successful answer to this request would carry (for --dry-run)."""
        return {}

    async def aclose(self) -> None:
        """Release anything the adapter holds (temporary files, …)."""
        from imcli.media import forget

        for src in self._downloads.values():
            if src.path is not None:
                forget(str(src.path))
        self._downloads.clear()
        for path in self._converted:
            forget(path)
        self._converted.clear()

    # -- formats (the spec's ``formats``) ---------------------------------------------------
    def check_format(self, src: MediaSource, what: str) -> None:
        """Before any request: refuse a local source in a format this platform does not
        take when it cannot be converted (no ffmpeg). URLs are checked once downloaded."""
        fmts = self.spec.formats.get(src.kind)
        if fmts is None or src.is_url:
            return
        from imcli.media import convert, probe

        fmt = probe.format_of(src)
        if fmt in fmts.accepted:
            return
        if fmts.convert_to is not None and convert.ffmpeg_path() is not None:
            return
        raise self.refuse(self._format_refusal(src, what, fmt, fmts))

    def will_convert(self, src: MediaSource) -> bool:
        """A local source of known audio/video content in a format this platform does not
        take, with ffmpeg found: it is converted before upload, so size limits apply to
        the result, not to it."""
        fmts = self.spec.formats.get(src.kind)
        if fmts is None or fmts.convert_to is None or src.is_url:
            return False
        from imcli.media import convert, probe

        fmt = probe.format_of(src)
        if fmt in fmts.accepted or fmt not in probe.AUDIO | probe.VIDEO:
            return False
        return convert.ffmpeg_path() is not None

    def _format_refusal(self, src: MediaSource, what: str, fmt: str | None, fmts: Formats) -> str:
        from imcli.media import probe

        name = src.filename or src.spec
        head = f"{what} {name} is {probe.label(fmt)}; a {self.spec.name} {src.kind} must be {fmts.label}"
        if fmts.convert_to is None:
            return head + ("; send it with `push file` instead" if src.kind != "file" else "")
        return head + "; install ffmpeg to convert it (pip install 'imcli[media]')"

    def size_limit(self, src: MediaSource) -> int:
        """The size limit of an upload of this source, after any conversion."""
        limit = self.upload_limit(self.account, src.kind)
        return 1 << 62 if limit is None else limit

    def check_media(self, message: Message) -> None:
        """Before any request: every source's format and size (exit 2, naming the limit).
        A URL is checked the same way once downloaded, a source to convert once converted."""
        for what, src in labelled_sources(message):
            self.check_format(src, what)
            if src.is_url or self.will_convert(src):
                continue
            src.check_size(self.size_limit(src), self.spec.name, what)
            least = self.spec.min_media_size
            if src.size is not None and src.size < least:
                raise self.refuse(
                    f"{what} {src.filename or src.spec} is {src.size} bytes; "
                    f"{self.spec.name} takes media of at least {least} bytes"
                )

    def checked_first(self, src: MediaSource) -> bool:
        """Whether check_media_first prepares this source."""
        return src.kind in self.spec.formats and (src.is_url or self.will_convert(src))

    async def check_media_first(self, message: Message) -> None:
        """Before any send: the sources whose content decides what is sent (URLs of kinds
        with declared formats, and sources to convert) are downloaded, checked and
        converted once, so that a refusal (exit 2) comes before the first message. A
        failed download is remembered: every target then fails with it."""
        for what, src in labelled_sources(message):
            if not self.checked_first(src):
                continue
            try:
                await self.playable(src, what)
            except (UsageError, ConfigError):
                raise
            except ImcliError:
                pass

    async def playable(self, src: MediaSource, what: str | None = None) -> MediaSource:
        """The source as it is to be uploaded: a URL downloaded (once per push), its
        content checked against the spec's formats, converted with ffmpeg (once per push)
        when needed, then its size checked against ``size_limit``. A dry run leaves a
        URL as it is. Refusals are exit 2; every target shares the outcome."""
        import asyncio

        limit = self.size_limit(src)

        lock = self._playable_locks.get(id(src))
        if lock is None:
            lock = self._playable_locks[id(src)] = asyncio.Lock()
        async with lock:
            done = self._playable.get(id(src))
            if isinstance(done, ImcliError):
                raise done
            if done is not None:
                return done
            try:
                got = await self._make_playable(src, limit, what or src.kind)
            except ImcliError as exc:
                self._playable[id(src)] = exc
                raise
            self._playable[id(src)] = got
            return got

    async def _make_playable(self, src: MediaSource, limit: int, what: str) -> MediaSource:
        fmts = self.spec.formats.get(src.kind)
        from imcli.media import convert, probe

        can_convert = fmts is not None and fmts.convert_to is not None
        if can_convert and convert.ffmpeg_path() is not None:
            download_cap = max(limit, 1 << 30)  # converted below; the limit is the result's
        else:
            download_cap = limit
        local = await self.local_copy(src, download_cap)
        if local.is_url or self.http.dry_run:
            return local
        if fmts is not None:
            fmt = probe.format_of(local)
            if fmt not in fmts.accepted:
                if fmts.convert_to is None or convert.ffmpeg_path() is None:
                    raise self.refuse(self._format_refusal(local, what, fmt, fmts))
                try:
                    local = await convert.convert(
                        local,
                        fmts.convert_to,
                        timeout=self.http.budget.remaining(),
                        platform=self.spec.name,
                        temps=self._converted,
                    )
                except UsageError as exc:  # "ffmpeg could not convert x: why"
                    name = local.filename or local.spec
                    why = exc.message.split(": ", 1)[-1]
                    raise self.refuse(
                        f"{what} {name} is {probe.label(fmt)}; a {self.spec.name} {src.kind} "
                        f"must be {fmts.label}, and {why}"
                    ) from None
        local.check_size(limit, self.spec.name, what)
        return local

    async def upload_once(
        self,
        src: MediaSource,
        upload: Callable[[MediaSource], Awaitable[str]],
        upload_type: str | None = None,
    ) -> str:
        """The platform's key for ``src`` (a media_id, a file_key), uploaded once per push
        whatever the number of targets: the source made :meth:`playable`, then
        ``upload(local)``. A failure is remembered (every target fails alike, without
        trying again) and says that it is the upload that failed."""

        async def make() -> str:
            local = await self.playable(src)
            await self.before_upload()
            try:
                return await upload(local)
            except PlatformError as exc:
                raise upload_failed(exc) from None

        return await self._uploaded.get((upload_type or src.kind, id(src)), make)

    async def before_upload(self) -> None:
        """What must work before an upload (the access token): its failure is not the
        upload's."""

    def token_auth(
        self,
        fetch: Callable[[str | None], Awaitable[tuple[str, float]]],
        credentials: Callable[[], tuple[str, str]],
    ) -> TokenAuth:
        """The account's access token for the push (:class:`imcli.tokens.TokenAuth`):
        cached across runs under the platform, the API root and ``credentials()`` (app id,
        secret), never in a dry run; the wait for another run's lock is within the budget."""
        from imcli.tokens import TokenAuth, cache_key

        return TokenAuth(
            lambda: cache_key(self.spec.name, self.base_url(), *credentials()),
            fetch,
            cache=not self.http.dry_run,
            budget=self.http.budget,
        )

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
            failed = self._download_errors.get(src.url)
            if failed is not None:  # fetched once per push, failed or not
                raise failed
            got = self._downloads.get(src.url)
            if got is None:
                try:
                    got = await src.download(self.http, limit, self.spec.name)
                except UsageError as exc:
                    self._download_errors[src.url] = exc
                    raise
                self._downloads[src.url] = got
            return got

    def download_limit(self, src: MediaSource) -> int | None:
        """The size cap when imcli must download this URL source to upload it; None when
        the platform fetches it itself (or the adapter downloads it its own way)."""
        return None

    async def prefetch(self, message: Message) -> None:
        """Media checks once per push, before any send: every URL imcli must download is
        downloaded (and its content checked) now, so that a 404 or an HTML page is one
        error for the push, not one per target."""
        for src in message.media_sources():
            limit = self.download_limit(src) if src.is_url else None
            if limit is not None:
                await self.local_copy(src, limit)

    # -- fan-out ---------------------------------------------------------------
    async def prepare(self, message: Message) -> None:
        """What every target's sends share, made once before the first send (WeCom and
        WeChat upload the media here); an ImcliError fails every target with it."""

    def batches(self, targets: list[Target]) -> list[list[Target]] | None:
        """Targets that share send requests (WeCom: up to 1000 users in one); None: each
        target is sent on its own (:meth:`send_one`)."""
        return None

    async def send_batch(
        self, batch: list[Target], message: Message, trackers: dict[Target, SendTracker]
    ) -> None:
        """Send the message to ``batch`` in shared requests: ``trackers[t].sent(id)`` for
        each part that reached ``t``, ``trackers[t].failed(exc)`` for a target refused
        alone. An ImcliError raised fails every target not refused on its own."""
        raise NotImplementedError

    async def deliver(self, targets: Iterable[Target], message: Message, report: Report) -> None:
        """Send to every target concurrently (bounded) and report each target's outcome
        as it comes, an interrupted one too.

        An AccountOffline before anything reached the platform stops the account's other
        targets (the core hands them to the next account)."""
        targets = list(targets)
        await self.check_media_first(message)
        try:
            await self.prepare(message)
        except (UsageError, ConfigError):
            raise  # not a failed target: the push itself is wrong
        except ImcliError as exc:
            for t in targets:
                report(Outcome.failed(t, [], exc))
            return
        batches = self.batches(targets)
        if batches is None:
            await self._deliver_each(targets, message, report)
        else:
            await self._deliver_batches(batches, message, report)

    async def _deliver_each(self, targets: list[Target], message: Message, report: Report) -> None:
        offline: list[AccountOffline] = []
        # a fixed pool of workers takes the targets in order: a 10,000-target fan-out
        # holds `concurrency` tasks, not 10,000 (memory stays flat)
        queue = iter(targets)

        async def worker() -> None:
            for target in queue:
                if offline:
                    report(Outcome.not_tried(target, offline[0]))
                    continue
                outcome = await self._send_target(target, message, report)
                if isinstance(outcome.error_exc, AccountOffline) and not outcome.message_ids:
                    offline.append(outcome.error_exc)
                report(outcome)

        # when one raises, or the push is interrupted, every worker's target reports
        # its outcome before the error goes on (gather_all)
        await gather_all([worker() for _ in range(self.concurrency)])

    async def _send_target(self, target: Target, message: Message, report: Report) -> Outcome:
        import asyncio

        from imcli.http import IN_FLIGHT

        tracker = SendTracker(target)
        flight: list[Any] = []
        IN_FLIGHT.set(flight)  # this task's own context: its sends in flight
        try:
            await self.send_one(target, message, tracker)
        except (UsageError, ConfigError) as exc:
            if tracker.reached_platform:  # what arrived before the push was refused counts
                tracker.failed(exc)
                report(tracker.outcome())
            raise  # not a failed target: the push itself is wrong
        except ImcliError as exc:
            tracker.failed(exc)
        except asyncio.CancelledError:
            report(tracker.interrupted(in_flight=bool(flight)))
            raise
        return tracker.outcome()

    async def _deliver_batches(
        self, batches: list[list[Target]], message: Message, report: Report
    ) -> None:
        import asyncio

        sem = asyncio.Semaphore(self.batch_concurrency)

        async def run(batch: list[Target]) -> None:
            from imcli.http import IN_FLIGHT

            trackers = {t: SendTracker(t) for t in batch}
            flight: list[Any] = []
            IN_FLIGHT.set(flight)  # this task's own context: its send in flight
            async with sem:
                try:
                    await self.send_batch(batch, message, trackers)
                except (UsageError, ConfigError) as exc:
                    for tr in trackers.values():  # what arrived before the refusal counts
                        if tr.error is None and tr.reached_platform:
                            tr.failed(exc)
                        if tr.error is not None:
                            report(tr.outcome())
                    raise
                except ImcliError as exc:
                    for tr in trackers.values():
                        if tr.error is None:
                            tr.failed(exc)
                except asyncio.CancelledError:
                    # every target of a request in flight may have got the message
                    for tr in trackers.values():
                        report(tr.interrupted(in_flight=bool(flight)))
                    raise
            for tr in trackers.values():
                report(tr.outcome())

        await gather_all([run(b) for b in batches])

    # -- helpers for adapters ----------------------------------------------------
    def base_url(self) -> str:
        url = self.account.get("base_url") or self.spec.default_base_url or ""
        return str(url).rstrip("/")

    def refuse(self, message: str) -> UsageError:
        return UsageError(f"{self.spec.name}: {message}")


def json_object(resp: httpx.Response) -> dict[str, Any]:
    """An API answer's JSON object; anything else is "unexpected answer" (a failure that
    names the status). A body that is not JSON at all: see :func:`imcli.http.json_reply`."""
    from imcli.http import json_reply

    data = json_reply(resp)
    if not isinstance(data, dict):
        raise PlatformError(f"unexpected answer (HTTP {resp.status_code})", status=resp.status_code)
    return data


def labelled_sources(message: Message) -> list[tuple[str, MediaSource]]:
    """Each media source with how to name it in an error (``item 3: image`` in mixed)."""
    if message.kind != "mixed":
        return [(src.kind, src) for src in message.media_sources()]
    return [(f"item {i}: {it.type}", it.media) for i, it in enumerate(message.items) if it.media]


async def gather_all(coros: list[Any]) -> None:
    """Run the sends concurrently; when one raises, or the push is interrupted, cancel
    the rest and wait until every one has recorded its outcome before raising.

    (``asyncio.gather`` alone ends at the first cancelled child: the others would be
    left mid-send, and a target whose message was in flight would be reported as not
    sent.)"""
    import asyncio

    tasks = [asyncio.ensure_future(c) for c in coros]
    try:
        await asyncio.gather(*tasks)
    except BaseException:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise


def upload_failed(exc: PlatformError) -> PlatformError:
    """``exc`` saying that it is the media upload that failed (every target of a push
    that shares the upload fails with it); its class, and so the retry and failover
    rules, unchanged. An offline account speaks for itself."""
    if not isinstance(exc, AccountOffline) and not exc.message.startswith("upload failed"):
        exc.reword(f"upload failed: {exc.message}")
    return exc
