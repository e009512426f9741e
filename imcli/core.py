"""The core: a PushRequest becomes one result per target.

validate (matrix, targets, options, media) → choose accounts (:func:`choose_accounts`)
→ the platform adapter delivers to every target concurrently → targets an offline account
could not reach are handed to the next account → a PushResult with the exit status.
Both the CLI and the Python API call :func:`run_push`.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from imcli import overflow, platforms
from imcli.errors import AccountOffline, ConfigError, NoAccountError, UsageError
from imcli.models import (
    MEDIA_KINDS,
    WEBHOOK_TARGET,
    Message,
    PushRequest,
    PushResult,
    Target,
    TargetResult,
)

if TYPE_CHECKING:
    import httpx

    from imcli.http import Budget, HttpClient
    from imcli.platforms.base import Outcome, PlatformSpec
    from imcli.profile import Account, Profile

Logger = Callable[[str], None]

ACCOUNT_KEYS = ("account_id", "accountID", "accountId")
FILENAME_KEYS = ("filename", "file_name", "fileName")
MIME_KEYS = ("mime_type", "mimeType")
#: option keys that would replace the target or the content of a send
RESERVED_KEYS = frozenset(
    {
        "chat_id", "channel", "channel_id", "receive_id", "receive_id_type", "touser",
        "toparty", "totag", "user_id", "group_id", "users", "text", "content", "message",
        "msgtype", "msg_type", "agentid", "photo", "voice", "video", "document", "audio",
        "media", "caption", "blocks", "files", "file", "initial_comment", "image", "markdown",
        "template_id", "data",
    }
)  # fmt: skip

DEFAULT_TIMEOUT_MS = 30_000


def parse_options(pairs: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Split ``-o`` options into imcli's own keys and the extra send fields."""
    own: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    for key, value in pairs.items():
        if key in ACCOUNT_KEYS:
            own["account"] = str(value)
        elif key in FILENAME_KEYS:
            own["filename"] = str(value)
        elif key in MIME_KEYS:
            own["mime"] = str(value)
        elif key in RESERVED_KEYS:
            raise UsageError(
                f"option {key!r} would replace the target or the content; "
                "use the command's own arguments for that"
            )
        else:
            extra[key] = _json_or_str(value)
    return own, extra


def _json_or_str(value: Any) -> Any:
    """A value that parses as JSON is sent as JSON; a number only when it would be sent
    back exactly as written (``1700000000.123400``, a Slack ts, stays a string)."""
    if not isinstance(value, str):
        return value
    try:
        parsed = json.loads(value)
    except (ValueError, RecursionError):
        return value
    if isinstance(parsed, (int, float)) and not isinstance(parsed, bool):
        return parsed if json.dumps(parsed) == value.strip() else value
    return parsed


def option_pairs(raw: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in raw:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"--option {item!r}: write it as KEY=VALUE")
        out[key.strip()] = value
    return out


def resolve_platform(name: str | None, account: str | None, profile: Profile) -> PlatformSpec:
    """The platform of the push: ``-p``, else the ``--account``'s platform."""
    if name:
        spec = platforms.get(name)
        if account:
            acc = profile.account(account)
            if acc is not None and acc.platform != spec.name:
                raise UsageError(
                    f"account {account!r} is a {acc.platform} account, not {spec.name}; "
                    "drop --platform or pick another --account"
                )
        return spec
    if account:
        acc = profile.account(account)
        if acc is None:
            raise ConfigError(_no_such_account(account, profile))
        return platforms.get(acc.platform)
    # with accounts of exactly one platform (profile and environment), -p may be left out
    used = {a.platform for a in profile.accounts}
    if len(used) == 1:
        return platforms.get(used.pop())
    if used:
        raise UsageError(
            "no platform: the accounts are on " + ", ".join(sorted(used))
            + "; give -p/--platform NAME or -a/--account NAME"
        )  # fmt: skip
    raise UsageError("no platform: give -p/--platform NAME or -a/--account NAME")


def _no_such_account(name: str, profile: Profile) -> str:
    known = ", ".join(a.name for a in profile.accounts) or "none"
    return (
        f"no account named {name!r} in {profile.path} (accounts: {known}); "
        f"add it with `imcli accounts add {name} --platform PLATFORM`"
    )


def check_matrix(spec: PlatformSpec, kind: str, targets: list[Target]) -> None:
    """Refuse, before any request, what the support matrix rules out."""
    if spec.unsupported:
        raise UsageError(spec.unsupported)
    if spec.webhook:  # the account is the destination: no -g/-u
        for t in targets:
            reason = spec.target_status(t.kind)
            if reason:
                raise UsageError(reason)
        targets = []
    elif not targets:
        raise UsageError("no target: give at least one -u/--user ID or -g/--group ID")
    for t in targets:
        reason = spec.target_status(t.kind)
        if reason:
            raise UsageError(reason)
        if not t.id.strip():
            raise UsageError(f"{spec.name}: empty {t.kind} id")
        if any(c.isspace() or not c.isprintable() for c in t.id):
            raise UsageError(
                f"{spec.name}: {t.kind} id {t.id!r} has a space or control character; "
                "no platform's ids do (quote one id per -u/-g)"
            )
    reason = spec.kind_status(kind)
    if reason:
        raise UsageError(reason)


def check_send_keys(spec: PlatformSpec, extra: dict[str, Any]) -> None:
    """Refuse an ``-o`` key imcli sets itself on every send of this platform (Lark's
    ``uuid`` keeps each send idempotent: one shared value would merge messages)."""
    for key in spec.send_keys:
        if key in extra:
            raise UsageError(
                f"option {key!r}: imcli sets it on every {spec.name} send itself "
                "(it keeps each send from being delivered twice); drop it"
            )


def choose_accounts(spec: PlatformSpec, profile: Profile, explicit: str | None) -> list[Account]:
    """The accounts to try, in order: the explicit one alone; else the platform's
    default, then its other accounts in profile order."""
    if explicit:
        acc = profile.account(explicit)
        if acc is None:
            raise ConfigError(_no_such_account(explicit, profile))
        if acc.platform != spec.name:
            raise UsageError(f"account {explicit!r} is a {acc.platform} account, not {spec.name}")
        return [acc]
    accounts = profile.for_platform(spec.name)
    if not accounts:
        raise NoAccountError(
            f"{spec.name}: no account configured in {profile.path}; add one with "
            f"`imcli accounts add NAME --platform {spec.name}` "
            f"or set {spec.env_prefix}… variables"
        )
    defaults = [a for a in accounts if a.is_default]
    return defaults + [a for a in accounts if not a.is_default]


async def fill_stdin(
    message: Message, spec: PlatformSpec, adapter_cls: Any, candidates: list[Account]
) -> None:
    """Media from standard input is read now that the platform is known, no further
    than the largest the accounts that may send it accept (exit 2 past it)."""
    from imcli import media

    sources = [s for s in message.media_sources() if s.stdin and s.path is None]
    if not sources:
        return
    limits = []
    for acc in candidates:
        try:
            limits.append(adapter_cls.media_limit(acc, sources[0].kind))
        except ConfigError:
            limits.append(None)
    limit = None if not limits or None in limits else max(limits)
    await media.fill_stdin(sources, limit, spec.name)


def default_timeout_ms(message: Message, profile: Profile) -> int:
    import math

    from imcli.profile import FIX_PROFILE

    base = profile.settings.get("timeout", DEFAULT_TIMEOUT_MS)
    if (
        not isinstance(base, (int, float))
        or isinstance(base, bool)
        or not math.isfinite(base)  # TOML has inf and nan
        or base < 1  # 0.5 is not a budget anyone means: it reads as seconds
    ):
        hint = ""
        if isinstance(base, float) and 0 < base < 1:
            hint = f" (it is in milliseconds: {base} s is {base * 1000:g})"
        raise ConfigError(
            f"profile {profile.path}: settings.timeout must be a number of milliseconds, "
            f"at least 1{hint}" + FIX_PROFILE
        )
    mib = sum((s.size or 0) for s in message.media_sources()) / (1 << 20)
    return int(base + 1000 * mib)


def _check_utf8(value: Any, what: str) -> None:
    """Refuse a lone surrogate (bytes that were not UTF-8 in argv or JSON ``\\udcff``):
    no request could carry it."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise UsageError(f"{what} is not valid UTF-8") from None
    elif isinstance(value, dict):
        for k, v in value.items():
            _check_utf8(k, what)
            _check_utf8(v, what)
    elif isinstance(value, list):
        for v in value:
            _check_utf8(v, what)


def validate_message(message: Message) -> None:
    _check_utf8(message.title, "the title")
    _check_utf8(message.text, "the text")
    _check_utf8(message.extra, "an -o/--option")
    for src in message.media_sources():
        _check_utf8([src.filename, src.mime], "the media's file name or type")
    for n, item in enumerate(message.items):
        _check_utf8([item.text, item.caption], f"item {n}")
    if message.kind == "text":
        if not (message.text or "").strip() and not (message.title or "").strip():
            raise UsageError("nothing to send: give CONTENT, pipe it on stdin, or give -t TITLE")
    elif message.kind in MEDIA_KINDS:
        if message.media is None:
            raise UsageError(f"push {message.kind}: SOURCE is required")
    elif message.kind == "mixed" and not message.items:
        raise UsageError("push mixed: no items (give an ITEMS file or --item TYPE=VALUE)")


@dataclass
class _Push:
    """One push, checked: what every account's attempt shares."""

    req: PushRequest
    prof: Profile
    spec: PlatformSpec
    adapter_cls: Any
    candidates: list[Account]
    budget: Budget
    #: the same destination twice (as the platform compares ids) is one target; a
    #: webhook platform has its one implicit target
    targets: list[Target]
    limit_parts: int
    message: Message  # as sent: the overflow policy may cut or refuse a long text
    overflow_checked: bool = False
    verbose: Logger | None = None
    dry_log: Logger | None = None
    plan: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    #: accounts that were offline, and accounts that could not be used at all
    tried: list[tuple[str, AccountOffline]] = field(default_factory=list)
    skipped: list[tuple[str, ConfigError]] = field(default_factory=list)


class _Results:
    """The push's one result per target, written only here, from the outcomes the
    adapters report (the caller's ``results_out`` sees each as it comes, so an
    interrupted push still counts what arrived)."""

    def __init__(
        self,
        targets: list[Target],
        into: dict[Target, TargetResult] | None,
        on_result: Callable[[TargetResult], None] | None,
    ) -> None:
        self.by_target = into if into is not None else {}
        for t in targets:
            self.by_target.setdefault(t, TargetResult(target=t))
        self.on_result = on_result

    def record(self, out: Outcome) -> None:
        res = self.by_target[out.target]
        res.ok, res.uncertain = out.ok, out.uncertain
        res.error, res.error_exc = out.error, out.error_exc
        res.message_ids = list(out.message_ids)
        if out.settled and self.on_result is not None:
            self.on_result(res)

    def any_sent(self) -> bool:
        return any(r.ok or r.message_ids for r in self.by_target.values())

    def handed_on(self, pending: list[Target]) -> list[Target]:
        """The targets an offline account could not reach at all: the next account's."""
        return [
            t
            for t in pending
            if isinstance(self.by_target[t].error_exc, AccountOffline)
            and not self.by_target[t].message_ids
        ]


async def run_push(
    req: PushRequest,
    *,
    profile: Profile | None = None,
    verbose: Logger | None = None,
    dry_log: Logger | None = None,
    on_result: Callable[[TargetResult], None] | None = None,
    results_out: dict[Target, TargetResult] | None = None,
    gate: Callable[[], Awaitable[None]] | None = None,
) -> PushResult:
    """Deliver one push. Raises UsageError/ConfigError for what is wrong before sending.

    ``gate`` is awaited once, after every check and before the first send: a push to
    several platforms at once sends nothing until each has passed its checks."""
    push = await _checked_push(req, profile)
    push.verbose, push.dry_log = verbose, dry_log
    results = _Results(push.targets, results_out, on_result)
    pending = push.targets
    for acc in push.candidates:
        try:
            adapter = await _ready_adapter(push, acc, pending, results)
        except (UsageError, ConfigError) as exc:  # the next account refuses the message
            _refused(exc, pending, results)
            break
        if adapter is None:
            continue  # an account that cannot be used: the next one may send
        if not await _deliver(push, acc, adapter, pending, results, gate):
            break
        gate = None
        pending = _next_pending(push, acc, pending, results)
        if not pending:
            break
    return _push_result(push, results)


async def _checked_push(req: PushRequest, profile: Profile | None) -> _Push:
    """Every check a push passes before any account is tried (exit 2 or 3 when not)."""
    from imcli import profile as profile_mod
    from imcli.http import Budget

    if req.platform:  # what the matrix rules out is refused before the profile is read
        check_matrix(platforms.get(req.platform), req.message.kind, req.targets)
    validate_message(req.message)
    if req.max_parts is not None and req.max_parts < 0:
        raise UsageError("--max-parts must be 0 (no limit) or more")
    prof = profile if profile is not None else profile_mod.load(req.profile)
    for warning in prof.warnings:
        from imcli import _log

        _log.warn(warning)
    spec = resolve_platform(req.platform, req.account, prof)
    check_matrix(spec, req.message.kind, req.targets)
    check_send_keys(spec, req.message.extra)
    adapter_cls = platforms.adapter_class(spec)
    candidates = choose_accounts(spec, prof, req.account)
    await fill_stdin(req.message, spec, adapter_cls, candidates)
    timeout_ms = (
        req.timeout_ms if req.timeout_ms is not None else default_timeout_ms(req.message, prof)
    )
    if timeout_ms <= 0:
        raise UsageError("--timeout must be a positive number of milliseconds")
    targets = (
        [WEBHOOK_TARGET]
        if spec.webhook
        else list({spec.key(t): t for t in reversed(req.targets)}.values())[::-1]
    )
    return _Push(
        req=req,
        prof=prof,
        spec=spec,
        adapter_cls=adapter_cls,
        candidates=candidates,
        budget=Budget(timeout_ms / 1000),
        targets=targets,
        limit_parts=overflow.max_parts(req.max_parts, prof.settings, str(prof.path)),
        message=req.message,
    )


async def _ready_adapter(
    push: _Push, acc: Account, pending: list[Target], results: _Results
) -> Any:
    """The account's adapter, with the message checked against it; None when the account
    cannot be used (a ConfigError: passed over, unless the account was asked for)."""
    adapter = http = None
    try:
        acc.check_fields()
        dry = None
        if push.req.dry_run:  # sends nothing: the transport records and answers
            from imcli.dryrun import DryRun

            dry = DryRun(push.plan, push.dry_log)
        http = make_client(
            push.spec,
            acc,
            push.prof,
            push.budget,
            verbose=push.verbose,
            log_bodies=int(push.req.verbose) >= 2,
            transport=dry,
        )
        adapter = push.adapter_cls(acc, http)
        if dry is not None:
            dry.reply = adapter.dry_run_reply
        _check_overflow(push, adapter, results)
        adapter.validate(push.message, pending)
    except ConfigError as exc:
        await _close(adapter, http)
        if push.req.account:
            raise
        push.skipped.append((acc.name, exc))
        push.notes.append(f"{push.spec.name}: account {acc.name!r} skipped: {exc.message}")
        return None
    except BaseException:
        await _close(adapter, http)
        raise
    return adapter


def _check_overflow(push: _Push, adapter: Any, results: _Results) -> None:
    """The overflow policy, once, with the first adapter that can be used: a long text
    is cut or refused before anything is sent; ``parts_total`` is how many it takes."""
    if push.overflow_checked:
        return
    push.overflow_checked = True
    push.message, note = overflow.apply(push.message, adapter, push.spec, push.limit_parts)
    if note:
        push.notes.append(note)
    if push.message.kind == "text":
        total = adapter.text_messages(push.message)
        for r in results.by_target.values():
            r.parts_total = total


async def _deliver(
    push: _Push,
    acc: Account,
    adapter: Any,
    pending: list[Target],
    results: _Results,
    gate: Callable[[], Awaitable[None]] | None,
) -> bool:
    """``pending`` sent through one account; False when the push stops here (refused
    after some of it was sent: the rest failed for that reason)."""
    http: HttpClient = adapter.http
    try:
        await adapter.prefetch(push.req.message)
        if gate is not None:  # after every check and fetch, before the first send
            await gate()
        for t in pending:
            results.by_target[t].account = acc.name
        await adapter.deliver(pending, push.message, results.record)
    except (UsageError, ConfigError) as exc:
        _refused(exc, pending, results)
        return False
    finally:
        for t in http.resent:
            if t in results.by_target:
                results.by_target[t].resent = True
        await _close(adapter, http)
    return True


def _refused(exc: UsageError | ConfigError, pending: list[Target], results: _Results) -> None:
    """A push refused by an account (its checks, or the platform) after some targets
    were sent keeps what was delivered, the rest failing for that reason; refused before
    anything was sent, the push itself is refused (``exc`` raised: exit 2 or 3)."""
    if not results.any_sent():
        raise exc
    for t in pending:
        if not results.by_target[t].ok:
            results.by_target[t].error, results.by_target[t].error_exc = exc.message, exc


def _next_pending(
    push: _Push, acc: Account, pending: list[Target], results: _Results
) -> list[Target]:
    """The targets the next account takes: those this one was offline for (none when
    the account was asked for by name)."""
    handed_on = results.handed_on(pending)
    if not handed_on:
        return []
    offline = results.by_target[handed_on[0]].error_exc
    assert isinstance(offline, AccountOffline)
    push.tried.append((acc.name, offline))
    if push.req.account:
        return []
    if acc is not push.candidates[-1]:
        push.notes.append(
            f"{push.spec.name}: account {acc.name!r} is offline ({offline.message}); "
            f"trying the next account"
        )
    return handed_on


async def _close(adapter: Any, http: HttpClient | None) -> None:
    if adapter is not None:
        await adapter.aclose()
    if http is not None:
        await http.aclose()


def _push_result(push: _Push, results: _Results) -> PushResult:
    if push.skipped and not push.tried and not any(r.account for r in results.by_target.values()):
        # no account could be used at all
        raise ConfigError(
            "; ".join(
                exc.message if exc.message.startswith(f"account {name!r}") else
                f"account {name!r}: {exc.message}"
                for name, exc in push.skipped
            )
        )  # fmt: skip
    ordered = [results.by_target[t] for t in push.targets]
    result = PushResult(
        platform=push.spec.name, results=ordered, dry_run=push.req.dry_run, plan=push.plan
    )
    result.notes = push.notes
    note = _exit_note(ordered, push.tried, push.spec)
    if note:
        result.notes.append(note)
    result.exit_code = 3 if note else (0 if all(r.ok for r in ordered) else 1)
    return result


def make_client(
    spec: PlatformSpec,
    acc: Account,
    prof: Profile,
    budget: Budget,
    *,
    verbose: Logger | None = None,
    log_bodies: bool = False,
    transport: httpx.AsyncBaseTransport | None = None,
) -> HttpClient:
    """The HTTP client of one account, the same for a push and for `accounts test`: its
    proxy (the account's, else ``[settings]``; a loopback ``base_url`` is never proxied),
    rate limits and resend rule. A proxy httpx cannot use is refused here (exit 3)."""
    from imcli.http import HttpClient
    from imcli.profile import expand
    from imcli.ratelimit import RateLimiter

    rate = acc.get("rate")
    proxy = acc.get("proxy") or prof.settings.get("proxy")
    http = HttpClient(
        platform=spec.name,
        budget=budget,
        proxy=expand(proxy, "settings.proxy") if proxy else None,
        limiter=RateLimiter(spec.rate_limits, float(rate) if rate is not None else None),
        verbose=verbose,
        transport=transport,
        base_url=acc.get("base_url"),
        resend_uncertain=_resend_uncertain(acc, prof),
        log_bodies=log_bodies,
    )
    http.check_proxy()
    return http


def _resend_uncertain(acc: Account, prof: Profile) -> bool:
    """``resend_uncertain = true`` (the account's, else ``[settings]``): a send whose fate
    is unknown is repeated within the budget -- the user prefers a duplicate to a loss."""
    value = acc.get("resend_uncertain")
    if value is None:
        value = prof.settings.get("resend_uncertain", False)
    if not isinstance(value, bool):
        raise ConfigError(
            f"profile {prof.path}: resend_uncertain must be true or false (account "
            f"{acc.name!r} or [settings])"
        )
    return value


def _exit_note(
    results: list[TargetResult], tried: list[tuple[str, AccountOffline]], spec: PlatformSpec
) -> str | None:
    """When nothing was sent because every account tried had its credentials rejected,
    the note saying so (the push then exits 3); else None."""
    failed = [r for r in results if not r.ok]
    if not failed or any(r.ok for r in results) or not tried:
        return None
    creds = [
        r
        for r in failed
        if isinstance(r.error_exc, AccountOffline) and r.error_exc.reason == "credentials"
    ]
    if len(creds) != len(failed) or any(e.reason != "credentials" for _, e in tried):
        return None
    names = ", ".join(name for name, _ in tried)
    return (
        f"{spec.name}: the credentials of every account tried ({names}) were rejected; "
        f"check them with `imcli accounts test`, or add an account with "
        f"`imcli accounts add NAME --platform {spec.name}`"
    )


async def check_accounts(
    accounts: list[Account],
    prof: Profile,
    *,
    timeout_ms: int,
    verbose: Logger | None = None,
    log_bodies: bool = False,
) -> list[dict[str, Any]]:
    """`accounts test`: each account's identity endpoint, concurrently."""
    import asyncio

    from imcli.http import Budget

    budget = Budget(timeout_ms / 1000)

    async def one(acc: Account) -> dict[str, Any]:
        row: dict[str, Any] = {"name": acc.name, "platform": acc.platform, "online": False}
        spec = platforms.get(acc.platform)
        http = None
        try:
            acc.check_fields()
            cls = platforms.adapter_class(spec)
            http = make_client(spec, acc, prof, budget, verbose=verbose, log_bodies=log_bodies)
            adapter = cls(acc, http)
            row["detail"] = await adapter.check()
            row["online"] = True
        except AccountOffline as exc:
            row["detail"] = exc.message
        except Exception as exc:  # noqa: BLE001 - every account gets its own line
            from imcli.errors import ImcliError

            row["detail"] = (
                exc.message if isinstance(exc, ImcliError) else f"{type(exc).__name__}: {exc}"
            )
        finally:
            if http is not None:
                await http.aclose()
        return row

    return list(await asyncio.gather(*(one(a) for a in accounts)))
