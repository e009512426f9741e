"""`imcli run TARGETS [OPTIONS] -- CMD [ARGS...]` as a typer command, built from the one
table of the command line (``cmdline.COMMANDS[("run",)]``: options, help texts, and
options ending at CMD) by ``table_typer.from_table``. It only parses;
:func:`imcli.cli.run_job.run` does the rest."""

from __future__ import annotations

from typing import Any, NoReturn

import typer

from imcli.cli.app import app, profile_of
from imcli.cli.cmdline import COMMANDS
from imcli.cli.table_typer import from_table


@app.command(
    "run",
    context_settings={"allow_interspersed_args": COMMANDS[("run",)].interspersed},
    no_args_is_help=True,
)
@from_table("run")
def run_command(ctx: typer.Context, **kwargs: Any) -> NoReturn:
    from imcli.cli import run_job

    kwargs["profile"] = profile_of(ctx, kwargs["profile"])
    raise typer.Exit(run_job.run(**kwargs))
