"""`imcli outbox list|flush|drop`, and the two hooks `push` calls: spool what could
not go out (``--spool`` / ``[settings] spool = true``) and flush what waits first
(``[settings] flush_on_push = true``).

No typer here: the push fast path calls the hooks.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from imcli.cli import output
from imcli.errors import ConfigError, ImcliError, UsageError
from imcli.models import PushRequest, Target, TargetResult

if TYPE_CHECKING:
    from imcli.outbox import Entry, Kept, Outbox
    from imcli.profile import Profile

#: entries sent by one run of the core at most: a flush killed (-9) mid-way leaves at
#: most this many entries "may have been delivered" (the others were confirmed or wait)
CHUNK = 100


def _real(path: Any) -> str:
    import os

    return str(os.path.realpath(path))


def _load(profile: str | None) -> Profile:
    from imcli import profile as profile_mod

    return profile_mod.load(profile)


# -- the push hooks ---------------------------------------------------------------------


def before_push(req: PushRequest, flag: bool) -> bool:
    """What a push does about the outbox before it sends, with one read of the profile:
    with ``flush_on_push = true``, flush what waits for its accounts; returns whether
    to keep what fails (``--spool``, else ``[settings] spool``). A setting that is not
    true or false is exit 3 naming it."""
    from imcli import outbox

    if req.dry_run:
        return False
    try:
        prof: Profile | None = _load(req.profile)
    except ImcliError:
        prof = None  # the push itself says what is wrong with the profile
    keep, note = outbox.wanted(req.message, flag or None, prof, option="--spool")
    if note:
        output.err(f"imcli: {note}")
    if prof is not None and outbox.setting(prof, "flush_on_push"):
        _flush_before_push(req, prof)
    return keep


def spool_after(req: PushRequest, platform: str | None, results: list[TargetResult]) -> None:
    """Keep the targets of a push that failed for a reason that may pass (and those that
    may have been delivered, as ``uncertain``); one stderr line says so."""
    from imcli import outbox
    from imcli.core import resolve_platform

    waiting = outbox.waiting_of(results)
    if not waiting or req.dry_run:
        return
    try:
        prof = _load(req.profile)
        name = resolve_platform(platform or req.platform, req.account, prof).name
    except ImcliError as exc:
        output.error(f"outbox: not kept: {exc.message}")
        return
    _keep(req, prof, outbox.rows_of(name, waiting, req.account))


def spool_rows(req: PushRequest, rows: list[Kept]) -> None:
    """Keep ``rows`` (a push to several platforms: ``--to``); one stderr line says so."""
    if not rows or req.dry_run:
        return
    try:
        prof = _load(req.profile)
    except ImcliError as exc:
        output.error(f"outbox: not kept: {exc.message}")
        return
    _keep(req, prof, rows)


def _keep(req: PushRequest, prof: Profile, rows: list[Kept]) -> None:
    from imcli import outbox

    ids, why = outbox.keep_or_why(rows, req.message, str(prof.path))
    if why is not None:
        output.error(f"outbox: not kept: {why}")
        return
    maybe = sum(1 for row in rows if row[3] == "uncertain")
    pushes = ", ".join(dict.fromkeys(i.rsplit("-", 1)[0] for i in ids))
    line = f"outbox: {len(ids)} target(s) kept for `imcli outbox flush` (push {pushes})"
    if maybe:
        line += (
            f"; {maybe} of them may have been delivered (sent again only by `flush --uncertain`)"
        )
    output.error(line)


def _flush_before_push(req: PushRequest, prof: Profile) -> None:
    """``flush_on_push = true``: what waits for the push's accounts goes first. Its count
    and failures go to stderr: stdout stays the push's count."""
    try:
        from imcli.core import choose_accounts, resolve_platform

        spec = resolve_platform(req.platform, req.account, prof)
        names = {a.name for a in choose_accounts(spec, prof, req.account)}
    except ImcliError:
        return  # the push itself reports it

    def mine(e: Entry) -> bool:
        return e.platform == spec.name and (e.account is None or e.account in names)

    flush(profile=req.profile, ids=[], uncertain=False, json_out=False, verbose=req.verbose,
          timeout=req.timeout_ms, only=mine, before_push=True)  # fmt: skip


# -- list -----------------------------------------------------------------------------


def _age(seconds: float) -> str:
    s = int(seconds)
    if s < 90:
        return f"{s}s"
    if s < 5400:
        return f"{s // 60}m"
    if s < 2 * 86400:
        return f"{s // 3600}h"
    return f"{s // 86400}d"


def list_entries(*, json_out: bool) -> int:
    from imcli.outbox import Outbox

    box = Outbox()
    try:
        entries, corrupt = box.scan()
    except ImcliError as exc:
        output.error(exc.message)
        return exc.exit_code
    now = time.time()
    if json_out:
        output.out(
            json.dumps(
                {
                    "path": str(box.root),
                    "entries": [
                        {
                            "id": e.id,
                            "platform": e.platform,
                            "account": e.account,
                            "target": str(e.target),
                            "state": e.state,
                            "reason": e.reason,
                            "created": e.created,
                            "age_s": round(e.age(now), 1),
                            "tries": e.tries,
                            "kind": e.message.get("kind"),
                        }
                        for e in entries
                    ],  # fmt: skip
                    "corrupt": [{"id": c.id, "why": c.why} for c in corrupt],
                },
                ensure_ascii=False,
            )
        )
        return 0
    if not entries and not corrupt:
        output.err(f"imcli: the outbox is empty ({box.root})")
        return 0
    for e in entries:
        account = e.account or "-"
        output.out(
            output.one_line(
                f"{e.id}  {e.state:<9}  {_age(e.age(now)):>4}  tries {e.tries}  "
                f"{e.platform} {e.target} ({account})  {e.message.get('kind')}: {e.reason}"
            )
        )
    for c in corrupt:
        output.out(output.one_line(f"{c.id}  corrupt    set aside: {c.why}"))
    return 0


# -- drop -----------------------------------------------------------------------------


def drop(ids: list[str], *, all_: bool) -> int:
    from imcli.outbox import Outbox

    if not ids and not all_:
        output.error("outbox drop: give the ID of an entry (imcli outbox list), or --all")
        output.out("0")
        return 2
    box = Outbox()
    entries, corrupt = box.scan()
    known = [e.id for e in entries] + [c.id for c in corrupt]
    chosen: list[str] = []
    code = 0
    if all_:
        chosen = known
    else:
        for i in ids:
            match = [k for k in known if k == i or k.rsplit("-", 1)[0] == i]
            if not match:
                output.error(f"outbox: no entry {i} (see `imcli outbox list`)")
                code = 2
            chosen += match
    dropped = 0
    for entry_id in dict.fromkeys(chosen):
        if box.drop(entry_id):
            dropped += 1
        else:
            output.error(f"outbox: {entry_id} is being sent by a flush; not dropped")
            code = code or 1
    box.collect_media()
    output.out(str(dropped))
    return code


# -- flush ----------------------------------------------------------------------------


class _Flush:
    """The outcome of one flush: counts, rows for --json, the exit status."""

    def __init__(self, box: Outbox, json_out: bool, quiet_stdout: bool) -> None:
        self.box = box
        self.json_out = json_out
        self.sent = 0
        self.failed = 0
        self.uncertain = 0
        self.rows: list[dict[str, Any]] = []
        self.code = 0

    def fail(self, code: int) -> None:
        # the worst wins: 3 (configuration) over 1 (a send failed)
        if code == 3 or self.code == 0:
            self.code = code

    def row(self, e: Entry, ok: bool, error: str | None, state: str) -> None:
        if self.json_out:
            self.rows.append({"id": e.id, "platform": e.platform, "target": str(e.target),
                              "account": e.account, "ok": ok, "error": error,
                              "uncertain": state == "uncertain", "outcome": state})  # fmt: skip

    def settle(self, e: Entry, lock: Any, r: TargetResult) -> None:
        """One result: sent → removed; failed for good → removed (said so); else back."""
        from imcli.outbox import classify

        if r.ok:
            self.box.done(e, lock)
            self.sent += 1
            self.row(e, True, None, "sent")
            return
        where = f"{e.platform} {e.target} ({e.id})"
        c = classify(r)
        self.fail(1)
        if c is None:
            self.box.done(e, lock)
            self.failed += 1
            output.err(
                output.one_line(f"{where}: {r.error or 'not sent'} (removed from the outbox)")
            )
            self.row(e, False, r.error, "removed")
            return
        state, reason = c
        e.tries += 1
        e.last_try = time.time()
        e.reason = reason
        if state == "uncertain":
            e.state = "uncertain"
            self.uncertain += 1
            output.err(output.one_line(f"{where}: {reason} (kept as uncertain)"))
        else:
            self.failed += 1
            output.err(output.one_line(f"{where}: {reason} (waits in the outbox)"))
        self.box.put_back(e, lock)
        self.row(e, False, reason, e.state)


def flush(
    *,
    profile: str | None,
    ids: list[str],
    uncertain: bool,
    json_out: bool,
    verbose: int,
    timeout: int | None,
    only: Callable[[Entry], bool] | None = None,
    before_push: bool = False,
) -> int:
    """Send what waits, oldest first; print the count (or JSON); return the exit status
    (as push: 0 all sent, 1 something failed, 2/3 before anything was sent)."""
    from imcli.errors import Interrupted
    from imcli.outbox import Outbox, max_age_of

    def say(line: str) -> None:
        if not before_push:
            output.out(line)

    box = Outbox()
    st = _Flush(box, json_out, before_push)
    try:
        prof = _load(profile)
        max_age = max_age_of(prof.settings, prof.path)
        entries, _ = box.scan()
    except ImcliError as exc:
        output.error(exc.message)
        say("0")
        return exc.exit_code
    chosen = _chosen(st, entries, ids, uncertain)
    if only is not None:
        chosen = [e for e in chosen if only(e)]
    chosen = _of_this_profile(chosen, _real(prof.path), quiet=before_push)
    live = _drop_expired(box, st, chosen, max_age)
    log = (lambda line: output.err(line)) if verbose else None
    signals = _Signals()
    try:
        _send_all(box, st, live, timeout, profile, log, signals)
    except Interrupted as exc:
        box.collect_media()
        output.error(f"interrupted; {st.sent} outbox entr{'y' if st.sent == 1 else 'ies'} sent")
        say(_summary(st))
        output.flush()
        return exc.exit_code
    finally:
        signals.restore()
    box.collect_media()
    if before_push:
        if st.sent:
            output.error(f"outbox: {st.sent} waiting message(s) sent before this push")
    else:
        say(_summary(st))
    return st.code


def _chosen(st: _Flush, entries: list[Entry], ids: list[str], uncertain: bool) -> list[Entry]:
    """The entries asked for (:func:`imcli.outbox.select`); an ID that matches nothing
    is said, and is exit 2."""
    from imcli.outbox import select

    chosen, unknown = select(entries, ids, uncertain=uncertain)
    for wrong in unknown:
        output.error(f"outbox: no entry {wrong} (see `imcli outbox list`)")
        st.fail(2)
    return chosen


def _of_this_profile(chosen: list[Entry], mine: str, *, quiet: bool) -> list[Entry]:
    """An entry is sent only with the profile it was kept from: elsewhere its account name
    may be another account (a webhook account is another destination). The others wait,
    and a line says which ``--profile`` flushes them (none with ``quiet``)."""
    elsewhere: dict[str, int] = {}
    for e in chosen:
        if e.profile is not None and e.profile != mine:
            elsewhere[e.profile] = elsewhere.get(e.profile, 0) + 1
    if not elsewhere:
        return chosen
    for path, n in elsewhere.items() if not quiet else ():
        output.error(
            f"outbox: {n} entr{'y' if n == 1 else 'ies'} kept from the profile {path} "
            f"left waiting; flush with --profile {path}"
        )
    return [e for e in chosen if e.profile is None or e.profile == mine]


def _drop_expired(box: Outbox, st: _Flush, chosen: list[Entry], max_age: float) -> list[Entry]:
    """Entries older than ``outbox_max_age`` are dropped, a line each; returns the rest."""
    now = time.time()
    live: list[Entry] = []
    for e in chosen:
        if e.age(now) <= max_age:
            live.append(e)
            continue
        lock = box.claim(e)
        if lock is None:
            continue
        box.done(e, lock)
        st.fail(1)
        st.row(e, False, "older than outbox_max_age", "expired")
        output.error(
            output.one_line(
                f"outbox: dropped {e.id} ({e.platform} {e.target}): waited {_age(e.age(now))}, "
                f"longer than outbox_max_age ({_age(max_age)}); last error: {e.reason}"
            )
        )
    return live


def _send_all(
    box: Outbox,
    st: _Flush,
    live: list[Entry],
    timeout: int | None,
    profile: str | None,
    log: Any,
    signals: _Signals,
) -> None:
    """Oldest first, one run of the core per (push, account, platform) and CHUNK
    entries; a signal between two runs stops it there (Interrupted)."""
    from imcli.cli import runner

    groups: dict[tuple[str, str | None, str], list[Entry]] = {}
    for e in live:  # oldest first: dicts keep the order of the first entry of each group
        groups.setdefault((e.push, e.account, e.platform), []).append(e)
    for group in groups.values():
        for i in range(0, len(group), CHUNK):
            signals.check()
            _flush_chunk(box, st, group[i : i + CHUNK], timeout, profile, log, runner, signals)
    signals.check()


class _Signals:
    """SIGINT/SIGTERM between two batches (while entries are claimed or settled) are
    noted and honoured at the next safe point; during a batch the event loop's own
    handlers stop it (and each batch's end puts the default handlers back, so they are
    noted again before every batch)."""

    def __init__(self) -> None:
        import signal

        self.got: list[int] = []
        self.saved: dict[int, Any] = {}
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                self.saved[sig] = signal.getsignal(sig)
            except ValueError:  # pragma: no cover - not the main thread
                pass
        self.arm()

    def _note(self, signum: int, frame: Any) -> None:
        self.got.append(signum)

    def arm(self) -> None:
        import signal

        for sig in self.saved:
            try:
                signal.signal(sig, self._note)
            except ValueError:  # pragma: no cover
                pass

    def check(self) -> None:
        from imcli.errors import Interrupted

        self.arm()
        if self.got:
            raise Interrupted(self.got[0])

    def restore(self) -> None:
        import signal

        for sig, handler in self.saved.items():
            try:
                signal.signal(sig, handler)
            except (ValueError, TypeError):  # pragma: no cover
                pass


def _summary(st: _Flush) -> str:
    if st.json_out:
        return json.dumps(
            {"sent": st.sent, "failed": st.failed, "uncertain": st.uncertain, "targets": st.rows},
            ensure_ascii=False,
        )
    return str(st.sent)


def _flush_chunk(
    box: Outbox,
    st: _Flush,
    entries: list[Entry],
    timeout: int | None,
    profile: str | None,
    log: Any,
    runner: Any,
    signals: _Signals,
) -> None:
    """Claim ``entries`` (of one push, account and platform), send them in one run of the
    core, settle each (:meth:`_Flush.settle`)."""
    from imcli.core import run_push
    from imcli.errors import Interrupted
    from imcli.outbox import message_from_json

    claimed: dict[Target, tuple[Entry, Any]] = {}
    for e in entries:
        lock = box.claim(e)
        if lock is not None:
            claimed[e.target] = (e, lock)
    if not claimed:
        return
    chunk = _Chunk(box, st, claimed)
    try:
        message = message_from_json(chunk.first.message, box.root)
    except (ValueError, KeyError, TypeError, OSError) as exc:
        chunk.set_aside(exc)
        return
    req = chunk.request(message, timeout, profile)
    try:
        if signals.got:  # a signal while the entries were claimed: none was sent
            raise Interrupted(signals.got[0])
        result = runner.run_interruptibly(
            run_push(req, verbose=log, results_out=chunk.results, on_result=chunk.on_result)
        )
    except Interrupted:
        chunk.finish()
        raise
    except (UsageError, ConfigError) as exc:
        chunk.put_back(exc)
        return
    except BaseException:
        chunk.finish()
        raise
    for note in result.notes:
        output.error(note)
    for r in result.results:
        chunk.results[r.target] = r
    chunk.finish()


class _Chunk:
    """The entries one run of the core sends, claimed (locked, in ``sending/``), and how
    each leaves that state: settled once, by its result or by what stopped the run."""

    def __init__(self, box: Outbox, st: _Flush, claimed: dict[Target, tuple[Entry, Any]]) -> None:
        self.box = box
        self.st = st
        self.claimed = claimed
        self.first = next(iter(claimed.values()))[0]
        self.settled: set[Target] = set()
        self.results: dict[Target, TargetResult] = {}

    def request(self, message: Any, timeout: int | None, profile: str | None) -> PushRequest:
        return PushRequest(
            platform=self.first.platform,
            # a webhook robot's entry: the account is the destination (no -g/-u)
            targets=[t for t in self.claimed if t.kind != "webhook"],
            message=message,
            account=self.first.account,
            timeout_ms=timeout,
            profile=profile,
        )

    def on_result(self, r: TargetResult) -> None:
        # a confirmed send leaves the outbox at once: a kill later cannot repeat it
        if r.ok and r.target in self.claimed and r.target not in self.settled:
            self.settled.add(r.target)
            e, lock = self.claimed[r.target]
            self.st.settle(e, lock, r)

    def finish(self) -> None:
        """Every entry not settled yet, by its result (none: not sent)."""
        for t, (e, lock) in self.claimed.items():
            if t in self.settled:
                continue
            self.settled.add(t)
            r = self.results.get(t) or TargetResult(target=t, error="not sent")
            if not r.ok and not r.error and not r.uncertain:
                r.error = "interrupted before it was sent"
            self.st.settle(e, lock, r)

    def put_back(self, exc: ImcliError) -> None:
        """Nothing was sent (refused before sending): every entry waits again, the reason
        told once."""
        for t, (e, lock) in self.claimed.items():
            if t not in self.settled:
                e.tries += 1
                e.reason = exc.message
                e.last_try = time.time()
                self.box.put_back(e, lock)
        output.error(f"outbox: {self.first.platform} ({self.first.push}): {exc.message}")
        self.st.fail(exc.exit_code)

    def set_aside(self, exc: Exception) -> None:
        """The entries' message cannot be read: set aside, never fatal."""
        for e, lock in self.claimed.values():
            self.box._set_aside(self.box.sending / f"{e.id}.json", f"{type(exc).__name__}: {exc}")
            lock.release()
        output.error(f"outbox: {self.first.push}: set aside: {exc}")
        self.st.fail(1)
