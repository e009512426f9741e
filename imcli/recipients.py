"""Named recipients: ``[recipients.NAME]`` tables in the profile, and a push to them.

A recipient is a list of targets across platforms, each written
``PLATFORM[@ACCOUNT]:user|group:ID`` (``telegram:user:1001``,
``qq@home-qq:group:123456``), or ``PLATFORM@ACCOUNT`` alone for an account whose platform
takes no ``-u``/``-g`` (a webhook: the account is the destination), and optionally
``fallback``, the recipients tried in order when a push reached none of its targets.

A push ``--to NAME`` (repeatable, combinable with ``-p/-u/-g``):

1. checks every target of every recipient it may use (fallbacks included) against the
   support matrix and resolves its account, before any request; a bad entry is a
   UsageError naming the recipient and the entry;
2. groups the targets by (platform, account) and runs one core push per group, all
   concurrently, each with its own account's rate limits; no group sends before every
   group of the wave has passed the core's own checks (a gate), so a push that one
   platform refuses sends nothing anywhere;
3. for each recipient that reached none of its targets, tries its fallbacks in order
   (a fallback's own fallbacks too, each recipient at most once per push), never sending
   again to a target this push already tried.

The count is over every target. Nothing here imports the HTTP stack until a push runs.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from imcli.errors import ConfigError, ImcliError, NoAccountError, UsageError
from imcli.models import WEBHOOK_TARGET, PushRequest, PushResult, Target, TargetResult

if TYPE_CHECKING:
    from imcli.outbox import Kept
    from imcli.platforms.base import PlatformSpec
    from imcli.profile import Profile

Logger = Callable[[str], None]

FORMAT = "PLATFORM[@ACCOUNT]:user|group:ID, or PLATFORM@ACCOUNT for a webhook account"
_WORD = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


# -- entries ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    """One target of a recipient, as written (syntax only; :func:`resolve_entry` checks
    it against the matrix and the profile)."""

    text: str
    platform: str  # as written: a name or an alias
    account: str | None = None
    target: Target | None = None  # None: the account is the destination (a webhook)


def parse_entry(text: str) -> Entry:
    """``PLATFORM[@ACCOUNT]:user|group:ID`` or ``PLATFORM@ACCOUNT``; UsageError otherwise.

    The ID is everything after the second colon, so ids holding ``@`` (a Telegram
    ``@channel``) or ``:`` stay whole."""
    if not isinstance(text, str):
        raise UsageError(f"target {text!r}: not a string; write it as {FORMAT}")
    s = text.strip()
    head, sep, rest = s.partition(":")
    platform, at, account = head.partition("@")
    platform, account = platform.strip(), account.strip()

    def bad(why: str) -> UsageError:
        return UsageError(f"target {text!r}: {why}; write it as {FORMAT}")

    if not platform or not _WORD.match(platform):
        raise bad("no platform")
    if at and not _WORD.match(account):
        raise bad("no account name after '@'" if not account else f"bad account name {account!r}")
    if not sep:
        if not at:
            raise bad("no target")
        return Entry(text=s, platform=platform, account=account)
    kind, sep2, ident = rest.partition(":")
    kind = kind.strip().lower()
    if kind not in ("user", "group"):
        raise bad(f"{kind!r} is not user or group" if kind else "no user or group")
    if not sep2 or not ident.strip():
        raise bad(f"no {kind} id")
    target = Target(kind, ident.strip())  # type: ignore[arg-type]  # user or group, checked
    return Entry(text=s, platform=platform, account=account or None, target=target)


def takes_no_targets(spec: PlatformSpec) -> bool:
    """A webhook platform: its account is the destination, so a push to it names no
    ``-u``/``-g``."""
    return spec.supported and spec.webhook


# -- the profile's [recipients] -----------------------------------------------------------


@dataclass
class Recipient:
    name: str
    targets: list[str]
    fallback: list[str] = field(default_factory=list)


def load_all(prof: Profile) -> dict[str, Recipient]:
    """Every ``[recipients.NAME]`` table; ConfigError (exit 3) for a malformed one (an
    unknown key gets a warning when the profile is read)."""
    from imcli.profile import FIX_PROFILE

    tables = prof.data.get("recipients", {})
    where = f"profile {prof.path}"
    if not isinstance(tables, dict):
        raise ConfigError(
            f"{where}: [recipients] must be a table of [recipients.NAME] tables{FIX_PROFILE}"
        )
    out: dict[str, Recipient] = {}
    for name, table in tables.items():
        if not isinstance(table, dict):
            raise ConfigError(f"{where}: recipients.{name} must be a table{FIX_PROFILE}")
        targets = table.get("targets")
        fallback = table.get("fallback", [])
        if not isinstance(targets, list) or not all(isinstance(t, str) for t in targets):
            raise ConfigError(
                f'{where}: [recipients.{name}] needs targets = ["PLATFORM:user|group:ID", …]'
                + FIX_PROFILE
            )
        if not isinstance(fallback, list) or not all(isinstance(f, str) for f in fallback):
            raise ConfigError(
                f"{where}: recipients.{name}.fallback must be a list of recipient names "
                f'(fallback = ["other"]){FIX_PROFILE}'
            )
        out[str(name)] = Recipient(str(name), list(targets), list(fallback))
    return out


def missing(name: str, known: Iterable[str], path: Any) -> str:
    """The message for a recipient name that is not in the profile."""
    from imcli.platforms import did_you_mean

    names = sorted(known)
    return (
        f"no recipient named {name!r} in {path}{did_you_mean(name, names)}; "
        f"recipients: {', '.join(names)} (`imcli recipients list`)"
        if names
        else f"no recipient named {name!r}: {path} has none; add one with "
        f"`imcli recipients add {name} PLATFORM:user:ID`"
    )


# -- resolving: the matrix and the accounts, before anything is sent -------------------------


#: a destination, as :attr:`Resolved.key` compares them
Key = tuple[str, "str | None", object]


@dataclass(frozen=True)
class Resolved:
    """An entry checked against the matrix and the profile: where it goes, with what."""

    recipient: str | None  # None: a -p/-u/-g target of the command line
    entry: str
    platform: str  # canonical name
    account: str | None  # None: the platform's default, then the others (failover)
    target: Target | None  # None: the account's own destination (a webhook)

    @property
    def key(self) -> Key:
        """The same destination is sent once per push, whichever account and whichever
        spelling names it (ids compared as the platform compares them: Telegram ``42``
        and ``042``); a webhook account is its own destination."""
        if self.target is None:
            return (self.platform, self.account, None)
        from imcli import platforms

        return (self.platform, None, platforms.get(self.platform).key(self.target))


def resolve_entry(text: str, recipient: str, prof: Profile, kind: str) -> Resolved:
    """Check one entry as a push would; UsageError (or NoAccountError) naming it."""
    from imcli import core, platforms

    where = f"recipient {recipient!r}: target {text!r}"
    try:
        entry = parse_entry(text)
        spec = platforms.get(entry.platform)
        if spec.unsupported:
            raise UsageError(spec.unsupported)
        if entry.target is None:
            if not takes_no_targets(spec):
                raise UsageError(
                    f"{spec.name} needs user:ID or group:ID (e.g. {spec.name}:user:ID)"
                )
            reason = spec.kind_status(kind)
            if reason:
                raise UsageError(reason)
        else:
            core.check_matrix(spec, kind, [entry.target])
        if entry.account is not None:
            acc = prof.account(entry.account)
            if acc is None:
                known = ", ".join(a.name for a in prof.accounts) or "none"
                raise UsageError(f"no account named {entry.account!r} (accounts: {known})")
            if acc.platform != spec.name:
                raise UsageError(
                    f"account {entry.account!r} is a {acc.platform} account, not {spec.name}"
                )
        elif not prof.for_platform(spec.name):
            raise NoAccountError(
                f"{where}: {spec.name}: no account configured in {prof.path}; add one with "
                f"`imcli accounts add NAME --platform {spec.name}`"
            )
    except UsageError as exc:
        if exc.message.startswith(where):
            raise
        raise UsageError(f"{where}: {exc.message}") from None
    return Resolved(recipient, entry.text, spec.name, entry.account, entry.target)


@dataclass
class Plan:
    """The recipients a push may use, every entry resolved."""

    recipients: dict[str, Recipient]
    resolved: dict[str, list[Resolved]]


def plan(prof: Profile, names: list[str], kind: str) -> Plan:
    """Resolve the named recipients and every fallback they can reach (each once)."""
    table = load_all(prof)
    resolved: dict[str, list[Resolved]] = {}
    todo = list(dict.fromkeys(names))
    for name in todo:
        if name not in table:
            raise UsageError(missing(name, table, prof.path))
    while todo:
        name = todo.pop(0)
        if name in resolved:
            continue
        rec = table[name]
        if not rec.targets:
            raise UsageError(f"recipient {name!r} has no targets")
        resolved[name] = [resolve_entry(t, name, prof, kind) for t in rec.targets]
        for fb in rec.fallback:
            if fb not in table:
                raise UsageError(
                    f"recipient {name!r}: fallback {fb!r}: " + missing(fb, table, prof.path)
                )
            todo.append(fb)
    return Plan(table, resolved)


# -- the result of a push across platforms ------------------------------------------------


@dataclass
class Delivery:
    """One target's outcome, with where it went."""

    platform: str
    recipient: str | None
    result: TargetResult
    #: sent by a fallback wave (standing in for a recipient none of whose targets was reached)
    fallback: bool = False

    def to_json(self) -> dict[str, Any]:
        out = self.result.to_json()
        if self.result.target is None:  # a webhook account: the account is the target
            out["target"] = "webhook"
        out["platform"] = self.platform
        out["recipient"] = self.recipient
        return out


@dataclass
class MultiResult:
    deliveries: list[Delivery]
    exit_code: int = 0
    dry_run: bool = False
    plan: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    fallbacks: list[dict[str, Any]] = field(default_factory=list)
    #: what to tell the user, in the order it happened: ("note", text) for a note,
    #: ("target", delivery) for each target's outcome
    events: list[tuple[str, Any]] = field(default_factory=list)
    #: recipients none of whose targets was reached, reached through a fallback
    rescued: list[str] = field(default_factory=list)

    def note(self, text: str) -> None:
        self.notes.append(text)
        self.events.append(("note", text))

    @property
    def sent(self) -> int:
        return sum(1 for d in self.deliveries if d.result.ok)

    @property
    def failed(self) -> int:
        return sum(1 for d in self.deliveries if not d.result.ok)

    @property
    def uncertain(self) -> int:
        """Targets that may have been delivered (not counted in ``sent``)."""
        return sum(1 for d in self.deliveries if d.result.maybe_delivered)

    def kept(self) -> list[Kept]:
        """What the outbox keeps of this push (``--spool``): see :func:`_kept`."""
        return _kept(
            ((d.platform, d.recipient, d.fallback, d.result, None) for d in self.deliveries),
            set(self.rescued),
        )

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "sent": self.sent,
            "failed": self.failed,
            "uncertain": self.uncertain,
            "targets": [d.to_json() for d in self.deliveries],
            "fallbacks": list(self.fallbacks),
        }
        if self.dry_run:
            out["dry_run"] = True
            out["requests"] = self.plan
        return out


# -- the push ----------------------------------------------------------------------------


class _Aborted(Exception):
    """Another group of the wave was refused before sending: this one sends nothing."""


class _Gate:
    """No group of a wave sends before every group has passed the core's checks (or one
    has failed them: then none sends)."""

    def __init__(self, n: int) -> None:
        import asyncio

        self.waiting = n
        self.failed = False
        self.event = asyncio.Event()

    def _one_less(self) -> None:
        self.waiting -= 1
        if self.waiting <= 0:
            self.event.set()

    async def wait(self) -> None:
        self._one_less()
        await self.event.wait()
        if self.failed:
            raise _Aborted

    def fail(self) -> None:
        if not self.event.is_set():
            self.failed = True
            self._one_less()


@dataclass
class _Group:
    platform: str
    account: str | None
    members: list[Resolved]
    results: dict[Target, TargetResult] = field(default_factory=dict)
    pushed: PushResult | None = None
    error: ImcliError | None = None


def _kept(
    outcomes: Iterable[tuple[str, str | None, bool, TargetResult, str | None]],
    rescued: set[str],
) -> list[Kept]:
    """What the outbox keeps of a push (``--spool``), ended or interrupted, from each
    target's (platform, recipient, sent by a fallback wave, result, group's account): each
    target that failed for a reason that may pass (or may have been delivered), as itself
    -- platform, account, target -- so a flush sends it there and never runs a
    recipient's fallbacks again. A fallback stands in for a recipient now: the targets a
    fallback wave sent to are never kept, and neither are those of a recipient that a
    fallback reached (``rescued``: flushing them would reach that person twice)."""
    from imcli import outbox

    rows: list[Kept] = []
    for platform, recipient, fallback, result, account in outcomes:
        if fallback or (recipient is not None and recipient in rescued):
            continue
        c = outbox.classify(result)
        if c is not None:
            target = result.target or WEBHOOK_TARGET
            rows.append((platform, target, result.account or account, *c))
    return rows


@dataclass
class Started:
    """A group whose core push began: where it goes, and its results so far."""

    platform: str
    account: str | None
    fallback: bool  # a fallback wave's group
    results: dict[Target, TargetResult]
    #: the recipient that named each target (None: the command line's own -u/-g)
    recipients: dict[Target | None, str | None] = field(default_factory=dict)
    #: a fallback wave's group: the recipient of ``--to`` it stands in for
    stands_for: str | None = None


class Progress(list[Started]):
    """What an interrupted push has sent so far: every group started, and the
    recipients a fallback reached (as :attr:`MultiResult.rescued`)."""

    def __init__(self) -> None:
        super().__init__()
        self.rescued: list[str] = []

    def rescued_now(self) -> set[str]:
        """The recipients a fallback reached: those whose fallbacks ended reaching
        someone, and those whose fallback wave in flight has already reached someone
        (its escalation would end there)."""
        done = set(self.rescued)
        for g in self:
            if g.fallback and g.stands_for and any(r.ok for r in g.results.values()):
                done.add(g.stands_for)
        return done


def kept_of_progress(progress: Progress) -> list[Kept]:
    """What the outbox keeps of an interrupted push (``--spool``), by the rule of
    :meth:`MultiResult.kept` (:func:`_kept`)."""
    return _kept(
        (
            (g.platform, g.recipients.get(r.target), g.fallback, r, g.account)
            for g in progress
            for r in g.results.values()
        ),
        progress.rescued_now(),
    )


async def run_to(
    base: PushRequest,
    to: list[str],
    *,
    profile: Profile | None = None,
    verbose: Logger | None = None,
    dry_log: Logger | None = None,
    progress: Progress | None = None,
) -> MultiResult:
    """Push ``base.message`` to ``base``'s own targets (if any) and to the recipients
    ``to``, with fallbacks. Raises UsageError/ConfigError when nothing was sent."""
    from imcli import core
    from imcli import profile as profile_mod

    core.validate_message(base.message)
    prof = profile if profile is not None else profile_mod.load(base.profile)
    direct = _direct(base, prof)
    the_plan = plan(prof, to, base.message.kind)
    if base.timeout_ms is not None and base.timeout_ms <= 0:
        raise UsageError("--timeout must be a positive number of milliseconds")
    push = _Push(base, prof, the_plan, verbose, dry_log, progress)
    names = list(dict.fromkeys(to))
    await push.wave(direct + [r for name in names for r in the_plan.resolved[name]], first=True)
    push.tried.update(names)
    for name in names:
        push.standing_for = name
        if not push.reached(name) and await push.escalate(name):
            push.result.rescued.append(name)
    return push.finish()


def _direct(base: PushRequest, prof: Profile) -> list[Resolved]:
    """The command line's own -p/-u/-g targets of a ``--to`` push, checked as a push
    checks them (the account must resolve: exit 3 otherwise)."""
    from imcli import core

    if not (base.targets or base.platform or base.account):
        return []
    kind = base.message.kind
    spec = core.resolve_platform(base.platform, base.account, prof)
    if base.targets:
        core.check_matrix(spec, kind, base.targets)
        direct = [Resolved(None, str(t), spec.name, base.account, t) for t in base.targets]
    elif takes_no_targets(spec):
        core.check_matrix(spec, kind, [])
        direct = [Resolved(None, spec.name, spec.name, base.account, None)]
    else:
        raise UsageError(
            "-p/--platform and -a/--account apply to -u/-g targets: give -u/-g too, "
            "or leave them out (a recipient names its own platforms and accounts)"
        )
    core.choose_accounts(spec, prof, base.account)  # the account resolves, or exit 3
    return direct


class _Push:
    """One push to named recipients: its waves (the first, then each fallback's), every
    destination's outcome (each destination goes once), and the recipients tried."""

    def __init__(
        self,
        base: PushRequest,
        prof: Profile,
        the_plan: Plan,
        verbose: Logger | None,
        dry_log: Logger | None,
        progress: Progress | None,
    ) -> None:
        self.base = base
        self.prof = prof
        self.plan = the_plan
        self.verbose = verbose
        self.dry_log = dry_log
        self.progress = progress
        self.outcome: dict[Key, Delivery] = {}
        self.order: list[Key] = []
        self.result = MultiResult(deliveries=[], dry_run=base.dry_run)
        if progress is not None:  # an interrupted push knows whom a fallback reached
            self.result.rescued = progress.rescued
        #: the recipient of ``--to`` whose fallbacks are being tried
        self.standing_for: str | None = None
        self.codes: list[int] = []
        self.tried: set[str] = set()  # recipients whose targets were (or are being) sent

    async def wave(self, members: list[Resolved], first: bool) -> None:
        """Send to ``members`` not tried yet: one core push per (platform, account)."""
        fresh: list[Resolved] = []
        seen: set[Key] = set()
        for m in members:  # a destination already tried, or named twice, goes once
            if m.key not in self.outcome and m.key not in seen:
                seen.add(m.key)
                fresh.append(m)
        if not fresh:
            return
        groups: dict[tuple[str, str | None], _Group] = {}
        for m in fresh:
            g = groups.setdefault(
                (m.platform, m.account), _Group(m.platform, m.account, members=[])
            )
            g.members.append(m)
        await _read_stdin_once(self.base, list(groups.values()), self.prof)
        if self.progress is not None:
            for g in groups.values():
                self.progress.append(Started(
                    g.platform, g.account, not first, g.results,
                    recipients={m.target: m.recipient for m in g.members},
                    stands_for=None if first else self.standing_for,
                ))  # fmt: skip
        await _run_groups(list(groups.values()), self.base, self.prof, self.verbose,
                          self.dry_log, first)  # fmt: skip
        for g in groups.values():
            self._record(g, first)

    def _record(self, g: _Group, first: bool) -> None:
        """A group's notes and exit code, and each member's outcome, in order."""
        result = self.result
        if g.pushed is not None:
            result.plan.extend(g.pushed.plan)
            for text in g.pushed.notes:
                result.note(text)
            self.codes.append(g.pushed.exit_code)
        elif g.error is not None:
            result.note(f"{g.platform}: {g.error.message}")
            self.codes.append(1)
        for m in g.members:
            tr = g.results.get(m.target) if m.target is not None else None
            if m.target is None and g.pushed is not None and g.pushed.results:
                tr = g.pushed.results[0]
            if tr is None:
                tr = TargetResult(target=m.target)  # type: ignore[arg-type]
                tr.account = m.account
                tr.error = g.error.message if g.error else "not sent"
            self.outcome[m.key] = Delivery(m.platform, m.recipient, tr, fallback=not first)
            self.order.append(m.key)
            result.events.append(("target", self.outcome[m.key]))

    def _sent(self, name: str) -> list[Delivery]:
        """The outcomes of recipient ``name``'s targets that were tried."""
        return [self.outcome[r.key] for r in self.plan.resolved[name] if r.key in self.outcome]

    def reached(self, name: str) -> bool:
        return any(d.result.ok for d in self._sent(name))

    async def escalate(self, name: str) -> bool:
        """Try ``name``'s fallbacks in order until one reaches a target; True if one did."""
        for fb in self.plan.recipients[name].fallback:
            if fb in self.tried:
                continue
            self.tried.add(fb)
            n = len(self.plan.resolved[name])
            # a send that may have arrived is not a reached target: escalating to another
            # recipient is not a resend (the same target is never sent twice)
            maybe = sum(1 for d in self._sent(name) if d.result.maybe_delivered)
            self.result.note(
                f"{name}: none of its {n} target{'s' if n != 1 else ''} was reached"
                + (f" ({maybe} may have been delivered)" if maybe else "")
                + f"; falling back to {fb!r}"
            )
            await self.wave(self.plan.resolved[fb], first=False)
            total = len(self.plan.resolved[fb])
            sent = sum(1 for d in self._sent(fb) if d.result.ok)
            self.result.fallbacks.append(
                {"recipient": name, "fallback": fb, "sent": sent, "targets": total}
            )
            self.result.note(f"fallback {fb!r}: {sent} of {total} target(s) sent")
            if self.reached(fb) or await self.escalate(fb):
                return True
        return False

    def finish(self) -> MultiResult:
        result = self.result
        result.deliveries = [self.outcome[k] for k in dict.fromkeys(self.order)]
        result.exit_code = _exit_code(result, self.codes)
        return result


def _exit_code(result: MultiResult, codes: list[int]) -> int:
    if all(d.result.ok for d in result.deliveries):
        return 0
    if result.sent == 0 and codes and all(c in (0, 3) for c in codes):
        return 3  # every account's credentials were rejected
    return 1


async def _read_stdin_once(base: PushRequest, groups: list[_Group], prof: Profile) -> None:
    """Media from standard input is read once, capped at the first group's limit; every
    group's own checks then refuse (before any send) a size its platform cannot take."""
    from imcli import core, platforms

    if not any(s.stdin and s.path is None for s in base.message.media_sources()):
        return
    spec = platforms.get(groups[0].platform)
    candidates = core.choose_accounts(spec, prof, groups[0].account)
    await core.fill_stdin(base.message, spec, platforms.adapter_class(spec), candidates)


async def _run_groups(
    groups: list[_Group],
    base: PushRequest,
    prof: Profile,
    verbose: Logger | None,
    dry_log: Logger | None,
    first: bool,
) -> None:
    """One core push per group, concurrently, behind one gate."""
    import asyncio

    gate = _Gate(len(groups))
    refused: list[tuple[int, ImcliError]] = []

    async def one(i: int, g: _Group) -> None:
        exc = await _push_group(g, base, prof, verbose, dry_log, gate)
        if exc is not None:
            refused.append((i, exc))

    await asyncio.gather(*(one(i, g) for i, g in enumerate(groups)))
    if refused:
        _refused(groups, refused, first)


async def _push_group(
    g: _Group,
    base: PushRequest,
    prof: Profile,
    verbose: Logger | None,
    dry_log: Logger | None,
    gate: _Gate,
) -> ImcliError | None:
    """The group's core push; returns the error that refused it before any group sent
    (then no group sends); one after that is the group's own failure (``g.error``)."""
    from imcli.core import run_push

    req = PushRequest(
        platform=g.platform,
        targets=[m.target for m in g.members if m.target is not None],
        message=base.message,
        account=g.account,
        timeout_ms=base.timeout_ms,
        dry_run=base.dry_run,
        verbose=base.verbose,
        profile=base.profile,
        max_parts=base.max_parts,
    )
    try:
        g.pushed = await run_push(
            req, profile=prof, verbose=verbose, dry_log=dry_log, results_out=g.results,
            gate=gate.wait,
        )  # fmt: skip
    except _Aborted:
        return None
    except ImcliError as exc:
        if gate.event.is_set():  # refused after the others began to send
            g.error = exc
            return None
        gate.fail()
        names = ", ".join(dict.fromkeys(repr(m.recipient) for m in g.members if m.recipient))
        if names:  # say which recipient's targets the refusal is about
            exc.reword(f"to {names}: {exc.message}")
        return exc
    except BaseException:
        gate.fail()
        raise
    return None


def _refused(groups: list[_Group], refused: list[tuple[int, ImcliError]], first: bool) -> None:
    """A group refused before sending: in the first wave the push itself is refused
    (nothing was sent anywhere); in a fallback wave, its groups failed."""
    _, exc = min(refused, key=lambda pair: pair[0])
    if first:
        raise exc
    for i, err in refused:  # a fallback wave: the push already sent elsewhere
        groups[i].error = err
    for g in groups:
        if g.error is None and g.pushed is None:
            g.error = UsageError(f"not sent: {exc.message}")
