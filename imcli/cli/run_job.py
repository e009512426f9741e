"""What ``imcli run TARGETS [OPTIONS] -- CMD [ARGS...]`` does once its line is parsed.

1. Check the push before running anything: a line that can never push (bad flag value,
   unknown platform, a target or ``--attach-log`` the platform rules out, a bad ``-o``)
   is exit 2 and CMD does not run. A profile or account problem does not stop CMD: the
   job matters more than its report; the push then fails and says why.
2. Run CMD (:mod:`imcli.cli.job`): output passed through, the tail (and with
   ``--attach-log`` the whole output) kept, signals forwarded, ``--max-runtime`` enforced.
3. Push the outcome through the push core, as ``push text --markdown`` would (``push
   mixed`` with the log as a file), when ``--on`` says so.
4. Exit with CMD's status. A failed push is reported on stderr and never masks it;
   ``--strict`` turns it into exit 1 when CMD succeeded.

stdout belongs to CMD: imcli prints nothing of its own there (``--json`` writes its
object to stderr), except with ``--dry-run``, which runs nothing and prints what ``push
--dry-run`` prints. No typer here (the command's options are in ``run_cmd``).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Union

from imcli.cli import output
from imcli.cli.job import Outcome, signal_name
from imcli.errors import ConfigError, ImcliError, UsageError
from imcli.models import Item, Message, PushRequest, PushResult, Target

if TYPE_CHECKING:
    from imcli.recipients import MultiResult

#: what a push of the outcome gives: one platform's result, or (--to) several platforms'
Pushed = Union[PushResult, "MultiResult"]

ON_CHOICES = ("failure", "always", "success")
DEFAULT_TAIL = 40
DEFAULT_GRACE = 10.0  # seconds between SIGTERM and SIGKILL past --max-runtime
LOG_LIMIT = 10 << 20  # the attached log's cap: under every platform's file limit
TAIL_CHARS = 3000  # the tail shown in the message: one message on most platforms
LINE_SHOW = 400  # characters of one line shown in the message
TIMED_OUT = 124  # timeout(1)'s status when the limit ran out

_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def parse_duration(text: str, option: str) -> float:
    """Seconds from ``500ms``, ``5s``, ``2m``, ``1h30m``, ``1d``. A bare number is refused:
    a time limit on a job is too easily read as seconds or as milliseconds."""
    value = text.strip().lower()
    if re.fullmatch(r"\d+(?:\.\d+)?", value):
        raise UsageError(f"{option} {text}: give a unit, e.g. {value}s or {value}m")
    parts = list(_DURATION.finditer(value))
    if not parts or "".join(m.group(0) for m in parts) != value:
        raise UsageError(f"{option} {text!r}: not a duration (e.g. 500ms, 30s, 5m, 1h30m)")
    seconds = sum(float(m.group(1)) * _UNITS[m.group(2)] for m in parts)
    if seconds <= 0:
        raise UsageError(f"{option} must be positive")
    return seconds


def human_duration(seconds: float) -> str:
    """``40ms``, ``2.5s``, ``12s``, ``3m12s``, ``1h02m``."""
    if seconds < 1:
        return f"{max(1, round(seconds * 1000))}ms"
    if seconds < 10:
        return f"{seconds:.1f}s"
    whole = int(seconds)
    if whole < 60:
        return f"{whole}s"
    if whole < 3600:
        return f"{whole // 60}m{whole % 60:02d}s"
    return f"{whole // 3600}h{whole % 3600 // 60:02d}m"


def _human_bytes(n: int) -> str:
    if n >= 1 << 20:
        return f"{n / (1 << 20):.1f} MiB"
    if n >= 1 << 10:
        return f"{n / 1024:.1f} KiB"
    return f"{n} bytes"


def _host() -> str:
    import socket

    return socket.gethostname().split(".")[0] or "localhost"


# -- the outcome in words --------------------------------------------------------------------


@dataclass
class Verdict:
    status: int  # imcli's exit status for CMD's outcome
    failed: bool
    what: str  # "failed (exit 2)", "killed by SIGTERM", …


def judge(o: Outcome, max_runtime: str | None) -> Verdict:
    """The exit status and the words for it. Killed by signal n: 128+n. Past
    ``--max-runtime``: 124, as timeout(1). Stopped by a signal imcli passed on but exited
    0: 128+n all the same (it did not finish its work)."""
    if not o.started:
        return Verdict(o.exit_status, True, f"could not be started: {o.start_error}")
    status = o.exit_status
    if o.signal is not None:
        what = f"killed by {signal_name(o.signal)}"
    elif status:
        what = f"failed (exit {status})"
    else:
        what = "succeeded"
    if o.timed_out:
        return Verdict(TIMED_OUT, True, f"timed out (over --max-runtime {max_runtime}), {what}")
    if o.forwarded is not None:
        name = signal_name(o.forwarded)
        if o.signal is None and status == 0:
            return Verdict(128 + o.forwarded, True, f"stopped by {name} (exit 0)")
        if o.signal != o.forwarded:
            what += f" on {name}"
    return Verdict(status, status != 0, what)


def title_for(o: Outcome, v: Verdict, name: str, host: str) -> str:
    mark = "✗" if v.failed else "✓"
    if not o.started:
        return f"{mark} {name} {v.what} (exit {v.status}) on {host}"
    return f"{mark} {name} {v.what} after {human_duration(o.seconds)} on {host}"


_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-Z\\-_]")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def clean_line(raw: bytes) -> str:
    """A line of output as readable text: UTF-8 (bad bytes as �), terminal escapes and
    control characters removed, at most LINE_SHOW characters."""
    text = _CONTROL.sub("", _ANSI.sub("", raw.decode("utf-8", "replace")))
    if len(text) > LINE_SHOW:
        text = text[: LINE_SHOW - 1] + "…"
    return text.rstrip()


def _fence(lines: list[str]) -> str:
    """A code fence longer than any run of backticks in the block (CommonMark)."""
    longest = max((len(m) for line in lines for m in re.findall(r"`+", line)), default=0)
    return "`" * max(3, longest + 1)


def body_for(
    o: Outcome,
    *,
    markdown_output: bool,
    attached: str | None,
    max_runtime: str | None,
    grace: str,
) -> str:
    """The message under the title: the tail in a code block (or as CommonMark with
    ``--markdown``), cut to TAIL_CHARS by dropping its oldest lines, and what happened."""
    notes: list[str] = []
    if not o.started:
        notes.append(f"imcli could not start the command: {o.start_error}.")
    lines = [clean_line(b) for b in o.tail]
    while lines and sum(len(s) + 1 for s in lines) > TAIL_CHARS:
        lines.pop(0)
    blocks: list[str] = []
    if o.started and o.total_bytes == 0:
        notes.append("No output.")
    elif lines:
        shown = len(lines)
        head = f"Last {shown} of {o.lines} lines:" if shown < o.lines else "Output:"
        if markdown_output:
            blocks.append(head + "\n\n" + "\n".join(lines))
        else:
            fence = _fence(lines)
            blocks.append(head + "\n\n" + fence + "\n" + "\n".join(lines) + "\n" + fence)
    if o.timed_out:
        sent = "SIGTERM, then SIGKILL after " + grace if o.killed else "SIGTERM"
        notes.append(f"It ran past --max-runtime {max_runtime}: imcli sent it {sent}.")
    elif o.forwarded is not None:
        name = signal_name(o.forwarded)
        if o.passed_on:
            notes.append(f"imcli received {name} and passed it on.")
        else:
            notes.append(f"imcli received {name}, which the terminal sent to the command too.")
    if o.left_running:
        notes.append(
            "Processes it left running still held its output: what they printed after "
            "it exited is not here."
        )
    if attached:
        if o.dropped:
            notes.append(
                f"The output was {_human_bytes(o.total_bytes)}: the attached log "
                f"({attached}) holds its end; the first {_human_bytes(o.dropped)} were dropped."
            )
        else:
            notes.append(f"The whole output is attached ({attached}).")
    return "\n\n".join(blocks + [" ".join(notes)] if notes else blocks)


def _log_name(name: str) -> str:
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "output"
    return safe[:60] + ".log"


# -- the command -------------------------------------------------------------------------------


def run(
    *,
    command: list[str] | None,
    on: str | None,
    title: str | None,
    tail: int | None,
    attach_log: bool,
    markdown: bool,
    strict: bool,
    max_runtime: str | None,
    grace: str | None,
    platform: str | None,
    group: list[str] | None,
    user: list[str] | None,
    account: str | None,
    timeout: int | None,
    option: list[str] | None,
    profile: str | None,
    dry_run: bool,
    to: list[str] | None = None,
    json_out: bool,
    verbose: int,
    quiet: bool = False,
    spool: bool = False,
) -> int:
    """Run CMD and push its outcome; returns imcli's exit status."""
    import os

    argv = list(command or [])
    try:
        settings = _check(
            argv=argv, on=on, tail=tail, attach_log=attach_log, max_runtime=max_runtime,
            grace=grace, platform=platform, group=group, user=user, account=account,
            timeout=timeout, option=option, profile=profile, to=to, spool=spool,
        )  # fmt: skip
    except ImcliError as exc:
        output.error(exc.message)
        return exc.exit_code
    name = title.strip() if title and title.strip() else os.path.basename(argv[0]) or argv[0]
    j = _Job(
        argv=argv, name=name, host=_host(), on=on or "failure", markdown=markdown,
        strict=strict, max_runtime=max_runtime, grace=grace or f"{DEFAULT_GRACE:g}s",
        attach_log=attach_log, json_out=json_out, verbose=verbose, quiet=quiet,
    )  # fmt: skip
    if dry_run:
        return _dry_run(settings, argv, j.name, j.host, title, markdown, max_runtime, j.grace,
                        json_out, verbose, attach_log)  # fmt: skip
    return _run_and_report(settings, j)


@dataclass
class _Job:
    """What ``run`` was asked besides the push's own settings: the job and its report."""

    argv: list[str]
    name: str  # the job's name in the title
    host: str
    on: str  # failure, always or success
    markdown: bool  # CMD prints CommonMark
    strict: bool
    max_runtime: str | None  # as written, for the message
    grace: str  # as written, for the message
    attach_log: bool
    json_out: bool
    verbose: int
    quiet: bool


def _run_and_report(settings: _Settings, j: _Job) -> int:
    """Run CMD, then push its outcome (:func:`_report`); its log never outlives this."""
    from imcli.cli import job

    restore = _exit_on_signals()
    try:
        outcome = job.run(
            j.argv,
            tail_lines=settings.tail,
            log_limit=LOG_LIMIT if j.attach_log else None,
            max_runtime=settings.max_runtime,
            grace=settings.grace,
        )
    except BaseException:
        restore()
        raise
    try:
        return _report(outcome, settings, j)
    finally:
        restore()
        if outcome.log_path:
            job.forget(outcome.log_path)


def _report(outcome: Outcome, settings: _Settings, j: _Job) -> int:
    """Push the outcome when ``--on`` says so; returns the exit status: CMD's, never
    masked by a failed push (but ``--strict``)."""
    verdict = judge(outcome, j.max_runtime)
    if verdict.failed and outcome.started is False:
        output.error(f"{j.argv[0]}: {outcome.start_error}")
    push = j.on == "always" or (j.on == "failure") == verdict.failed
    result: Pushed | None = None
    push_error: BaseException | None = None
    interrupted: int | None = None
    if push:
        result, push_error, interrupted = _push_outcome(outcome, verdict, settings, j)
    status = verdict.status
    if interrupted is not None and status == 0:
        status = 128 + interrupted
    failed_push = push and (result is None or result.exit_code != 0)
    if failed_push and not (j.quiet and result is not None):  # -q: no target lines
        output.error(
            f"the push of {j.argv[0]}'s outcome failed; exiting with its status {status}"
            + (" (--strict: 1)" if j.strict and status == 0 else "")
        )
    if failed_push and j.strict and status == 0:
        status = 1
    if j.json_out:
        output.err(json.dumps(_json(outcome, verdict, status, push, result, push_error),
                              ensure_ascii=False))  # fmt: skip
    return status


def _push_outcome(
    outcome: Outcome, verdict: Verdict, settings: _Settings, j: _Job
) -> tuple[Pushed | None, BaseException | None, int | None]:
    """The message for the outcome, pushed (see :func:`_push`)."""
    # the log goes when the message cannot show the whole output
    shows_all = outcome.lines <= len(outcome.tail) and outcome.total_bytes <= TAIL_CHARS
    attached = _log_name(j.name) if outcome.log_path and not shows_all else None
    body = body_for(outcome, markdown_output=j.markdown, attached=attached,
                    max_runtime=j.max_runtime, grace=j.grace)  # fmt: skip
    try:
        message = _message(
            title_for(outcome, verdict, j.name, j.host), body, attached, outcome.log_path
        )
    except ImcliError as exc:
        output.error(exc.message)
        return None, exc, None
    return _push(settings, message, verbose=j.verbose, quiet=j.quiet)


def _exit_on_signals() -> Any:
    """Until the push is done, SIGTERM and SIGHUP (where they would kill imcli outright)
    end it through ``finally`` blocks, so that the log file is deleted; the push's own
    handlers (SIGINT, SIGTERM) take over while it runs. Returns the undo."""
    import signal

    def stop(signum: int, frame: Any) -> None:
        raise SystemExit(128 + signum)

    previous: dict[int, Any] = {}
    for name in ("SIGTERM", "SIGHUP"):
        sig = getattr(signal, name, None)
        if sig is None:
            continue
        try:
            if signal.getsignal(sig) is signal.SIG_DFL:
                previous[sig] = signal.signal(sig, stop)
        except (ValueError, OSError):  # not the main thread
            pass

    def restore() -> None:
        for sig, handler in previous.items():
            try:
                signal.signal(sig, handler)
            except (ValueError, OSError, TypeError):
                pass
        previous.clear()

    return restore


@dataclass
class _Settings:
    tail: int
    max_runtime: float | None
    grace: float
    targets: list[Target]
    platform: str | None
    account: str | None
    timeout_ms: int | None
    extra: dict[str, Any]
    profile: str | None
    to: list[str]
    spool: bool = False  # --spool: what fails for a reason that may pass is kept


def _check(
    *,
    argv: list[str],
    on: str | None,
    tail: int | None,
    attach_log: bool,
    max_runtime: str | None,
    grace: str | None,
    platform: str | None,
    group: list[str] | None,
    user: list[str] | None,
    account: str | None,
    timeout: int | None,
    option: list[str] | None,
    profile: str | None,
    to: list[str] | None = None,
    spool: bool = False,
) -> _Settings:
    """Everything that can be checked before CMD runs; UsageError for a line that can
    never push."""
    from imcli.core import option_pairs, parse_options

    if not argv:
        raise UsageError(
            "run: no command; give it after --, e.g. imcli run -p tg -u ID -- ./job.sh"
        )
    if on is not None and on not in ON_CHOICES:
        raise UsageError(f"--on {on!r}: expected one of {', '.join(ON_CHOICES)}")
    if tail is not None and tail < 0:
        raise UsageError("--tail must be 0 or more lines")
    limit = parse_duration(max_runtime, "--max-runtime") if max_runtime else None
    grace_s = parse_duration(grace, "--grace") if grace else DEFAULT_GRACE
    targets = [Target("group", g) for g in group or []] + [Target("user", u) for u in user or []]
    own, extra = parse_options(option_pairs(option or []))
    if account and own.get("account") and own["account"] != account:
        raise UsageError("--account and -o account_id name different accounts")
    account = account or own.get("account")
    to = list(dict.fromkeys(to or []))
    if to:
        _check_recipients(to, profile, attach_log)
    if not to or targets or platform or account:
        _check_platform(platform, account, profile, targets, attach_log)
    return _Settings(
        tail=DEFAULT_TAIL if tail is None else tail, max_runtime=limit, grace=grace_s,
        targets=targets, platform=platform, account=account, timeout_ms=timeout,
        extra=extra, profile=profile, to=to, spool=spool,
    )  # fmt: skip


def _check_recipients(to: list[str], profile: str | None, attach_log: bool) -> None:
    """Every entry of every recipient (fallbacks included) is checked against the matrix
    before CMD runs, as ``push --to`` checks them before it sends."""
    from imcli import profile as profile_mod
    from imcli import recipients

    try:
        prof = profile_mod.load(profile)
    except ConfigError:
        return  # the push will say what is wrong; the job runs all the same
    recipients.plan(prof, to, "mixed" if attach_log else "text")


def _check_platform(
    platform: str | None,
    account: str | None,
    profile: str | None,
    targets: list[Target],
    attach_log: bool,
) -> None:
    """What the support matrix rules out, as the push would refuse it."""
    from imcli import platforms
    from imcli.core import check_matrix, resolve_platform

    if platform and not account:
        spec = platforms.get(platform)
    else:
        from imcli import profile as profile_mod

        try:  # the account's platform, as the push will find it
            spec = resolve_platform(platform, account, profile_mod.load(profile))
        except ConfigError:
            return  # the push will say what is wrong; the job runs all the same
    check_matrix(spec, "mixed" if attach_log else "text", targets)
    if attach_log:
        reason = spec.kind_status("file")
        if reason:
            raise UsageError(f"--attach-log: {reason}")


def _message(title: str, body: str, attached: str | None, log_path: str | None) -> Message:
    if attached and log_path:
        from imcli import media

        src = media.parse(log_path, "file", filename=attached, mime="text/plain")
        items = [Item(type="markdown", text=body), Item(type="file", media=src)]
        return Message(kind="mixed", title=title, items=items)
    return Message(kind="text", title=title, text=body, markdown=True)


def _push(
    settings: _Settings,
    message: Message,
    *,
    verbose: int,
    quiet: bool = False,
    dry_run: bool = False,
) -> tuple[Pushed | None, BaseException | None, int | None]:
    """(result, the error that stopped it, the signal that interrupted it); every error
    is on stderr already. With ``--spool`` (or ``[settings] spool``) what failed for a
    reason that may pass is kept in the outbox, as ``push`` keeps it."""
    from imcli.cli import outbox_cmd

    message.extra = dict(settings.extra)
    req = PushRequest(
        platform=settings.platform,
        targets=settings.targets,
        message=message,
        account=settings.account,
        timeout_ms=settings.timeout_ms,
        dry_run=dry_run,
        verbose=verbose,
        profile=settings.profile,
    )
    log = (lambda line: output.err(line)) if verbose else None
    dry = (lambda line: output.err(f"dry-run: {line}")) if dry_run else None
    try:
        keep = outbox_cmd.before_push(req, settings.spool)  # spool? flush_on_push first
    except ImcliError as exc:
        output.error(exc.message)
        return None, exc, None
    if settings.to:
        return _push_to(req, settings.to, log=log, dry=dry, quiet=quiet, dry_run=dry_run,
                        keep=keep)  # fmt: skip
    return _push_one(req, log=log, dry=dry, quiet=quiet, keep=keep)


def _push_one(
    req: PushRequest, *, log: Any, dry: Any, quiet: bool, keep: bool
) -> tuple[Pushed | None, BaseException | None, int | None]:
    """The outcome pushed to one platform's targets (``-p/-u/-g``)."""
    from imcli.cli import outbox_cmd, runner
    from imcli.core import run_push
    from imcli.errors import Interrupted
    from imcli.models import TargetResult

    results: dict[Target, TargetResult] = {}
    try:
        result = runner.run_interruptibly(
            run_push(req, verbose=log, dry_log=dry, results_out=results)
        )
    except Interrupted as exc:
        partial = PushResult(platform="", results=list(results.values()))
        total = max(len(req.targets), len(results))  # a webhook's one target is implicit
        line = f"interrupted while pushing; {partial.sent} of {total} target(s) sent"
        if partial.uncertain:
            line += f", {partial.uncertain} more may have been delivered"
        output.error(line)
        if keep:
            outbox_cmd.spool_after(req, None, partial.results)
        return None, exc, exc.exit_code - 128
    except ImcliError as exc:
        output.error(exc.message)
        return None, exc, None
    except Exception as exc:  # noqa: BLE001 - a bug: one line, the traceback with -v
        if req.verbose:
            import traceback

            output.err("".join(traceback.format_exception(exc)).rstrip())
        output.error(f"internal error: {type(exc).__name__}: {exc}")
        return None, exc, None
    if not req.dry_run:
        _say_failures(result, quiet)
    if keep:
        outbox_cmd.spool_after(req, result.platform, result.results)
    return result, None, None


def _say_failures(result: PushResult, quiet: bool) -> None:
    """The push's notes, and a line per target that failed (none with ``-q``)."""
    from imcli.cli.push_run import failure

    for note in result.notes:
        output.err(f"imcli: {note}")
    for r in result.results:
        if not r.ok and not quiet:  # -q: no line per failed target
            output.err(output.one_line(f"imcli: {result.platform} {r.target}: {failure(r)}"))


def _push_to(
    req: PushRequest,
    to: list[str],
    *,
    log: Any,
    dry: Any,
    quiet: bool,
    dry_run: bool,
    keep: bool = False,
) -> tuple[Pushed | None, BaseException | None, int | None]:
    """The outcome pushed to ``req``'s targets and the named recipients (with their
    fallbacks), as ``push --to`` does; stdout stays CMD's, so every line goes to stderr."""
    from imcli import recipients
    from imcli.cli import outbox_cmd, push_to, runner
    from imcli.cli.push_run import failure
    from imcli.errors import Interrupted

    progress = recipients.Progress()
    try:
        result = runner.run_interruptibly(
            recipients.run_to(req, to, verbose=log, dry_log=dry, progress=progress)
        )
    except Interrupted as exc:
        push_to.interrupted_counts(progress, "interrupted while pushing")
        if keep:
            outbox_cmd.spool_rows(req, recipients.kept_of_progress(progress))
        return None, exc, exc.exit_code - 128
    except ImcliError as exc:
        output.error(exc.message)
        return None, exc, None
    if not dry_run:
        for what, event in result.events:
            if what == "note":
                output.err(f"imcli: {event}")
            elif not event.result.ok and not quiet:  # -q: no line per failed target
                tr = event.result
                where = "webhook" if tr.target is None else str(tr.target)
                output.err(output.one_line(f"imcli: {event.platform} {where}: {failure(tr)}"))
    if keep:
        outbox_cmd.spool_rows(req, result.kept())
    return result, None, None


def _json(
    o: Outcome,
    v: Verdict,
    status: int,
    pushed: bool,
    result: Pushed | None,
    error: BaseException | None,
) -> dict[str, Any]:
    push: dict[str, Any] | None = None
    if pushed:
        if result is not None:
            push = result.to_json()
        else:
            why = error.message if isinstance(error, ImcliError) else str(error)
            push = {"sent": 0, "error": why}
    return {
        "command": {
            "argv0": o.argv[0],
            "started": o.started,
            "exit": o.returncode if o.signal is None else None,
            "signal": signal_name(o.signal) if o.signal is not None else None,
            "timed_out": o.timed_out,
            "seconds": round(o.seconds, 3),
            "output_bytes": o.total_bytes,
            "output_lines": o.lines,
            "outcome": v.what,
        },
        "exit": status,
        "pushed": pushed,
        "push": push,
    }


def _dry_run(
    settings: _Settings,
    argv: list[str],
    name: str,
    host: str,
    title: str | None,
    markdown: bool,
    max_runtime: str | None,
    grace: str,
    json_out: bool,
    verbose: int,
    attach_log: bool,
) -> int:
    """Run nothing: push, as a dry run, what a failure of CMD (exit 1) would push, with a
    placeholder for its output. stdout gets what ``push --dry-run`` prints."""
    from imcli import media

    sample = f"(the last {settings.tail} lines of {name}'s output)".encode()
    outcome = Outcome(argv=argv, returncode=1, tail=[sample], lines=1, total_bytes=len(sample))
    verdict = judge(outcome, max_runtime)
    attached = _log_name(name) if attach_log else None
    body = body_for(outcome, markdown_output=markdown, attached=attached,
                    max_runtime=max_runtime, grace=grace)  # fmt: skip
    heading = title_for(outcome, verdict, name, host).replace(
        f" after {human_duration(outcome.seconds)} ", " after … "
    )
    if attached:
        src = media.parse("base64://" + _b64(sample), "file", filename=attached, mime="text/plain")
        message = Message(kind="mixed", title=heading,
                          items=[Item(type="markdown", text=body), Item(type="file", media=src)])  # fmt: skip
    else:
        message = Message(kind="text", title=heading, text=body, markdown=True)
    result, error, _ = _push(settings, message, verbose=verbose, dry_run=True)
    if result is None:
        from imcli.errors import exit_code_for

        output.out("0")
        return exit_code_for(error) if error is not None else 1
    for note in result.notes:  # what `push --dry-run` prints
        output.err(f"imcli: {note}")
    output.out(json.dumps(result.to_json(), ensure_ascii=False) if json_out else str(result.sent))
    return result.exit_code


def _b64(data: bytes) -> str:
    import base64

    return base64.b64encode(data).decode()
