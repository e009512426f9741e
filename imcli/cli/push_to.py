"""The command line's side of named recipients and target files.

- ``-u @FILE`` / ``-g @-``: ids read from a file or stdin, one per line (``#`` starts a
  comment), line by line, so a long list never sits on the command line.
- ``--to NAME``: :func:`imcli.recipients.run_to` does the push; this prints its count (or
  JSON), one stderr line per failed target, and says when a fallback was used.

No typer here: the fast path runs these too.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from typing import Any

from imcli.cli import output
from imcli.errors import UsageError
from imcli.models import PushRequest, TargetResult


def is_file_ref(value: str) -> bool:
    """``@-`` (stdin) or ``@PATH``. A PATH holds ``/`` or ``.`` or starts with ``~``
    (``@ids.txt``, ``@./ids``): a bare ``@name`` stays an id, as a Telegram ``@channel``
    (whose names are letters, digits and ``_``) must."""
    if not value.startswith("@") or len(value) < 2:
        return False
    rest = value[1:]
    return rest == "-" or "/" in rest or "." in rest or rest.startswith("~")


def _ids(lines: Iterator[bytes], where: str) -> Iterator[str]:
    for n, raw in enumerate(lines, 1):
        try:
            line = raw.decode("utf-8").removeprefix("\ufeff") if n == 1 else raw.decode("utf-8")
        except UnicodeDecodeError:
            raise UsageError(f"{where}, line {n}: not UTF-8 text") from None
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        for i, c in enumerate(text):  # a comment after the id, after a space
            if c == "#" and text[i - 1].isspace():
                text = text[:i].rstrip()
                break
        yield text


def expand(values: list[str] | None, flag: str, stdin_taken: list[str]) -> list[str] | None:
    """``values`` with every ``@FILE`` / ``@-`` replaced by the ids it holds, read line
    by line. ``stdin_taken`` collects what read standard input (only one thing may)."""
    if not values or not any(is_file_ref(v) for v in values):
        return values
    from pathlib import Path

    out: list[str] = []
    for value in values:
        if not is_file_ref(value):
            out.append(value)
            continue
        name = value[1:]
        if name == "-":
            stdin_taken.append(f"{flag} @-")
            if len(stdin_taken) > 1:
                raise UsageError(
                    f"only one thing may read standard input ({' and '.join(stdin_taken)})"
                )
            try:
                stdin = sys.stdin.buffer
            except AttributeError:  # stdin closed (<&-)
                raise UsageError(f"{flag} @-: standard input is closed") from None
            out.extend(_ids(iter(stdin.readline, b""), f"{flag} @- (standard input)"))
            continue
        try:
            with open(Path(name).expanduser(), "rb") as fh:
                before = len(out)
                out.extend(_ids(iter(fh.readline, b""), f"{flag} {value}"))
        except FileNotFoundError:
            raise UsageError(f"{flag} {value}: no such file") from None
        except IsADirectoryError:
            raise UsageError(f"{flag} {value}: is a directory; give a file of ids") from None
        except (OSError, ValueError, RuntimeError) as exc:
            why = exc.strerror if isinstance(exc, OSError) else exc
            raise UsageError(f"{flag} {value}: cannot read it ({why})") from None
        if len(out) == before:
            raise UsageError(f"{flag} {value}: no ids in it (one id per line, # comments)")
    return out


def check_stdin(
    stdin_taken: list[str],
    *,
    kind: str,
    content: str | None,
    source: str | None,
    items_file: str | None,
    item: list[str] | None,
) -> None:
    """When ids came from stdin, nothing else may read it."""
    if not stdin_taken:
        return
    others = []
    if kind == "text" and content in (None, "-"):
        others.append("CONTENT" if content == "-" else "CONTENT (absent: read from stdin)")
    if source == "-":
        others.append("SOURCE -")
    if items_file == "-":
        others.append("ITEMS -")
    if any(spec.partition("=")[2] == "-" for spec in item or []):
        others.append("--item …=-")
    if others:
        raise UsageError(
            f"only one thing may read standard input ({stdin_taken[0]} and {others[0]}); "
            "give the content on the command line"
        )


def interrupted_counts(progress: Any, what: str) -> tuple[int, int, int]:
    """(sent, may have been delivered, targets) of an interrupted ``--to`` push, said on
    stderr: the count is what surely arrived; sends in flight may have arrived too."""
    sent = sum(1 for g in progress for r in g.results.values() if r.ok)
    maybe = sum(1 for g in progress for r in g.results.values() if r.maybe_delivered)
    total = sum(len(g.results) for g in progress)
    line = f"{what}; {sent} of {total} target(s) sent"
    if maybe:
        line += f", {maybe} more may have been delivered"
    output.error(line)
    return sent, maybe, total


def run(
    req: PushRequest, to: list[str], *, json_out: bool, quiet: bool = False, keep: bool = False
) -> int:
    """Push to ``req``'s targets and the recipients ``to``; print; return the status.
    Raises ImcliError when nothing was sent (the caller prints it). ``keep``: what failed
    for a reason that may pass goes to the outbox (:func:`kept_of`)."""
    from imcli import recipients
    from imcli.cli import outbox_cmd, runner
    from imcli.cli.push_run import target_line
    from imcli.errors import Interrupted

    progress = recipients.Progress()
    log = (lambda line: output.err(line)) if req.verbose else None
    dry = (lambda line: output.err(f"dry-run: {line}")) if req.dry_run else None
    try:
        result = runner.run_interruptibly(
            recipients.run_to(req, to, verbose=log, dry_log=dry, progress=progress)
        )
    except Interrupted as exc:
        sent, maybe, _ = interrupted_counts(progress, "interrupted")
        if keep:  # what was not sent is kept before the count is printed
            outbox_cmd.spool_rows(req, recipients.kept_of_progress(progress))
        if json_out:
            rows: list[dict[str, Any]] = []
            for g in progress:
                for r in g.results.values():
                    if not r.ok and not r.error:
                        r.error = "interrupted"
                    rows.append({**r.to_json(), "platform": g.platform})
            output.out(
                json.dumps(
                    {"sent": sent, "failed": len(rows) - sent, "uncertain": maybe, "targets": rows},
                    ensure_ascii=False,
                )  # fmt: skip
            )
        else:
            output.out(str(sent))
        output.flush()
        raise runner.Stopped(exc.exit_code) from None
    # in the order they happened: notes, one line per failed target (none with
    # --quiet); on a terminal, also one short line per target that was sent
    tty = output.stderr_is_tty() and not result.dry_run
    for what, event in result.events:
        if what == "note":
            output.err(f"imcli: {event}")
            continue
        tr: TargetResult = event.result
        where = "webhook" if tr.target is None else str(tr.target)
        target_line(event.platform, where, tr, tty=tty, quiet=quiet, dry=result.dry_run)
    if json_out:
        output.out(json.dumps(result.to_json(), ensure_ascii=False))
    else:
        output.out(str(result.sent))
    if keep:
        outbox_cmd.spool_rows(req, result.kept())
    return result.exit_code
