"""The core: a PushRequest becomes one result per target.

validate (matrix, targets, options, media) → choose accounts (:func:`choose_accounts`)
→ the platform adapter delivers to every target concurrently → targets an offline account
could not reach are handed to the next account → a PushResult with the exit status.
Both the CLI and the Python API call :func:`run_push`.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
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
    from imcli.http import HttpClient
    from imcli.platforms.base import PlatformSpec
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
    from imcli import profile as profile_mod
    from imcli.http import Budget, HttpClient
    from imcli.ratelimit import RateLimiter

    if req.dry_run:
        from imcli.dryrun import DryRun

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
    budget = Budget(timeout_ms / 1000)

    # the same destination twice (as the platform compares ids) is one target; a webhook
    # platform has its one implicit target
    targets = (
        [WEBHOOK_TARGET]
        if spec.webhook
        else list({spec.key(t): t for t in reversed(req.targets)}.values())[::-1]
    )
    results = results_out if results_out is not None else {}
    for t in targets:
        results.setdefault(t, TargetResult(target=t))
    plan: list[dict[str, Any]] = []
    pending = targets
    message = req.message
    limit_parts = overflow.max_parts(req.max_parts, prof.settings, str(prof.path))
    overflow_checked = False
    tried: list[tuple[str, AccountOffline]] = []
    skipped: list[tuple[str, ConfigError]] = []
    notes: list[str] = []
    for acc in candidates:
        http: HttpClient | None = None
        adapter = None
        try:
            try:
                acc.check_fields()
                rate = acc.get("rate")
                proxy = acc.get("proxy") or prof.settings.get("proxy")
                dry = DryRun(plan, dry_log) if req.dry_run else None  # sends nothing
                http = HttpClient(
                    platform=spec.name,
                    budget=budget,
                    proxy=profile_mod.expand(proxy, "settings.proxy") if proxy else None,
                    limiter=RateLimiter(
                        spec.rate_limits, float(rate) if rate is not None else None
                    ),
                    verbose=verbose,
                    transport=dry,
                    base_url=acc.get("base_url"),
                    resend_uncertain=_resend_uncertain(acc, prof),
                    log_bodies=int(req.verbose) >= 2,
                )
                http.check_proxy()
                adapter = adapter_cls(acc, http)
                if dry is not None:
                    dry.reply = adapter.dry_run_reply
                if not overflow_checked:  # once, with the first adapter that can be used
                    overflow_checked = True
                    message, note = overflow.apply(message, adapter, spec, limit_parts)
                    if note:
                        notes.append(note)
                    if message.kind == "text":
                        total = adapter.text_messages(message)
                        for r in results.values():
                            r.parts_total = total
                adapter.validate(message, pending)
            except ConfigError as exc:
                if req.account:
                    raise
                # an account that cannot be used is passed over: the next one may send
                skipped.append((acc.name, exc))
                notes.append(f"{spec.name}: account {acc.name!r} skipped: {exc.message}")
                continue
            await adapter.prefetch(req.message)
            if gate is not None:  # after every check and fetch, before the first send
                await gate()
                gate = None
            for t in pending:
                results[t].account = acc.name
            await adapter.deliver(pending, message, results, on_done=on_result)
        except (UsageError, ConfigError) as exc:
            if not any(r.ok or r.message_ids for r in results.values()):
                raise  # nothing was sent: the push itself is refused
            for t in pending:  # keep what was delivered; the rest failed for this reason
                if not results[t].ok:
                    results[t].error, results[t].error_exc = exc.message, exc
            break
        finally:
            if http is not None:
                for t in http.resent:
                    if t in results:
                        results[t].resent = True
            if adapter is not None:
                await adapter.aclose()
            if http is not None:
                await http.aclose()
        handed_on = [
            t
            for t in pending
            if isinstance(results[t].error_exc, AccountOffline) and not results[t].message_ids
        ]
        if not handed_on:
            break
        offline = results[handed_on[0]].error_exc
        assert isinstance(offline, AccountOffline)
        tried.append((acc.name, offline))
        if req.account:
            break
        pending = handed_on
        if acc is not candidates[-1]:
            notes.append(
                f"{spec.name}: account {acc.name!r} is offline ({offline.message}); "
                f"trying the next account"
            )
    if skipped and not tried and not any(r.account for r in results.values()):
        # no account could be used at all
        raise ConfigError(
            "; ".join(
                exc.message if exc.message.startswith(f"account {name!r}") else
                f"account {name!r}: {exc.message}"
                for name, exc in skipped
            )
        )  # fmt: skip
    ordered = [results[t] for t in targets]
    result = PushResult(platform=spec.name, results=ordered, dry_run=req.dry_run, plan=plan)
    result.notes = notes
    result.exit_code = _exit_code(ordered, tried, spec, result)
    return result


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


def _exit_code(
    results: list[TargetResult],
    tried: list[tuple[str, AccountOffline]],
    spec: PlatformSpec,
    result: PushResult,
) -> int:
    if all(r.ok for r in results):
        return 0
    failed = [r for r in results if not r.ok]
    creds = [
        r
        for r in failed
        if isinstance(r.error_exc, AccountOffline) and r.error_exc.reason == "credentials"
    ]
    nothing_sent = not any(r.ok for r in results)
    if (
        nothing_sent
        and tried
        and len(creds) == len(failed)
        and all(e.reason == "credentials" for _, e in tried)
    ):
        names = ", ".join(name for name, _ in tried)
        result.notes.append(
            f"{spec.name}: the credentials of every account tried ({names}) were rejected; "
            f"check them with `imcli accounts test`, or add an account with "
            f"`imcli accounts add NAME --platform {spec.name}`"
        )
        return 3
    return 1


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

    from imcli.http import Budget, HttpClient
    from imcli.profile import expand

    budget = Budget(timeout_ms / 1000)

    async def one(acc: Account) -> dict[str, Any]:
        row: dict[str, Any] = {"name": acc.name, "platform": acc.platform, "online": False}
        spec = platforms.get(acc.platform)
        http = None
        try:
            acc.check_fields()
            cls = platforms.adapter_class(spec)
            proxy = acc.get("proxy") or prof.settings.get("proxy")
            http = HttpClient(
                platform=spec.name,
                budget=budget,
                proxy=expand(proxy, "settings.proxy") if proxy else None,
                verbose=verbose,
                log_bodies=log_bodies,
            )
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
