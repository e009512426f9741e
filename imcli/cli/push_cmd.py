"""`imcli push text|image|voice|video|file|mixed` as typer commands: the options and the
help. They only parse; :func:`imcli.cli.push_run.push` does the rest, and a well-formed
line gets there without typer (``cmdline.parse_push``), so the two parsers must agree:
tests/test_push_fastpath.py checks that they do.
"""

from __future__ import annotations

from typing import Annotated, Any, NoReturn, Optional

import typer

from imcli.cli import cmdline, complete, push_run
from imcli.cli.app import profile_of, push_app

Platform = Annotated[
    Optional[str],
    typer.Option(
        "--platform",
        "-p",
        help="Platform name or alias (see `imcli platforms`).",
        metavar="NAME",
        show_default=False,
        autocompletion=complete.complete_platform,
    ),
]
Group = Annotated[
    Optional[list[str]],
    typer.Option(
        "--group",
        "-g",
        help="Group/channel id; repeatable. @FILE reads ids from a file (one a line), @- from stdin.",
        metavar="ID",
        show_default=False,
    ),
]
User = Annotated[
    Optional[list[str]],
    typer.Option(
        "--user",
        "-u",
        help="User id; repeatable. @FILE reads ids from a file (one a line), @- from stdin.",
        metavar="ID",
        show_default=False,
    ),
]
To = Annotated[
    Optional[list[str]],
    typer.Option(
        "--to",
        help="A named recipient of the profile (imcli recipients list); repeatable.",
        metavar="NAME",
        show_default=False,
        autocompletion=complete.complete_recipient,
    ),
]
Account = Annotated[
    Optional[str],
    typer.Option(
        "--account",
        "-a",
        help="Account to send with.",
        metavar="NAME",
        show_default=False,
        autocompletion=complete.complete_account,
    ),
]


def duration(value: str) -> int:
    """``--timeout``: milliseconds, or 500ms, 5s, 2m (the fast path reads it alike)."""
    try:
        return cmdline.parse_duration(value)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None


Timeout = Annotated[
    Optional[int],
    typer.Option(
        "--timeout",
        help="Time budget, retries included: ms (5000) or 500ms, 5s, 2m "
        "(default 30s + 1s/MiB of media).",
        metavar="DURATION",
        show_default=False,
        parser=duration,
    ),
]
Options = Annotated[
    Optional[list[str]],
    typer.Option(
        "--option",
        "-o",
        help="KEY=VALUE merged into the send request; repeatable.",
        metavar="KEY=VALUE",
        show_default=False,
    ),
]
Profile = Annotated[
    Optional[str],
    typer.Option("--profile", help="Profile file.", metavar="PATH", show_default=False),
]
DryRun = Annotated[
    bool, typer.Option("--dry-run", help="Validate and show the requests; send nothing.")
]
JsonOut = Annotated[
    bool, typer.Option("--json", help="Print one JSON object instead of the count.")
]
Verbose = Annotated[
    int,
    typer.Option(
        "--verbose",
        "-v",
        count=True,
        help="Log every HTTP request on stderr; -vv adds the bodies (secrets masked).",
    ),
]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="No stderr lines for failed targets.")]
Spool = Annotated[
    bool,
    typer.Option(
        "--spool",
        help="Keep targets that failed for a passing reason in the outbox (imcli outbox flush).",
    ),
]
Title = Annotated[
    Optional[str],
    typer.Option(
        "--title",
        "-t",
        help="Title: a heading, or the caption of media.",
        metavar="TITLE",
        show_default=False,
    ),
]
Filename = Annotated[
    Optional[str],
    typer.Option(
        "--filename", help="File name to send the media as.", metavar="NAME", show_default=False
    ),
]
Mime = Annotated[
    Optional[str],
    typer.Option("--mime", help="MIME type of the media.", metavar="TYPE", show_default=False),
]
Source = Annotated[
    str,
    typer.Argument(
        metavar="SOURCE",
        help="http(s) URL, path, ~/path, file://, base64://…, data:…;base64,… or - for stdin.",
        show_default=False,
    ),
]


def _push(ctx: typer.Context, kind: str, **kwargs: Any) -> NoReturn:
    """Hand the parsed line to push_run (the fast path calls it with the same arguments)."""
    kwargs["profile"] = profile_of(ctx, kwargs["profile"])
    raise typer.Exit(push_run.push(kind, **kwargs))


# -- text ------------------------------------------------------------------------------


@push_app.command("text")
def push_text(
    ctx: typer.Context,
    content: Annotated[
        Optional[str],
        typer.Argument(
            metavar="[CONTENT]",
            help="The message; - reads stdin (a leading - goes after --).",
            show_default=False,
        ),
    ] = None,
    title: Title = None,
    markdown: Annotated[bool, typer.Option("--markdown", help="CONTENT is CommonMark.")] = False,
    max_parts: Annotated[
        Optional[int],
        typer.Option(
            "--max-parts",
            help="At most N messages per target; a longer text goes as its first part "
            "and an attached message.txt (default 10, 0 = no limit).",
            metavar="N",
            show_default=False,
        ),
    ] = None,
    platform: Platform = None,
    group: Group = None,
    user: User = None,
    to: To = None,
    account: Account = None,
    timeout: Timeout = None,
    option: Options = None,
    profile: Profile = None,
    dry_run: DryRun = False,
    json_out: JsonOut = False,
    verbose: Verbose = 0,
    quiet: Quiet = False,
    spool: Spool = False,
) -> None:
    """Push a text message."""
    _push(ctx, "text", content=content, title=title, markdown=markdown, platform=platform,
          group=group, user=user, to=to, account=account, timeout=timeout, option=option,
          profile=profile, dry_run=dry_run, json_out=json_out, verbose=verbose,
          quiet=quiet, max_parts=max_parts, spool=spool)  # fmt: skip


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
        to: To = None,
        account: Account = None,
        timeout: Timeout = None,
        option: Options = None,
        profile: Profile = None,
        dry_run: DryRun = False,
        json_out: JsonOut = False,
        verbose: Verbose = 0,
        quiet: Quiet = False,
        spool: Spool = False,
    ) -> None:
        _push(ctx, kind, source=source, title=title, filename=filename, mime=mime,
              platform=platform, group=group, user=user, to=to, account=account, timeout=timeout,
              option=option, profile=profile, dry_run=dry_run, json_out=json_out,
              verbose=verbose, quiet=quiet, spool=spool)  # fmt: skip

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
            metavar="TYPE=VALUE",
            help="TYPE=VALUE, e.g. text=Hello, image=./a.png; repeatable, in order.",
            show_default=False,
        ),
    ] = None,
    title: Title = None,
    platform: Platform = None,
    group: Group = None,
    user: User = None,
    to: To = None,
    account: Account = None,
    timeout: Timeout = None,
    option: Options = None,
    profile: Profile = None,
    dry_run: DryRun = False,
    json_out: JsonOut = False,
    verbose: Verbose = 0,
    quiet: Quiet = False,
    spool: Spool = False,
) -> None:
    """Push a mixed message: text, markdown, images, voice, video and files."""
    _push(ctx, "mixed", items_file=items_file, item=item, title=title, platform=platform,
          group=group, user=user, to=to, account=account, timeout=timeout, option=option,
          profile=profile, dry_run=dry_run, json_out=json_out, verbose=verbose,
          quiet=quiet, spool=spool)  # fmt: skip
