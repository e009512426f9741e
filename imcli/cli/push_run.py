"""What `imcli push text|image|voice|video|file|mixed` does once its line is parsed:
build the Message, call the core, print the count (or JSON) and the errors, and return
the exit status.

Two parsers call :func:`push` with the same keyword arguments: the typer commands
(``push_cmd``) and the fast path (``cmdline.parse_push``), which runs a well-formed line
without importing typer. So nothing here imports typer or click.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Any

from imcli.cli import output
from imcli.errors import ImcliError, UsageError
from imcli.models import Message, PushRequest, PushResult, Target, TargetResult


def push(
    kind: str,
    *,
    platform: str | None,
    group: list[str] | None,
    user: list[str] | None,
    account: str | None,
    timeout: int | None,
    option: list[str] | None,
    profile: str | None,
    dry_run: bool,
    json_out: bool,
    verbose: int,
    quiet: bool = False,
    max_parts: int | None = None,
    title: str | None = None,
    content: str | None = None,
    markdown: bool = False,
    source: str | None = None,
    filename: str | None = None,
    mime: str | None = None,
    items_file: str | None = None,
    item: list[str] | None = None,
    to: list[str] | None = None,
    spool: bool = False,
) -> int:
    """Push one message; returns the exit status. ``profile`` is the one that applies
    (the subcommand's ``--profile``, else the one before it)."""
    build = _builder(kind, content=content, title=title, markdown=markdown, source=source,
                     filename=filename, mime=mime, items_file=items_file, item=item)  # fmt: skip
    from imcli.cli import push_to, runner

    try:
        targets = _read_targets(group, user, kind=kind, content=content, source=source,
                                items_file=items_file, item=item)  # fmt: skip
    except ImcliError as exc:
        return _fail(exc, [], json_out, verbose)
    try:
        message, account = _message(build, option or [], account)
        req = PushRequest(platform=platform, targets=targets, message=message, account=account,
                          timeout_ms=timeout, dry_run=dry_run, verbose=verbose, profile=profile,
                          max_parts=max_parts)  # fmt: skip
        if to:  # named recipients, across platforms
            from imcli.cli import outbox_cmd

            keep = outbox_cmd.before_push(req, spool)  # spool? flush_on_push first
            return push_to.run(req, to, json_out=json_out, quiet=quiet, keep=keep)
        result, keep = _send(req, spool=spool, verbose=verbose, json_out=json_out)
    except runner.Stopped as exc:  # interrupted: the count is printed already
        return exc.exit_code
    except Exception as exc:  # noqa: BLE001 - one line; a traceback only with --verbose
        return _fail(exc, _shown_targets(platform, targets), json_out, verbose)
    _print_result(result, json_out, quiet)
    if keep:
        from imcli.cli import outbox_cmd

        outbox_cmd.spool_after(req, result.platform, result.results)
    return result.exit_code


def _builder(
    kind: str,
    *,
    content: str | None,
    title: str | None,
    markdown: bool,
    source: str | None,
    filename: str | None,
    mime: str | None,
    items_file: str | None,
    item: list[str] | None,
) -> Callable[[dict[str, Any]], Message]:
    """What builds the message of ``kind`` from the fields of -o that are imcli's own."""
    if kind == "text":
        return _text_builder(content, title, markdown)
    if kind == "mixed":
        return _mixed_builder(items_file, item, title)
    return _media_builder(kind, source or "", title, filename, mime)


def _message(
    build: Callable[[dict[str, Any]], Message], option: list[str], account: str | None
) -> tuple[Message, str | None]:
    """The message, its -o fields that go to the platform, and the account to send with
    (--account, or -o account_id; two different ones are refused)."""
    from imcli.core import option_pairs, parse_options

    own, extra = parse_options(option_pairs(option))
    message = build(own)
    message.extra = extra
    if account and own.get("account") and own["account"] != account:
        raise UsageError("--account and -o account_id name different accounts")
    return message, account or own.get("account")


def _send(
    req: PushRequest, *, spool: bool, verbose: int, json_out: bool
) -> tuple[PushResult, bool]:
    """Send ``req`` (a progress bar on a terminal); returns the result and whether what
    failed for a passing reason goes to the outbox (--spool). An interruption prints the
    count itself (runner.Stopped), after keeping what was not sent."""
    from imcli.cli import outbox_cmd, runner
    from imcli.cli.progress import FanOut

    keep = outbox_cmd.before_push(req, spool)  # spool? flush_on_push first
    with FanOut(0 if req.dry_run else len(req.targets)) as bar:  # a bar on a terminal only

        def interrupted(partial: list[TargetResult]) -> None:
            bar.close()  # before the count is printed
            if keep:  # what was not sent is kept before the count is printed
                outbox_cmd.spool_after(req, None, partial)

        result = runner.run_push_interruptibly(
            req, verbose=verbose, dry_run=req.dry_run, json_out=json_out, on_result=bar.done,
            on_interrupt=interrupted,
        )  # fmt: skip
    return result, keep


def _read_targets(
    group: list[str] | None, user: list[str] | None, **stdin_users: Any
) -> list[Target]:
    """The targets of -g and -u, with -u @FILE / -g @- read (the ids the file holds);
    standard input is read by one thing only (push_to.check_stdin, told what else may)."""
    from imcli.cli import push_to

    stdin_taken: list[str] = []
    group = push_to.expand(group, "-g", stdin_taken)
    user = push_to.expand(user, "-u", stdin_taken)
    push_to.check_stdin(stdin_taken, **stdin_users)
    return [Target("group", g) for g in group or []] + [Target("user", u) for u in user or []]


def _shown_targets(platform: str | None, targets: list[Target]) -> list[Target]:
    """The targets a failed push reports: a webhook platform's one implicit target."""
    from imcli import platforms
    from imcli.models import WEBHOOK_TARGET

    spec = platforms.find(platform) if platform and not targets else None
    return [WEBHOOK_TARGET] if spec is not None and spec.webhook else targets


def _print_result(result: PushResult, json_out: bool, quiet: bool = False) -> None:
    for note in result.notes:
        output.err(f"imcli: {note}")
    # one line per failed target (none with --quiet); on a terminal, also one short
    # line per target that was sent
    tty = output.stderr_is_tty() and not result.dry_run
    for r in result.results:
        target_line(result.platform, str(r.target), r, tty=tty, quiet=quiet, dry=result.dry_run)
    if json_out:
        output.out(json.dumps(result.to_json(), ensure_ascii=False))
    else:
        output.out(str(result.sent))


def target_line(
    platform: str, where: str, r: TargetResult, *, tty: bool, quiet: bool, dry: bool
) -> None:
    """A target's stderr line: its failure (``✗`` first on a terminal), or on a terminal
    ``✓`` for one that was sent; none with --quiet, no failure line in a dry run."""
    if quiet:
        return
    if r.ok and tty:
        output.err(f"✓ {platform} {where}" + (f" ({r.account})" if r.account else ""))
    elif not r.ok and not dry:
        line = output.one_line(f"{platform} {where}: {failure(r)}")
        output.err(f"✗ {line}" if tty else line)


def failure(r: TargetResult) -> str:
    """Why a target is not counted: a split text some parts of which arrived says how
    many ("partly sent: 3 of 7 parts delivered"), never just "not sent"."""
    why = r.error or "not sent"
    if r.partly_sent:
        return f"partly sent: {r.parts_sent} of {r.parts_total} parts delivered; then {why}"
    return why


def _fail(exc: BaseException, targets: list[Target], json_out: bool, verbose: int) -> int:
    """An error found before (or instead of) sending: the count 0, one line, the status."""
    from imcli.errors import exit_code_for

    if isinstance(exc, ImcliError):
        message = exc.message
    else:  # a bug: say so in one line; the traceback only with --verbose
        message = f"internal error: {type(exc).__name__}: {exc}"
        if verbose:
            import traceback

            output.err("".join(traceback.format_exception(exc)).rstrip())
    output.error(message)
    if json_out:
        output.out(
            json.dumps(
                {
                    "sent": 0,
                    "failed": len(targets),
                    "targets": [TargetResult(target=t, error=message).to_json() for t in targets],
                    "error": message,
                },
                ensure_ascii=False,
            )
        )
    else:
        output.out("0")
    return exit_code_for(exc)


# -- what each kind sends ----------------------------------------------------------------


def _text_builder(
    content: str | None, title: str | None, markdown: bool
) -> Callable[[dict[str, Any]], Message]:
    def build(own: dict[str, Any]) -> Message:
        text = content
        # stdin is read for `-`, and when CONTENT is absent and stdin is not a
        # terminal, with or without a title (a CONTENT given wins over piped stdin)
        if text == "-" or (text is None and _stdin_is_data()):
            text = _read_stdin_text()
        return Message(kind="text", title=title, text=text or "", markdown=markdown)

    return build


def _stdin_is_data() -> bool:
    """Whether stdin may hold the message: it is open and not a terminal."""
    try:
        return sys.stdin is not None and not sys.stdin.isatty()
    except (AttributeError, ValueError):  # closed or replaced stdin
        return False


def _read_stdin_text() -> str:
    data = sys.stdin.buffer.read()
    try:
        return data.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError:
        raise UsageError("standard input is not UTF-8 text") from None


def _read_file_text(path: Any) -> str:
    """A file's UTF-8 text. Opened without blocking: a FIFO that no one writes to reads
    as empty instead of hanging, while a pipe with a writer (``<(jq …)``) is read to its end."""
    import os

    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    try:
        os.set_blocking(fd, True)
    except OSError:
        pass
    with open(fd, "rb") as fh:
        return fh.read().decode("utf-8")


def _media_builder(
    kind: str, source: str, title: str | None, filename: str | None, mime: str | None
) -> Callable[[dict[str, Any]], Message]:
    def build(own: dict[str, Any]) -> Message:
        from imcli import media

        src = media.parse(
            source, kind, filename=filename or own.get("filename"), mime=mime or own.get("mime")
        )
        return Message(kind=kind, title=title, media=src)

    return build


def _mixed_builder(
    items_file: str | None, item: list[str] | None, title: str | None
) -> Callable[[dict[str, Any]], Message]:
    def build(own: dict[str, Any]) -> Message:
        from imcli.items import parse_items

        raw = [] if items_file is None else _items_in_file(items_file)
        raw += _items_of_flags(item or [])
        readers = (items_file == "-") + sum(_reads_stdin(obj) for obj in raw)
        if readers > 1:
            raise UsageError(
                "only one thing may read standard input (ITEMS - or one item source -)"
            )
        items = parse_items(raw)
        if not items:
            raise UsageError("push mixed: no items (give an ITEMS file or --item TYPE=VALUE)")
        return Message(kind="mixed", title=title, items=items)

    return build


def _items_in_file(items_file: str) -> list[Any]:
    """The JSON array of items in ITEMS (``-``: standard input), not yet checked."""
    if items_file == "-":
        text, where = _read_stdin_text(), "standard input"
    else:
        text, where = _read_items_file(items_file), items_file
    if not text.strip():
        raise UsageError(f"items in {where}: empty; expected a JSON array of items")
    try:
        loaded = json.loads(text)
    except ValueError as exc:
        raise UsageError(f"items in {where}: invalid JSON: {exc}") from None
    except RecursionError:
        raise UsageError(f"items in {where}: the JSON is nested too deeply") from None
    if not isinstance(loaded, list):
        raise UsageError(f"items in {where}: expected a JSON array of items")
    return loaded


def _read_items_file(items_file: str) -> str:
    from pathlib import Path

    try:
        return _read_file_text(Path(items_file).expanduser())
    except FileNotFoundError:
        raise UsageError(f"items file {items_file}: no such file") from None
    except (OSError, UnicodeDecodeError, ValueError, RuntimeError) as exc:
        # ValueError: a NUL byte in the path; RuntimeError: ~user of no such user
        why = exc.strerror if isinstance(exc, OSError) else exc
        raise UsageError(f"items file {items_file}: cannot read it ({why})") from None


def _items_of_flags(item: list[str]) -> list[dict[str, str]]:
    """``--item TYPE=VALUE``, in order: a text type's VALUE is its text, else its source."""
    from imcli.items import TEXT_ITEM_TYPES

    raw = []
    for spec in item:
        typ, sep, value = spec.partition("=")
        if not sep:
            raise UsageError(f"--item {spec!r}: write it as TYPE=VALUE (e.g. text=Hello)")
        typ = typ.strip()
        raw.append({"type": typ, "text" if typ in TEXT_ITEM_TYPES else "source": value})
    return raw


def _reads_stdin(obj: Any) -> bool:
    """Whether an item takes its media from standard input (a source of ``-``)."""
    return isinstance(obj, dict) and any(
        obj.get(k) == "-" for k in ("source", "file", "url", "path")
    )
