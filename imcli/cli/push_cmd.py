"""`imcli push text|image|voice|video|file|mixed` as typer commands, built from the one
table of the command line (``cmdline.COMMANDS``: options, arguments, help texts). They
only parse; :func:`imcli.cli.push_run.push` does the rest, and a well-formed line gets
there without typer (``cmdline.parse_push``), reading the same table.

The push options are also exported as typer annotations (``Platform``, ``Timeout``, …)
for the commands that share them (``run``).
"""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, Optional

import typer

from imcli.cli import cmdline, complete, push_run
from imcli.cli.app import profile_of, push_app


def duration(value: str) -> int:
    """``--timeout``: milliseconds, or 500ms, 5s, 2m (the fast path reads it alike)."""
    try:
        return cmdline.parse_duration(value)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None


#: a table kind → the Python type typer converts the value to, and its default
_TYPES: dict[str, tuple[Any, Any]] = {
    "str": (Optional[str], None),
    "int": (Optional[int], None),
    "duration": (Optional[int], None),
    "multiple": (Optional[list[str]], None),
    "flag": (bool, False),
    "count": (int, 0),
}


def option(opt: cmdline.Opt) -> Any:
    """The typer annotation of ``opt``: a value option shows its metavar and no default;
    a count shows its default (0), as a flag shows none."""
    settings: dict[str, Any] = {"help": opt.help or None}
    if opt.takes_value:
        settings.update(metavar=opt.metavar, show_default=False)
    if opt.kind == "count":
        settings["count"] = True
    if opt.kind == "duration":
        settings["parser"] = duration
    if opt.complete:
        settings["autocompletion"] = getattr(complete, f"complete_{opt.complete}")
    return Annotated[_TYPES[opt.kind][0], typer.Option(*opt.names, **settings)]


def argument(arg: cmdline.Arg) -> Any:
    """The typer annotation of a push argument (one value, optional unless required)."""
    kind = str if arg.required else Optional[str]
    return Annotated[
        kind, typer.Argument(metavar=arg.metavar, help=arg.help or None, show_default=False)
    ]


def _parameters(cmd: cmdline.Command) -> list[inspect.Parameter]:
    """The command function's parameters: the context, the arguments, the options."""
    keyword = inspect.Parameter.KEYWORD_ONLY
    params = [inspect.Parameter("ctx", keyword, annotation=typer.Context)]
    for arg in cmd.arguments:
        default = inspect.Parameter.empty if arg.required else None
        params.append(inspect.Parameter(arg.dest, keyword, default=default,
                                        annotation=argument(arg)))  # fmt: skip
    for opt in cmd.options:
        params.append(inspect.Parameter(opt.dest, keyword, default=_TYPES[opt.kind][1],
                                        annotation=option(opt)))  # fmt: skip
    return params


def _register(kind: str) -> None:
    """``imcli push KIND``: hands the parsed line to push_run, as the fast path does."""
    cmd = cmdline.COMMANDS[("push", kind)]

    def command(ctx: typer.Context, **kwargs: Any) -> NoReturn:
        kwargs["profile"] = profile_of(ctx, kwargs["profile"])
        raise typer.Exit(push_run.push(kind, **kwargs))

    params = _parameters(cmd)
    # typer reads the signature (inspect.signature honours __signature__) and the
    # annotations (typing.get_type_hints reads __annotations__)
    command.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    command.__annotations__ = {p.name: p.annotation for p in params}
    command.__doc__ = cmd.help
    command.__name__ = command.__qualname__ = f"push_{kind}"
    push_app.command(kind)(command)


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
else:  # for typer
    Platform, Group, User, To, Account, Timeout, Options, Profile, Verbose, Quiet = (
        _shared(dest) for dest in ("platform", "group", "user", "to", "account", "timeout",
                                   "option", "profile", "verbose", "quiet")
    )  # fmt: skip
