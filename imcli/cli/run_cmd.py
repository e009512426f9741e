"""`imcli run TARGETS [OPTIONS] -- CMD [ARGS...]` as a typer command: the options and the
help. It only parses; :func:`imcli.cli.run_job.run` does the rest. The options are also
in ``cmdline.COMMANDS`` (a test compares the two)."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from imcli.cli.app import app, profile_of
from imcli.cli.push_cmd import (
    Account,
    Group,
    Options,
    Platform,
    Profile,
    Quiet,
    Spool,
    Timeout,
    To,
    User,
    Verbose,
)

HELP = """Run CMD, pass its output through, and push its outcome when it ends.

By default only a failure is pushed: a title such as "✗ backup.sh failed (exit 2) after
3m12s on host-1" and the last lines of its output in a code block. imcli exits with
CMD's status (128+n when a signal n killed it, 124 past --max-runtime, 127/126 when it
cannot be started). Put CMD after --: imcli run -p tg -u ID -- ./backup.sh --full
"""


# the options only `run` has (the TARGETS options are push's own, from push_cmd)
Command = Annotated[
    Optional[list[str]],
    typer.Argument(metavar="-- CMD [ARGS...]", help="The command to run.", show_default=False),
]
On = Annotated[
    Optional[str],
    typer.Option(
        "--on",
        help="When to push: failure (default), always, or success.",
        metavar="WHEN",
        show_default=False,
    ),
]
JobTitle = Annotated[
    Optional[str],
    typer.Option(
        "--title",
        "-t",
        help="The job's name in the title (default: CMD's file name).",
        metavar="NAME",
        show_default=False,
    ),
]
Tail = Annotated[
    Optional[int],
    typer.Option(
        "--tail",
        help="Lines of output in the message (default 40).",
        metavar="N",
        show_default=False,
    ),
]
AttachLog = Annotated[
    bool,
    typer.Option("--attach-log", help="Attach the whole output (its last 10 MiB) as a file."),
]
MarkdownOutput = Annotated[
    bool,
    typer.Option("--markdown", help="CMD prints CommonMark: render it instead of a code block."),
]
Strict = Annotated[
    bool, typer.Option("--strict", help="Exit 1 when CMD succeeded but the push failed.")
]
MaxRuntime = Annotated[
    Optional[str],
    typer.Option(
        "--max-runtime",
        help="Stop CMD past this (SIGTERM, then SIGKILL after --grace): 30s, 5m, 2h.",
        metavar="DURATION",
        show_default=False,
    ),
]
Grace = Annotated[
    Optional[str],
    typer.Option(
        "--grace",
        help="Between SIGTERM and SIGKILL past --max-runtime (default 10s).",
        metavar="DURATION",
        show_default=False,
    ),
]
DryRun = Annotated[
    bool, typer.Option("--dry-run", help="Run nothing; show what a failure of CMD would push.")
]
JsonOutcome = Annotated[
    bool, typer.Option("--json", help="CMD's outcome and the push's result as JSON on stderr.")
]


@app.command(
    "run",
    help=HELP,
    short_help="Run CMD; push its outcome when it ends.",
    context_settings={"allow_interspersed_args": False},
    no_args_is_help=True,
)
def run_command(
    ctx: typer.Context,
    command: Command = None,
    on: On = None,
    title: JobTitle = None,
    tail: Tail = None,
    attach_log: AttachLog = False,
    markdown: MarkdownOutput = False,
    strict: Strict = False,
    max_runtime: MaxRuntime = None,
    grace: Grace = None,
    platform: Platform = None,
    group: Group = None,
    user: User = None,
    to: To = None,
    account: Account = None,
    timeout: Timeout = None,
    option: Options = None,
    profile: Profile = None,
    dry_run: DryRun = False,
    json_out: JsonOutcome = False,
    verbose: Verbose = 0,
    quiet: Quiet = False,
    spool: Spool = False,
) -> None:
    from imcli.cli import run_job

    raise typer.Exit(
        run_job.run(
            command=command, on=on, title=title, tail=tail, attach_log=attach_log,
            markdown=markdown, strict=strict, max_runtime=max_runtime, grace=grace,
            platform=platform, to=to, group=group, user=user, account=account, timeout=timeout,
            option=option, profile=profile_of(ctx, profile), dry_run=dry_run,
            json_out=json_out, verbose=verbose, quiet=quiet, spool=spool,
        )
    )  # fmt: skip
