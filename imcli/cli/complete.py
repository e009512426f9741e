"""Shell completion: platform names, account names and options for bash, zsh and fish.

The scripts in ``completions/`` are typer's (click's machinery, typer's templates), printed
by ``_IMCLI_COMPLETE=source_bash|source_zsh|source_fish imcli`` and written by
``python -m imcli.cli.complete --write completions/``. A script calls ``imcli`` back with
``_IMCLI_COMPLETE=complete_bash|complete_zsh|complete_fish`` and the words typed so far.

:func:`fast_path` answers the values that need data, platform names (``-p``) and account
names (``-a``, ``accounts remove|default|set|show|test NAME``) and recipient names
(``--to``, ``recipients show|remove NAME``, ``--fallback``), before typer is imported:
the option or argument's entry in ``cmdline.COMMANDS`` names its completion, the one
typer's parameter calls; it reads only the environment, the profile (tomllib) and the
platform registry; it also prints the script for ``source_*``. Everything else (subcommands, option names) goes to typer's
machinery (:func:`typer_path`), whose parameters call the same candidate functions, so
both paths answer alike.

Nothing here may print a traceback: a broken profile just has no accounts to offer.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from imcli.cli import cmdline

PROG = "imcli"
COMPLETE_VAR = "_IMCLI_COMPLETE"
#: shell → file name in completions/ (zsh wants ``_imcli`` on its $fpath)
SCRIPTS = {"bash": "imcli.bash", "zsh": "_imcli", "fish": "imcli.fish"}

# -- the command tree: imcli.cli.cmdline (checked against the typer app by a test) ---------

VALUE_OPTIONS = cmdline.VALUE_OPTIONS

Candidates = list[tuple[str, str]]  # (value, help)


# -- candidates (shared by both paths) -----------------------------------------------------


def platform_candidates() -> Candidates:
    """Names and aliases of the platforms imcli can push to, with their titles."""
    from imcli import platforms

    out: Candidates = []
    for spec in platforms.all_specs():
        if spec.supported:
            out.extend((n, spec.title) for n in (spec.name, *spec.aliases))
    return sorted(out)


def account_candidates(
    profile: str | None,
    *,
    platform: str | None = None,
    with_env: bool = True,
    describe: bool = True,
) -> Candidates:
    """Account names with their platforms: the profile's (``profile``, else
    $IMCLI_PROFILE, else the default path), then ``env-<platform>`` for IMCLI_<PLATFORM>_*
    variables. When ``platform`` names a known platform, only its accounts. Without
    ``describe`` (bash shows no descriptions) the registry is loaded only when needed.
    Never raises: a profile that cannot be read offers no accounts."""
    found: Candidates = []
    try:
        found.extend(_profile_accounts(profile))
    except Exception:  # noqa: BLE001 - completion never fails loudly
        pass
    env_vars = with_env and any(
        k.startswith("IMCLI_") and k not in _NOT_ACCOUNT_VARS for k in os.environ
    )
    if not (platform or describe or env_vars):
        return _unique(found)
    try:
        from imcli import platforms
        from imcli.profile import env_account_names
    except Exception:  # noqa: BLE001
        return []
    if env_vars:
        try:
            found.extend(env_account_names())
        except Exception:  # noqa: BLE001
            pass
    only = platforms.find(platform) if platform else None
    result: Candidates = []
    for name, pname in _unique(found):
        spec = platforms.find(pname)
        if only is None or spec is only:
            result.append((name, spec.name if spec is not None else pname))
    return result


def recipient_candidates(profile: str | None) -> Candidates:
    """The profile's recipient names, each with its targets as the description. Never
    raises: a profile that cannot be read offers no recipients."""
    try:
        from imcli.profile import read_toml, resolve_path

        path = resolve_path(profile)
        if not path.is_file():
            return []
        tables = read_toml(path).get("recipients", {})
        if not isinstance(tables, dict):
            return []
        out: Candidates = []
        for name, table in tables.items():
            targets = table.get("targets") if isinstance(table, dict) else None
            shown = ", ".join(str(t) for t in targets) if isinstance(targets, list) else ""
            out.append((str(name), shown))
        return out
    except Exception:  # noqa: BLE001 - completion never fails loudly
        return []


#: IMCLI_* variables that never make an environment account
_NOT_ACCOUNT_VARS = frozenset({"IMCLI_PROFILE", "IMCLI_CACHE_DIR"})


def _unique(found: Candidates) -> Candidates:
    seen: set[str] = set()
    out: Candidates = []
    for name, pname in found:
        if name not in seen:
            seen.add(name)
            out.append((name, pname))
    return out


def _profile_accounts(profile: str | None) -> Candidates:
    from imcli.profile import read_toml, resolve_path

    path = resolve_path(profile)
    if not path.is_file():
        return []
    tables = read_toml(path).get("accounts", {})
    if not isinstance(tables, dict):
        return []
    return [
        (str(name), str(table.get("platform", "")))
        for name, table in tables.items()
        if isinstance(table, dict)
    ]


# -- the fast path -----------------------------------------------------------------------


def fast_path() -> int | None:
    """Answer a ``complete_bash|zsh|fish`` request for platform or account names, and
    ``source_bash|zsh|fish`` (the script).

    Returns the exit status after printing, or None when typer's machinery should answer.
    """
    instruction = os.environ.get(COMPLETE_VAR, "")
    action, _, shell = instruction.partition("_")
    if shell not in SCRIPTS:
        return None
    if action == "source":  # the script itself, as `imcli --show-completion` prints it
        sys.stdout.write(script(shell))
        return 0
    if action != "complete":
        return None
    try:
        args, incomplete = _completion_args(shell)
        found = _candidates_for(args, incomplete, describe=shell != "bash")
    except Exception:  # noqa: BLE001 - let typer's machinery have it
        return None
    if found is None:
        return None
    candidates, incomplete = found
    items = [(v, h) for v, h in candidates if v.startswith(incomplete)]
    return _emit(shell, items)


def _split(line: str) -> list[str]:
    """click's split_arg_string: shlex, tolerating an unfinished quote or escape."""
    import shlex

    lex = shlex.shlex(line, posix=True)
    lex.whitespace_split = True
    lex.commenters = ""
    out: list[str] = []
    try:
        out.extend(lex)
    except ValueError:
        out.append(lex.token)
    return out


def _completion_args(shell: str) -> tuple[list[str], str]:
    """``args, incomplete`` as typer's BashComplete/ZshComplete/FishComplete read them."""
    if shell == "bash":
        words = _split(os.environ["COMP_WORDS"])
        cword = int(os.environ["COMP_CWORD"])
        args = words[1:cword]
        incomplete = words[cword] if cword < len(words) else ""
    else:
        line = os.environ.get("_TYPER_COMPLETE_ARGS", "")
        args = _split(line)[1:]
        incomplete = args.pop() if args and not line.endswith(" ") else ""
    return args, incomplete


def _candidates_for(
    args: list[str], incomplete: str, *, describe: bool = True
) -> tuple[Candidates, str] | None:
    """Walk the words as click parses them: ``(candidates, incomplete)`` when the word
    being completed is the value of an option or argument whose table entry names a
    completion (``complete``) that needs data, else None."""
    walked = cmdline.walk(args, strict=False)
    if walked is None or walked.path == ("run",):
        # not a subcommand: typer says so. `run` stops reading options at its command's
        # first word (allow_interspersed_args=False), which the walk does not follow
        return None
    path, pending = walked.path, walked.pending
    # as click's _resolve_incomplete: `=` alone is nothing, `--opt=val` completes val
    if incomplete == "=":
        incomplete = ""
    elif (
        pending is None
        and not walked.options_done
        and incomplete.startswith("--")
        and incomplete.partition("=")[0] in VALUE_OPTIONS[path]
    ):
        name, _, incomplete = incomplete.partition("=")
        pending = cmdline.COMMANDS[path].find(name)
    if not walked.options_done and incomplete.startswith("-"):
        return None  # option names: typer's
    if pending is not None:
        completion = pending.complete
    else:
        completion = _argument_completion(cmdline.COMMANDS[path], len(walked.positionals))
    found = _fast_candidates(completion, walked, describe)
    return None if found is None else (found, incomplete)


def _argument_completion(cmd: cmdline.Command, given: int) -> str:
    """The completion of the argument the next word goes to, as click's
    _is_incomplete_argument finds it: the first not given yet, or one taking the rest."""
    for arg in cmd.arguments:
        if arg.nargs == -1 or given == 0:
            return arg.complete
        given -= 1
    return ""


def _fast_candidates(completion: str, walked: cmdline.Walked, describe: bool) -> Candidates | None:
    """The candidates of ``complete_<completion>`` (below), read from the walk instead of
    click's context; None for a completion the fast path leaves to typer."""
    profile = _innermost(walked, "profile")
    if completion == "platform":
        return platform_candidates()
    if completion == "account":
        platform = _innermost(walked, "platform")
        return account_candidates(profile, platform=platform, describe=describe)
    if completion == "recipient":
        return _described(recipient_candidates(profile), describe)
    if completion == "profile_account":
        return account_candidates(profile, with_env=False, describe=describe)
    if completion == "accounts_to_test":
        found = account_candidates(profile, describe=describe)
        return [c for c in found if c[0] not in walked.positionals]
    return None


def _described(found: Candidates, describe: bool) -> Candidates:
    return found if describe else [(v, "") for v, _ in found]


def _innermost(walked: cmdline.Walked, dest: str) -> Any:
    """The value given to the innermost command that has one, as :func:`_ctx_value`
    reads typer's contexts (the subcommand's --profile wins over the one before it)."""
    for values in reversed(walked.values.values()):
        if values.get(dest):
            return values[dest]
    return None


def _emit(shell: str, items: Candidates) -> int:
    """Print ``items`` exactly as typer's completion class for ``shell`` would."""
    if shell == "bash":
        text = "\n".join(v for v, _ in items)
    elif shell == "zsh":
        if items:
            body = "\n".join(
                f'"{_zsh_escape(v)}":"{_zsh_escape(h)}"' if h else f'"{_zsh_escape(v)}"'
                for v, h in items
            )
            text = f"_arguments '*: :(({body}))'"
        else:
            text = "_files"
    else:  # fish
        action = os.environ.get("_TYPER_COMPLETE_FISH_ACTION", "")
        if action == "is-args":
            return 0 if items else 1
        text = ""
        if action == "get-args" and items:
            text = "\n".join(f"{v}\t{' '.join(h.split())}" if h else v for v, h in items)
    sys.stdout.write(text + "\n")
    return 0


def _zsh_escape(s: str) -> str:
    return (
        s.replace('"', '""')
        .replace("'", "''")
        .replace("$", "\\$")
        .replace("`", "\\`")
        .replace(":", r"\\:")
    )


# -- typer's machinery -------------------------------------------------------------------


def typer_path(args: list[str]) -> int:
    """Everything the fast path leaves: typer's completion machinery, through the app
    (:func:`imcli.cli.app.run_app` calls :func:`use_our_scripts`)."""
    from imcli.cli.app import run_app

    return run_app(args)


def use_our_scripts() -> None:
    """Make typer's ``--show-completion`` and ``--install-completion`` give the scripts of
    :func:`script` (the ones in completions/; ``source_*`` is answered by
    :func:`fast_path`). typer has no public hook for the script: this replaces its
    ``get_completion_script``, where its callbacks look it up."""
    import typer.completion
    from typer import _completion_shared

    def ours(*, prog_name: str, complete_var: str, shell: str) -> str:
        if prog_name == PROG and shell in SCRIPTS:
            return script(shell).rstrip("\n")
        return original(prog_name=prog_name, complete_var=complete_var, shell=shell)

    original = getattr(_completion_shared.get_completion_script, "__wrapped__", None) or (
        _completion_shared.get_completion_script
    )
    ours.__wrapped__ = original  # type: ignore[attr-defined]
    _completion_shared.get_completion_script = ours
    typer.completion.get_completion_script = ours  # type: ignore[attr-defined]


def script(shell: str) -> str:
    """The completion script for ``shell``: typer's template for imcli, newline-ended,
    with two repairs: bash's ``IFS=$'\\n'`` is written as such (typer's template holds a
    raw newline there), and zsh's script also works autoloaded from $fpath (typer's
    only registers itself, so the first Tab after loading completed nothing)."""
    from typer._completion_shared import get_completion_script as typers

    typers = getattr(typers, "__wrapped__", typers)  # typer's own, not use_our_scripts'
    text = typers(prog_name=PROG, complete_var=COMPLETE_VAR, shell=shell)
    if shell == "bash":
        text = text.replace("IFS=$'\n'", "IFS=$'\\n'")
    elif shell == "zsh":
        func = f"_{PROG}_completion"
        text = text.replace(
            f"\ncompdef {func} {PROG}",
            "\nif [[ $zsh_eval_context[-1] == loadautofunc ]]; then\n"
            f'  {func} "$@"  # autoloaded from $fpath: complete now\n'
            "else\n"
            f"  compdef {func} {PROG}  # sourced: register for later\n"
            "fi",
        )
    return text + "\n"


# -- typer autocompletion callbacks ------------------------------------------------------
# typer calls these with the click context; they return every candidate and typer keeps
# the ones starting with the incomplete word, as the fast path does.


def _ctx_value(ctx: Any, *names: str) -> Any:
    """The innermost value of an option given on the command line (the subcommand's
    --profile wins over the one before it)."""
    while ctx is not None:
        for name in names:
            value = (ctx.params or {}).get(name)
            if value:
                return value
        ctx = ctx.parent
    return None


def complete_platform(ctx: Any, incomplete: str) -> Candidates:
    return platform_candidates()


def complete_account(ctx: Any, incomplete: str) -> Candidates:
    return account_candidates(_ctx_value(ctx, "profile"), platform=_ctx_value(ctx, "platform"))


def complete_profile_account(ctx: Any, incomplete: str) -> Candidates:
    """``accounts remove|default NAME``: only the profile's accounts can be changed."""
    return account_candidates(_ctx_value(ctx, "profile"), with_env=False)


def complete_recipient(ctx: Any, incomplete: str) -> Candidates:
    """``push --to``, ``recipients show|remove NAME``, ``recipients add --fallback``."""
    return recipient_candidates(_ctx_value(ctx, "profile"))


def complete_accounts_to_test(ctx: Any, incomplete: str) -> Candidates:
    given = set((ctx.params or {}).get("names") or ())
    return [c for c in account_candidates(_ctx_value(ctx, "profile")) if c[0] not in given]


# -- the generator -----------------------------------------------------------------------


def write(directory: str, *, check: bool = False) -> list[str]:
    """Write (or with ``check``, compare) every script; returns the stale file names."""
    from pathlib import Path

    root = Path(directory)
    stale = []
    for shell, name in SCRIPTS.items():
        path = root / name
        text = script(shell)
        current = path.read_text("utf-8") if path.is_file() else None
        if current == text:
            continue
        stale.append(str(path))
        if not check:
            root.mkdir(parents=True, exist_ok=True)
            path.write_text(text, "utf-8")
    return stale


def _main(argv: list[str]) -> int:
    import argparse

    parser = argparse.ArgumentParser(
        prog="python -m imcli.cli.complete",
        description="Write the shell completion scripts (bash, zsh, fish) into DIR.",
    )
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--write", metavar="DIR", help="write the scripts into DIR")
    mode.add_argument("--check", metavar="DIR", help="exit 1 if DIR's scripts are stale")
    opts = parser.parse_args(argv)
    stale = write(opts.check or opts.write, check=bool(opts.check))
    for path in stale:
        print(f"{'stale' if opts.check else 'wrote'}: {path}", file=sys.stderr)
    return 1 if opts.check and stale else 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
