"""`imcli push text|image|voice|video|file|mixed`: parse, call the core, print the count."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Annotated, Any, NoReturn, Optional

import typer

from imcli.cli import complete, output
from imcli.cli.app import profile_of, push_app
from imcli.errors import ImcliError, UsageError
from imcli.items import TEXT_ITEM_TYPES, parse_items
from imcli.models import Message, PushRequest, PushResult, Target, TargetResult

Platform = Annotated[
    Optional[str],
    typer.Option(
        "--platform",
        "-p",
        help="Platform name or alias (see `imcli platforms`).",
        show_default=False,
        autocompletion=complete.complete_platform,
    ),
]
Group = Annotated[
    Optional[list[str]],
    typer.Option("--group", "-g", help="Group/channel id; repeatable.", show_default=False),
]
User = Annotated[
    Optional[list[str]],
    typer.Option("--user", "-u", help="User id; repeatable.", show_default=False),
]
Account = Annotated[
    Optional[str],
    typer.Option(
        "--account",
        "-a",
        help="Account to send with.",
        show_default=False,
        autocompletion=complete.complete_account,
    ),
]
Timeout = Annotated[
    Optional[int],
    typer.Option(
        "--timeout",
        help="Time budget in ms, retries included (default 30000 + 1000/MiB of media).",
        show_default=False,
    ),
]
Options = Annotated[
    Optional[list[str]],
    typer.Option(
        "--option",
        "-o",
        help="KEY=VALUE merged into the send request; repeatable.",
        show_default=False,
    ),
]
Profile = Annotated[
    Optional[str], typer.Option("--profile", help="Profile file.", show_default=False)
]
DryRun = Annotated[
    bool, typer.Option("--dry-run", help="Validate and show the requests; send nothing.")
]
JsonOut = Annotated[
    bool, typer.Option("--json", help="Print one JSON object instead of the count.")
]
Verbose = Annotated[bool, typer.Option("--verbose", "-v", help="Log every HTTP request on stderr.")]
Title = Annotated[
    Optional[str],
    typer.Option(
        "--title", "-t", help="Title: a heading, or the caption of media.", show_default=False
    ),
]
Filename = Annotated[
    Optional[str],
    typer.Option("--filename", help="File name to send the media as.", show_default=False),
]
Mime = Annotated[
    Optional[str], typer.Option("--mime", help="MIME type of the media.", show_default=False)
]
Source = Annotated[
    str,
    typer.Argument(
        help="http(s) URL, path, ~/path, file://, base64://…, data:…;base64,… or - for stdin.",
        show_default=False,
    ),
]


def _targets(group: list[str] | None, user: list[str] | None) -> list[Target]:
    return [Target("group", g) for g in group or []] + [Target("user", u) for u in user or []]


def _print_result(result: PushResult, json_out: bool) -> None:
    for note in result.notes:
        output.err(f"imcli: {note}")
    for r in result.results:
        if not r.ok and not result.dry_run:
            output.err(output.one_line(f"{result.platform} {r.target}: {r.error or 'not sent'}"))
    if json_out:
        output.out(json.dumps(result.to_json(), ensure_ascii=False))
    else:
        output.out(str(result.sent))


def _fail(exc: BaseException, targets: list[Target], json_out: bool, verbose: bool) -> NoReturn:
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
    raise typer.Exit(exit_code_for(exc))


def run(
    ctx: typer.Context,
    *,
    kind: str,
    build: Callable[[dict[str, Any]], Message],
    platform: str | None,
    group: list[str] | None,
    user: list[str] | None,
    account: str | None,
    timeout: int | None,
    option: list[str] | None,
    profile: str | None,
    dry_run: bool,
    json_out: bool,
    verbose: bool,
) -> NoReturn:
    from imcli.core import option_pairs, parse_options

    targets = _targets(group, user)
    try:
        own, extra = parse_options(option_pairs(option or []))
        message = build(own)
        message.extra = extra
        if account and own.get("account") and own["account"] != account:
            raise UsageError("--account and -o account_id name different accounts")
        req = PushRequest(
            platform=platform,
            targets=targets,
            message=message,
            account=account or own.get("account"),
            timeout_ms=timeout,
            dry_run=dry_run,
            verbose=verbose,
            profile=profile_of(ctx, profile),
        )
        from imcli.cli.runner import run_push_interruptibly

        result = run_push_interruptibly(req, verbose=verbose, dry_run=dry_run)
    except ImcliError as exc:
        _fail(exc, targets, json_out, verbose)
    except (KeyboardInterrupt, typer.Exit):
        raise
    except Exception as exc:  # noqa: BLE001 - never a traceback unless --verbose
        _fail(exc, targets, json_out, verbose)
    _print_result(result, json_out)
    raise typer.Exit(result.exit_code)


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


# -- text ------------------------------------------------------------------------------


@push_app.command("text")
def push_text(
    ctx: typer.Context,
    content: Annotated[
        Optional[str],
        typer.Argument(
            help="The message; - reads stdin (a leading - goes after --).", show_default=False
        ),
    ] = None,
    title: Title = None,
    markdown: Annotated[bool, typer.Option("--markdown", help="CONTENT is CommonMark.")] = False,
    platform: Platform = None,
    group: Group = None,
    user: User = None,
    account: Account = None,
    timeout: Timeout = None,
    option: Options = None,
    profile: Profile = None,
    dry_run: DryRun = False,
    json_out: JsonOut = False,
    verbose: Verbose = False,
) -> None:
    """Push a text message."""

    def build(own: dict[str, Any]) -> Message:
        text = content
        if text == "-" or (text is None and title is None and not sys.stdin.isatty()):
            text = _read_stdin_text()
        return Message(kind="text", title=title, text=text or "", markdown=markdown)

    run(ctx, kind="text", build=build, platform=platform, group=group, user=user, account=account,
        timeout=timeout, option=option, profile=profile, dry_run=dry_run, json_out=json_out,
        verbose=verbose)  # fmt: skip


def _read_stdin_text() -> str:
    data = sys.stdin.buffer.read()
    try:
        return data.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError:
        raise UsageError("standard input is not UTF-8 text") from None


# -- media -----------------------------------------------------------------------------


def _media_command(kind: str, doc: str) -> None:
    def command(
        ctx: typer.Context,
        source: Source,
        title: Title = None,
        filename: Filename = None,
        mime: Mime = None,
        platform: Platform = None,
        group: Group = None,
        user: User = None,
        account: Account = None,
        timeout: Timeout = None,
        option: Options = None,
        profile: Profile = None,
        dry_run: DryRun = False,
        json_out: JsonOut = False,
        verbose: Verbose = False,
    ) -> None:
        run(ctx, kind=kind, build=_media_builder(kind, source, title, filename, mime),
            platform=platform, group=group, user=user, account=account, timeout=timeout,
            option=option, profile=profile, dry_run=dry_run, json_out=json_out,
            verbose=verbose)  # fmt: skip

    command.__doc__ = doc
    command.__name__ = f"push_{kind}"
    push_app.command(kind)(command)


_media_command("image", "Push an image.")
_media_command("voice", "Push a voice message (audio).")
_media_command("video", "Push a video.")
_media_command("file", "Push a file (document).")


# -- mixed -----------------------------------------------------------------------------


@push_app.command("mixed")
def push_mixed(
    ctx: typer.Context,
    items_file: Annotated[
        Optional[str],
        typer.Argument(
            metavar="[ITEMS]",
            help="JSON file with an array of items, or - for stdin.",
            show_default=False,
        ),
    ] = None,
    item: Annotated[
        Optional[list[str]],
        typer.Option(
            "--item",
            help="TYPE=VALUE, e.g. text=Hello, image=./a.png; repeatable, in order.",
            show_default=False,
        ),
    ] = None,
    title: Title = None,
    platform: Platform = None,
    group: Group = None,
    user: User = None,
    account: Account = None,
    timeout: Timeout = None,
    option: Options = None,
    profile: Profile = None,
    dry_run: DryRun = False,
    json_out: JsonOut = False,
    verbose: Verbose = False,
) -> None:
    """Push a mixed message: text, markdown, images, voice, video and files."""

    def build(own: dict[str, Any]) -> Message:
        raw: list[Any] = []
        stdin_users = 0
        if items_file is not None:
            if items_file == "-":
                stdin_users += 1
                text = _read_stdin_text()
                where = "standard input"
            else:
                from pathlib import Path

                path = Path(items_file).expanduser()
                try:
                    text = path.read_text("utf-8")
                except FileNotFoundError:
                    raise UsageError(f"items file {items_file}: no such file") from None
                except (OSError, UnicodeDecodeError) as exc:
                    raise UsageError(f"items file {items_file}: cannot read it ({exc})") from None
                where = items_file
            try:
                loaded = json.loads(text)
            except ValueError as exc:
                raise UsageError(f"items in {where}: invalid JSON: {exc}") from None
            if not isinstance(loaded, list):
                raise UsageError(f"items in {where}: expected a JSON array of items")
            raw.extend(loaded)
        for spec in item or []:
            typ, sep, value = spec.partition("=")
            if not sep:
                raise UsageError(f"--item {spec!r}: write it as TYPE=VALUE (e.g. text=Hello)")
            typ = typ.strip()
            key = "text" if typ in TEXT_ITEM_TYPES else "source"
            raw.append({"type": typ, key: value})
        for obj in raw:
            if isinstance(obj, dict) and any(
                obj.get(k) == "-" for k in ("source", "file", "url", "path")
            ):
                stdin_users += 1
        if stdin_users > 1:
            raise UsageError(
                "only one thing may read standard input (ITEMS - or one item source -)"
            )
        items = parse_items(raw)
        if not items:
            raise UsageError("push mixed: no items (give an ITEMS file or --item TYPE=VALUE)")
        return Message(kind="mixed", title=title, items=items)

    run(ctx, kind="mixed", build=build, platform=platform, group=group, user=user, account=account,
        timeout=timeout, option=option, profile=profile, dry_run=dry_run, json_out=json_out,
        verbose=verbose)  # fmt: skip
