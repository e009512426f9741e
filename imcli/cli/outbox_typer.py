"""`imcli outbox list|flush|drop` as typer commands, built from the one table of the
command line (``cmdline.COMMANDS``) by ``table_typer.from_table``;
:mod:`imcli.cli.outbox_cmd` does the work."""

from __future__ import annotations

import typer

from imcli.cli import outbox_cmd
from imcli.cli.app import outbox_app, profile_of
from imcli.cli.table_typer import from_table


@outbox_app.command("list")
@from_table("outbox", "list")
def list_command(json_out: bool, profile: str | None) -> None:
    # --profile is accepted, and read by no one: the outbox is shared by every profile
    raise typer.Exit(outbox_cmd.list_entries(json_out=json_out))


@outbox_app.command("flush")
@from_table("outbox", "flush")
def flush_command(
    ctx: typer.Context,
    ids: list[str] | None,
    uncertain: bool,
    timeout: int | None,
    profile: str | None,
    json_out: bool,
    verbose: int,
) -> None:
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
@from_table("outbox", "drop")
def drop_command(ids: list[str] | None, all_: bool, profile: str | None) -> None:
    # --profile: as list's
    raise typer.Exit(outbox_cmd.drop(list(ids or []), all_=all_))
