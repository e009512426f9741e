"""`imcli push text|image|voice|video|file|mixed` as typer commands, built from the one
table of the command line (``cmdline.COMMANDS``: options, arguments, help texts) by
``table_typer.from_table``. They only parse; :func:`imcli.cli.push_run.push` does the
rest, and a well-formed line gets there without typer (``cmdline.parse_push``), reading
the same table.

The push options are also exported as typer annotations (``Platform``, ``Timeout``, …)
for the commands that share them (``run``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NoReturn, Optional

import typer

from imcli.cli import cmdline, push_run
from imcli.cli.app import profile_of, push_app
from imcli.cli.table_typer import argument, duration, from_table, option

__all__ = ["argument", "duration", "option"]  # the builders, under their former home


def _register(kind: str) -> None:
    """``imcli push KIND``: hands the parsed line to push_run, as the fast path does."""

    def command(ctx: typer.Context, **kwargs: Any) -> NoReturn:
        kwargs["profile"] = profile_of(ctx, kwargs["profile"])
        raise typer.Exit(push_run.push(kind, **kwargs))

    command.__name__ = command.__qualname__ = f"push_{kind}"
    push_app.command(kind)(from_table("push", kind)(command))


for _kind in cmdline.PUSH_KINDS:
    _register(_kind)


def _shared(dest: str) -> Any:
    [opt] = [o for o in cmdline.PUSH_OPTIONS if o.dest == dest]
    return option(opt)


if TYPE_CHECKING:  # what the annotations hold for a type checker
    Platform = Optional[str]
    Group = Optional[list[str]]
    User = Optional[list[str]]
    To = Optional[list[str]]
    Options = Optional[list[str]]
    Account = Optional[str]
    Profile = Optional[str]
    Timeout = Optional[int]
    Verbose = int
    Quiet = bool
    Spool = bool
else:  # for typer
    Platform, Group, User, To, Account, Timeout, Options, Profile, Verbose, Quiet, Spool = (
        _shared(dest) for dest in ("platform", "group", "user", "to", "account", "timeout",
                                   "option", "profile", "verbose", "quiet", "spool")
    )  # fmt: skip
