"""`imcli outbox list|flush|drop` as typer commands; :mod:`imcli.cli.outbox_cmd` does
the work."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from imcli.cli import outbox_cmd, push_cmd
from imcli.cli.app import outbox_app, profile_of

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON.")]
Ids = Annotated[
    Optional[list[str]],
    typer.Argument(
        metavar="[ID]...",
        help="Entry ids (imcli outbox list), or a push id for all of its entries.",
        show_default=False,
    ),
]


#: --profile on list and drop: accepted as on every subcommand; the outbox is one for
#: every profile (each entry names the profile it was kept from)
SharedProfile = Annotated[
    Optional[str],
    typer.Option(
        "--profile",
        help="Accepted as everywhere; the outbox is shared by every profile.",
        metavar="PATH",
        show_default=False,
    ),
]


@outbox_app.command("list")
def list_command(json_out: JsonOpt = False, profile: SharedProfile = None) -> None:
    """What waits in the outbox: age, why, how many tries; corrupt entries set aside."""
    raise typer.Exit(outbox_cmd.list_entries(json_out=json_out))


@outbox_app.command("flush")
def flush_command(
    ctx: typer.Context,
    ids: Ids = None,
    uncertain: Annotated[
        bool,
        typer.Option(
            "--uncertain",
            help="Also re-send entries that may have been delivered (a duplicate is possible).",
        ),
    ] = False,
    timeout: Annotated[
        Optional[int],
        typer.Option(
            "--timeout",
            help="Time budget of each batch of 100 entries: ms (5000) or 500ms, 5s, 2m "
            "(default as push).",
            metavar="DURATION",
            show_default=False,
            parser=push_cmd.duration,
        ),
    ] = None,
    profile: Annotated[
        Optional[str],
        typer.Option("--profile", help="Profile file.", metavar="PATH", show_default=False),
    ] = None,
    json_out: JsonOpt = False,
    verbose: Annotated[
        int,
        typer.Option(
            "--verbose",
            "-v",
            count=True,
            help="Log every HTTP request on stderr; -vv adds the bodies (secrets masked).",
        ),
    ] = 0,
) -> None:
    """Send what waits, oldest first; print the count sent (exit status as push)."""
    raise typer.Exit(
        outbox_cmd.flush(
            profile=profile_of(ctx, profile),
            ids=list(ids or []),
            uncertain=uncertain,
            json_out=json_out,
            verbose=verbose,
            timeout=timeout,
        )  # fmt: skip
    )


@outbox_app.command("drop")
def drop_command(
    ids: Ids = None,
    all_: Annotated[bool, typer.Option("--all", help="Drop every entry.")] = False,
    profile: SharedProfile = None,
) -> None:
    """Remove entries without sending them; print how many."""
    raise typer.Exit(outbox_cmd.drop(list(ids or []), all_=all_))
