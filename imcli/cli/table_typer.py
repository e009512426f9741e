"""typer parameters built from the one table of the command line (``cmdline.COMMANDS``).

A command function declares only what its body reads (its parameters, typed for the
type checker); :func:`from_table` gives it the signature typer reads: for each argument
and option of the table, in the table's order, the typer type, the default, the names,
the metavar, the help text, the completion function and the value's parser; and the
command's help. So the typer app, the fast path (``cmdline.parse_push``) and completion
(``complete.fast_path``) read one declaration, and a parameter the table does not have
(or the other way round) stops the import.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Annotated, Any, Optional, TypeVar

import typer

from imcli.cli import cmdline, complete

F = TypeVar("F", bound=Callable[..., Any])


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


def _completion(name: str) -> dict[str, Any]:
    """typer's ``autocompletion`` for a table's ``complete`` (complete.complete_<name>)."""
    return {"autocompletion": getattr(complete, f"complete_{name}")} if name else {}


def option(opt: cmdline.Opt, callback: Callable[..., Any] | None = None) -> Any:
    """The typer annotation of ``opt``: a value option shows its metavar and no default;
    a count shows its default (0), as a flag shows none. ``callback``: what an eager
    option does when given (``--version`` prints and exits)."""
    settings: dict[str, Any] = {"help": opt.help or None, **_completion(opt.complete)}
    if opt.takes_value:
        settings.update(metavar=opt.metavar, show_default=False)
    if opt.kind == "count":
        settings["count"] = True
    if opt.kind == "duration":
        settings["parser"] = duration
    if opt.eager:
        settings["is_eager"] = True
    if callback is not None:
        settings["callback"] = callback
    return Annotated[_TYPES[opt.kind][0], typer.Option(*opt.names, **settings)]


def argument(arg: cmdline.Arg) -> Any:
    """The typer annotation of an argument: one value, or all the rest (``nargs=-1``, a
    list); optional (None) unless required."""
    kind: Any = list[str] if arg.nargs == -1 else str
    settings = {"metavar": arg.metavar, "help": arg.help or None, **_completion(arg.complete)}
    return Annotated[
        kind if arg.required else Optional[kind], typer.Argument(**settings, show_default=False)
    ]


def parameters(
    cmd: cmdline.Command, callbacks: dict[str, Callable[..., Any]], *, context: bool = True
) -> list[inspect.Parameter]:
    """The command function's parameters as typer reads them: the context (when the
    function takes one), the arguments, the options (but those typer adds itself)."""
    keyword = inspect.Parameter.KEYWORD_ONLY
    params = [inspect.Parameter("ctx", keyword, annotation=typer.Context)] if context else []
    for arg in cmd.arguments:
        default = inspect.Parameter.empty if arg.required else None
        params.append(inspect.Parameter(arg.dest, keyword, default=default,
                                        annotation=argument(arg)))  # fmt: skip
    for opt in cmd.options:
        if not opt.builtin:
            annotation = option(opt, callbacks.get(opt.dest))
            params.append(inspect.Parameter(opt.dest, keyword, default=_TYPES[opt.kind][1],
                                            annotation=annotation))  # fmt: skip
    return params


def from_table(*path: str, **callbacks: Callable[..., Any]) -> Callable[[F], F]:
    """Give a command function the signature and help of ``COMMANDS[path]``, for typer
    (``callbacks``: dest → what an eager option does). The function's own parameters
    (but ``ctx``) must be the table's, or take ``**kwargs``: anything else is a bug, and
    stops the import."""
    cmd = cmdline.COMMANDS[path]

    def decorate(fn: F) -> F:
        own = inspect.signature(fn).parameters  # follows functools.wraps to the function
        params = parameters(cmd, callbacks, context="ctx" in own)
        table = [p.name for p in params if p.name != "ctx"]
        takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in own.values())
        if not takes_any and sorted(own.keys() - {"ctx"}) != sorted(table):
            raise TypeError(f"{fn.__name__} takes {list(own)}; the table of `imcli "
                            f"{' '.join(path)}` gives {table}")  # fmt: skip
        if callbacks.keys() - {o.dest for o in cmd.options if o.eager}:
            raise TypeError(f"{fn.__name__}: callbacks are for the table's eager options")
        # typer reads the signature (inspect.signature honours __signature__) and the
        # annotations (typing.get_type_hints reads __annotations__)
        fn.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
        fn.__annotations__ = {p.name: p.annotation for p in params}
        fn.__doc__ = cmd.help
        return fn

    return decorate
