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
        metavar="NAME",
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
            elif key in ("proxy", "base_url"):  # a password in the URL's user-info
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
    text = _redact.redact(text)  # masked before it is cut
    return text if len(text) <= 60 else text[:57] + "…"


# -- add ---------------------------------------------------------------------------------


@accounts_app.command("add")
@_guard
def add_account(
    ctx: typer.Context,
    name: Annotated[
        Optional[str],
        typer.Argument(
            metavar="[NAME]", help="Account name (asked for in a terminal).", show_default=False
        ),
    ] = None,
    platform: Annotated[
        Optional[str],
        typer.Option(
            "--platform",
            "-p",
            metavar="NAME",
            help="Platform name or alias (asked for in a terminal).",
            show_default=False,
            autocompletion=complete.complete_platform,
        ),
    ] = None,
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
    """Add an account to the profile (appended; the rest of the file is left as it was).

    With no NAME or --platform in a terminal, it asks for them and then for each of the
    platform's fields (secrets hidden)."""
    from imcli import profile as profile_mod

    walkthrough = (name is None or platform is None) and not set_ and _interactive()
    prof = None
    if walkthrough:
        prof = _load(ctx, profile, with_env=False)  # read once: its names are asked about
        name, platform = _ask_name_and_platform(prof, name, platform)
    elif name is None or platform is None:
        raise UsageError(
            "give the account's NAME and --platform, e.g. "
            "`imcli accounts add ops -p telegram --set token=-`, "
            "or run `imcli accounts add` in a terminal to be asked"
        )
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
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise UsageError(f"--set {key}: the value is not valid UTF-8") from None
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
        try:
            value = sys.stdin.buffer.readline().decode("utf-8").rstrip("\r\n")
        except UnicodeDecodeError:
            raise UsageError(f"--set {from_stdin[0]}=-: standard input is not UTF-8") from None
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
        if _interactive() and not from_stdin:
            table[f.name] = _ask_field(f)
        else:
            raise UsageError(
                f"{spec.name} accounts need {f.name}: give --set {f.name}=…"
                + (f" (or --set {f.name}=- to read it from stdin)" if f.secret else "")
            )
    if walkthrough:  # the optional fields too; Enter skips one
        for f in spec.all_fields():
            if f.name not in table and f.name != "default" and f.ask:
                value = _ask_field(f, optional=True)
                if value is not None:
                    table[f.name] = value
    if prof is None:
        prof = _load(ctx, profile, with_env=False)
    path = prof.path
    if prof.account(name) is not None:
        raise UsageError(f"account {name!r} already exists in {path}; remove it first")
    if walkthrough and not default and prof.for_platform(spec.name):
        default = typer.confirm(f"Make {name!r} the default {spec.name} account?", default=False)
    if default:
        table["default"] = True
    # which account stops being the default is decided under the profile's lock
    previous = profile_mod.append_account(path, name, table)
    if previous is not None:
        output.err(f"imcli: {previous!r} is no longer the default {spec.name} account")
    output.err(f"imcli: added {spec.name} account {name!r} to {path}")
    if walkthrough:
        output.err(f"imcli: check it with `imcli accounts test {name}`")


def _interactive() -> bool:
    try:
        return sys.stdin.isatty()
    except (AttributeError, ValueError):  # closed or replaced stdin
        return False


def _ask_name_and_platform(prof: Any, name: str | None, platform: str | None) -> tuple[str, str]:
    """The walk-through's first questions: which platform, then the account's name."""
    from imcli import profile as profile_mod

    if platform is None:
        choices = ", ".join(s.name for s in platforms.all_specs() if s.supported)

        def platform_of(value: str) -> str:
            spec = platforms.find(value.strip())
            if spec is None or not spec.supported:
                raise typer.BadParameter(f"pick one of {choices}")
            return spec.name

        platform = typer.prompt(f"Platform ({choices})", value_proc=platform_of)
    spec = platforms.get(platform)
    if name is None:
        taken = {a.name for a in prof.accounts}
        suggestion = next(
            n for n in (spec.name, *(f"{spec.name}-{i}" for i in range(2, 1000)))
            if n not in taken
        )  # fmt: skip

        def name_of(value: str) -> str:
            value = value.strip()
            try:
                profile_mod.check_name(value)
            except UsageError as exc:
                raise typer.BadParameter(exc.message) from None
            if value in taken:
                raise typer.BadParameter(f"there is already an account named {value!r}")
            return value

        name = typer.prompt("Account name", default=suggestion, value_proc=name_of)
    return name, spec.name


def _ask_field(f: Any, *, optional: bool = False) -> Any:
    """Ask for one field (hidden when secret) until its value can be read as its type;
    for an optional field, None when the answer is empty."""
    from imcli import profile as profile_mod

    label = f.name + (f" - {f.help}" if f.help else "")
    label += " [optional, Enter skips]" if optional else " [required]"

    def read(value: str) -> Any:
        value = value.strip()
        if optional and not value:
            return None
        if not value:
            raise typer.BadParameter(f"{f.name} is required")
        if f.secret:
            _redact.add_secret(value)
        try:
            return profile_mod.coerce_field(value, f.type, f.name)
        except UsageError as exc:
            raise typer.BadParameter(exc.message) from None

    return typer.prompt(
        label,
        hide_input=f.secret,
        default="",  # so that an empty answer reaches read(), which says what is missing
        show_default=False,
        value_proc=read,
    )


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
    known = ", ".join(a.name for a in prof.accounts)
    if known:
        return (
            f"no account named {name!r} in {prof.path} (accounts: {known}; `imcli accounts list`)"
        )
    return (
        f"no account named {name!r}: {prof.path} has none; add one with "
        f"`imcli accounts add {name} --platform PLATFORM`"
    )


# -- test --------------------------------------------------------------------------------


@accounts_app.command("test")
@_guard
def test_accounts(
    ctx: typer.Context,
    names: Annotated[
        Optional[list[str]],
        typer.Argument(
            metavar="[NAME]...",
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
