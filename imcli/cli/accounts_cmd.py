"""`imcli accounts list|add|remove|default|test`."""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any, Optional

import typer

from imcli import _redact, platforms
from imcli.cli import complete, output
from imcli.cli.app import accounts_app, profile_of
from imcli.errors import ConfigError, ImcliError, UsageError

ProfileOpt = Annotated[
    Optional[str],
    typer.Option("--profile", metavar="PATH", help="Profile file.", show_default=False),
]

ProfileAccountName = Annotated[
    str,
    typer.Argument(
        help="Account name.",
        show_default=False,
        autocompletion=complete.complete_profile_account,
    ),
]


def _guard(fn: Any) -> Any:
    """Print ImcliError as one line with its exit status."""
    import functools

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except ImcliError as exc:
            output.error(exc.message)
            raise typer.Exit(exc.exit_code) from None

    return wrapper


def _load(ctx: typer.Context, profile: str | None, *, with_env: bool = True) -> Any:
    from imcli import profile as profile_mod

    prof = profile_mod.load(profile_of(ctx, profile), with_env=with_env)
    for w in prof.warnings:
        output.err(f"imcli: {w}")
    return prof


# -- list --------------------------------------------------------------------------------


@accounts_app.command("list")
@_guard
def list_accounts(
    ctx: typer.Context,
    profile: ProfileOpt = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List accounts (secrets masked), the profile's first, then the environment's."""
    prof = _load(ctx, profile)
    rows = []
    for acc in prof.accounts:
        spec = platforms.get(acc.platform)
        fields: dict[str, Any] = {}
        for key, val in acc.raw.items():
            if key in ("platform", "default"):
                continue
            f = spec.field(key)
            if f is not None and f.secret:
                fields[key] = _redact.mask(val)
            elif key == "proxy":
                fields[key] = _redact.mask_url_password(val)
            else:
                fields[key] = val
        rows.append(
            {
                "name": acc.name,
                "platform": acc.platform,
                "default": acc.is_default,
                "source": acc.source,
                "fields": fields,
            }
        )
    if json_out:
        output.out(json.dumps({"profile": str(prof.path), "accounts": rows}, ensure_ascii=False))
        return
    if not rows:
        output.err(
            f"imcli: no accounts in {prof.path}; add one with "
            "`imcli accounts add NAME --platform PLATFORM`"
        )
        return
    from rich.console import Console
    from rich.table import Table

    console = Console(highlight=False, width=None if sys.stdout.isatty() else 200)
    table = Table()
    for col in ("name", "platform", "default", "source", "fields"):
        table.add_column(col)
    for row in rows:
        shown = ", ".join(f"{k}={_short(v)}" for k, v in row["fields"].items())
        table.add_row(
            row["name"], row["platform"], "yes" if row["default"] else "", row["source"], shown
        )
    # rich would read [brackets] in a value as markup: print it literally
    with console.capture() as cap:
        console.print(table, markup=False)
    sys.stdout.write(_redact.redact(cap.get()))


def _short(v: Any) -> str:
    text = json.dumps(v, ensure_ascii=False) if not isinstance(v, str) else v
    return text if len(text) <= 60 else text[:57] + "…"


# -- add ---------------------------------------------------------------------------------


@accounts_app.command("add")
@_guard
def add_account(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Account name.", show_default=False)],
    platform: Annotated[
        str,
        typer.Option(
            "--platform",
            "-p",
            metavar="NAME",
            help="Platform name or alias.",
            show_default=False,
            autocompletion=complete.complete_platform,
        ),
    ],
    set_: Annotated[
        Optional[list[str]],
        typer.Option(
            "--set",
            metavar="KEY=VALUE",
            help="key=value; repeatable. key=- reads the value from stdin; key=${VAR} stores the reference.",
            show_default=False,
        ),
    ] = None,
    default: Annotated[
        bool, typer.Option("--default", help="Make it the platform's default.")
    ] = False,
    profile: ProfileOpt = None,
) -> None:
    """Add an account to the profile (appended; the rest of the file is left as it was)."""
    from imcli import profile as profile_mod

    profile_mod.check_name(name)
    spec = platforms.get(platform)
    if not spec.supported:
        raise UsageError(spec.unsupported or f"{spec.name} is not supported")
    table: dict[str, Any] = {"platform": spec.name}
    from_stdin = []
    for pair in set_ or []:
        key, sep, value = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            raise UsageError(f"--set {pair!r}: write it as key=value")
        f = spec.field(key)
        if f is None or key == "default":
            known = ", ".join(x.name for x in spec.all_fields() if x.name != "default")
            raise UsageError(f"{spec.name} accounts have no field {key!r} (fields: {known})")
        if value == "-":
            from_stdin.append(key)
            continue
        table[key] = (
            value
            if value.startswith("${")
            else profile_mod.coerce_field(value, f.type, f"--set {key}")
        )
        if f.secret:
            _redact.add_secret(value)
    if len(from_stdin) > 1:
        raise UsageError("only one --set key=- may read standard input")
    if from_stdin:
        value = sys.stdin.readline().rstrip("\r\n")
        if not value:
            raise UsageError(f"--set {from_stdin[0]}=-: standard input was empty")
        f = spec.field(from_stdin[0])
        assert f is not None
        if f.secret:
            _redact.add_secret(value)
        table[from_stdin[0]] = profile_mod.coerce_field(value, f.type, f"--set {from_stdin[0]}")
    for f in spec.all_fields():
        if not f.required or f.name in table:
            continue
        if sys.stdin.isatty() and not from_stdin:
            raw = typer.prompt(
                f"{f.name}" + (f" ({f.help})" if f.help else ""), hide_input=f.secret
            )
            if f.secret:
                _redact.add_secret(raw)
            table[f.name] = profile_mod.coerce_field(raw, f.type, f.name)
        else:
            raise UsageError(
                f"{spec.name} accounts need {f.name}: give --set {f.name}=…"
                + (f" (or --set {f.name}=- to read it from stdin)" if f.secret else "")
            )
    prof = _load(ctx, profile, with_env=False)
    path = prof.path
    if prof.account(name) is not None:
        raise UsageError(f"account {name!r} already exists in {path}; remove it first")
    other_default = next((a for a in prof.for_platform(spec.name) if a.is_default), None)
    if default:
        table["default"] = True
    if default and other_default is not None:
        if not profile_mod.append_account(path, name, table, clear_default_of=other_default.name):

            def mutate(data: dict[str, Any]) -> None:
                accounts = data.setdefault("accounts", {})
                for acc in accounts.values():
                    if (
                        isinstance(acc, dict)
                        and platforms.find(str(acc.get("platform", ""))) is spec
                    ):
                        acc.pop("default", None)
                accounts[name] = table

            profile_mod.rewrite(path, mutate)  # the line was not found as written: rewrite
        output.err(f"imcli: {other_default.name!r} is no longer the default {spec.name} account")
    else:
        profile_mod.append_account(path, name, table)
    output.err(f"imcli: added {spec.name} account {name!r} to {path}")


# -- remove / default ------------------------------------------------------------------


@accounts_app.command("remove")
@_guard
def remove_account(
    ctx: typer.Context,
    name: ProfileAccountName,
    profile: ProfileOpt = None,
) -> None:
    """Remove an account (the previous profile is kept as profile.toml.bak)."""
    from imcli import profile as profile_mod

    prof = _load(ctx, profile, with_env=False)
    if prof.account(name) is None:
        raise UsageError(_missing(name, prof))

    def mutate(data: dict[str, Any]) -> None:
        data.get("accounts", {}).pop(name, None)

    profile_mod.rewrite(prof.path, mutate)
    output.err(f"imcli: removed account {name!r} from {prof.path}")


@accounts_app.command("default")
@_guard
def default_account(
    ctx: typer.Context,
    name: ProfileAccountName,
    profile: ProfileOpt = None,
) -> None:
    """Make an account its platform's default."""
    from imcli import profile as profile_mod

    prof = _load(ctx, profile, with_env=False)
    acc = prof.account(name)
    if acc is None:
        raise UsageError(_missing(name, prof))

    def mutate(data: dict[str, Any]) -> None:
        for other_name, table in data.get("accounts", {}).items():
            if not isinstance(table, dict):
                continue
            if platforms.find(str(table.get("platform", ""))) is platforms.get(acc.platform):
                if other_name == name:
                    table["default"] = True
                else:
                    table.pop("default", None)

    profile_mod.rewrite(prof.path, mutate)
    output.err(f"imcli: {name!r} is now the default {acc.platform} account")


def _missing(name: str, prof: Any) -> str:
    known = ", ".join(a.name for a in prof.accounts) or "none"
    return f"no account named {name!r} in {prof.path} (accounts: {known})"


# -- test --------------------------------------------------------------------------------


@accounts_app.command("test")
@_guard
def test_accounts(
    ctx: typer.Context,
    names: Annotated[
        Optional[list[str]],
        typer.Argument(
            help="Accounts to test (default: all).",
            show_default=False,
            autocompletion=complete.complete_accounts_to_test,
        ),
    ] = None,
    profile: ProfileOpt = None,
    timeout: Annotated[
        Optional[int],
        typer.Option("--timeout", metavar="MS", help="Time budget in ms.", show_default=False),
    ] = None,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Log every HTTP request.")
    ] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Call each account's identity endpoint; print online/offline (exit 1 if any is offline)."""
    prof = _load(ctx, profile)
    if names:
        accounts = []
        for n in names:
            acc = prof.account(n)
            if acc is None:
                raise ConfigError(_missing(n, prof))
            accounts.append(acc)
    else:
        accounts = list(prof.accounts)
    if not accounts:
        raise ConfigError(
            f"no accounts in {prof.path}; add one with `imcli accounts add NAME --platform PLATFORM`"
        )
    from imcli.cli.runner import run_interruptibly
    from imcli.core import check_accounts

    log = (lambda line: output.err(line)) if verbose else None
    results = run_interruptibly(
        check_accounts(accounts, prof, timeout_ms=timeout or 15_000, verbose=log)
    )
    if json_out:
        output.out(json.dumps(results, ensure_ascii=False))
    else:
        width = max(len(r["name"]) for r in results)
        for r in results:
            state = "online" if r["online"] else "offline"
            output.out(
                f"{r['name']:<{width}}  {r['platform']:<8}  {state:<7}  {r['detail']}".rstrip()
            )
    raise typer.Exit(0 if all(r["online"] for r in results) else 1)
