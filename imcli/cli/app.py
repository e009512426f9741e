"""The typer application: every command (push, accounts, recipients, outbox, run,
platforms), and how errors are printed (one line, the exit code of the error's class).
The root's and the groups' options and help come from ``cmdline.COMMANDS``."""

from __future__ import annotations

from typing import Any

import typer

from imcli.cli import output
from imcli.cli.cmdline import COMMANDS
from imcli.cli.table_typer import from_table

try:  # typer ≥ 0.29 vendors click
    from typer import _click as click
except ImportError:  # pragma: no cover
    import click  # type: ignore[no-redef]

CONTEXT = {"help_option_names": ["-h", "--help"]}

app = typer.Typer(
    name="imcli",
    help=COMMANDS[()].help,
    add_completion=True,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    context_settings=CONTEXT,
    no_args_is_help=True,
)


#: every command group, by its path in the table
GROUPS: dict[tuple[str, ...], typer.Typer] = {(): app}


def _group(name: str) -> typer.Typer:
    """A command group under ``imcli``: plain help, -h, a short help when called bare."""
    group = typer.Typer(
        help=COMMANDS[(name,)].help,
        rich_markup_mode=None,
        context_settings=CONTEXT,
        no_args_is_help=True,
    )
    app.add_typer(group, name=name)
    GROUPS[(name,)] = group
    return group


push_app = _group("push")
accounts_app = _group("accounts")
recipients_app = _group("recipients")
outbox_app = _group("outbox")


def _version(value: bool) -> None:
    if value:
        from imcli._version import __version__

        output.out(f"imcli {__version__}")
        raise typer.Exit(0)


@app.callback()
@from_table(version=_version)
def root(ctx: typer.Context, profile: str | None, version: bool) -> None:
    ctx.obj = {"profile": profile}


def profile_of(ctx: typer.Context, local: str | None) -> str | None:
    """``--profile`` on the subcommand wins over the one before it."""
    if local:
        return local
    root_ctx = ctx.find_root()
    obj = root_ctx.obj if isinstance(root_ctx.obj, dict) else {}
    return obj.get("profile")


@app.command("platforms")
@from_table("platforms")
def platforms_command(json_out: bool) -> None:
    from imcli.cli import platforms_cmd

    raise typer.Exit(platforms_cmd.show(json_out=json_out))


# the subcommands register themselves on import
from imcli.cli import accounts_cmd as _accounts_cmd  # noqa: E402,F401
from imcli.cli import outbox_typer as _outbox_typer  # noqa: E402,F401
from imcli.cli import push_cmd as _push_cmd  # noqa: E402,F401
from imcli.cli import recipients_cmd as _recipients_cmd  # noqa: E402,F401
from imcli.cli import run_cmd as _run_cmd  # noqa: E402,F401


def _full_short_help() -> None:
    """Every group's list of commands shows each command's line of the table
    (``Command.summary``) whole, wrapped, never cut with "..." (click cuts a summary it
    derives itself, not one it is given)."""
    for path, group in GROUPS.items():
        for info in group.registered_commands:
            info.short_help = COMMANDS[path + (str(info.name),)].summary


_full_short_help()


def run_app(args: list[str]) -> int:
    import os

    command = typer.main.get_command(app)  # registers typer's completion classes
    if "_IMCLI_COMPLETE" in os.environ or {"--install-completion", "--show-completion"} & set(args):
        from imcli.cli import complete

        complete.use_our_scripts()  # so that every way of getting a script gives ours
    try:
        result: Any = command.main(args=args, prog_name="imcli", standalone_mode=False)
    except SystemExit as exc:  # typer's completion callbacks end with sys.exit
        code = exc.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    except click.exceptions.UsageError as exc:
        if type(exc).__name__ == "NoArgsIsHelpError":  # `imcli`, `imcli push`: the help
            output.out(exc.format_message().rstrip())
            return 0
        if getattr(exc, "ctx", None) is None:  # e.g. an option given without its value
            exc.ctx = _context_for(command, args)
        _show_usage_error(exc)
        return 2
    except click.exceptions.ClickException as exc:
        output.error(exc.format_message())
        return exc.exit_code
    except typer.Abort:
        output.error("aborted")
        return 130
    except typer.Exit as exc:
        return int(exc.exit_code or 0)
    except BrokenPipeError:
        raise  # main() handles it
    except Exception as exc:  # noqa: BLE001 - a bug: one redacted line; the traceback with -v
        if {"-v", "--verbose"} & set(args):
            import traceback

            output.err("".join(traceback.format_exception(exc)).rstrip())
        output.error(f"internal error: {type(exc).__name__}: {exc}")
        return 1
    return int(result) if isinstance(result, int) else 0


def _context_for(command: Any, args: list[str]) -> Any:
    """The context of the deepest subcommand named in ``args`` (for its usage line)."""
    ctx = click.Context(command, info_name="imcli")
    for word in args:
        commands = getattr(ctx.command, "commands", None)
        if not commands or word.startswith("-"):
            continue
        if word not in commands:
            break
        ctx = click.Context(commands[word], info_name=word, parent=ctx)
    return ctx


def _show_usage_error(exc: Any) -> None:
    """The usage line and one error line; no panels, no hint paragraphs."""
    ctx = getattr(exc, "ctx", None)
    if ctx is not None:
        output.err(ctx.get_usage())
    message = exc.format_message()
    if ctx is not None and getattr(ctx, "command_path", None):
        hint = f" (see `{ctx.command_path} --help`)"
    else:
        hint = ""
    output.err(f"Error: {message}{hint}")
