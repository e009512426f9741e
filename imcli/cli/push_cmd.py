"""`imcli push text|image|voice|video|file|mixed` as typer commands, built from the one
table of the command line (``cmdline.COMMANDS``: options, arguments, help texts) by
``table_typer.from_table``. They only parse; :func:`imcli.cli.push_run.push` does the
rest, and a well-formed line gets there without typer (``cmdline.parse_push``), reading
the same table.
"""

from __future__ import annotations

from typing import Any, NoReturn

import typer

from imcli.cli import cmdline, push_run
from imcli.cli.app import profile_of, push_app
from imcli.cli.table_typer import from_table


def _register(kind: str) -> None:
    """``imcli push KIND``: hands the parsed line to push_run, as the fast path does."""

    def command(ctx: typer.Context, **kwargs: Any) -> NoReturn:
        kwargs["profile"] = profile_of(ctx, kwargs["profile"])
        raise typer.Exit(push_run.push(kind, **kwargs))

    command.__name__ = command.__qualname__ = f"push_{kind}"
    push_app.command(kind)(from_table("push", kind)(command))


for _kind in cmdline.PUSH_KINDS:
    _register(_kind)
