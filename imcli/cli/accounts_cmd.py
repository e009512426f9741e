"""`imcli accounts list|add|remove|default|set|show|test`.

Each command's arguments, options and help are declared in ``cmdline.COMMANDS``
(``table_typer.from_table`` gives them to typer); a function here takes them by name."""

from __future__ import annotations

import json
import sys
from typing import Any

import typer

from imcli import _redact, platforms
from imcli.cli import output
from imcli.cli.app import accounts_app, profile_of
from imcli.cli.table_typer import from_table
from imcli.errors import ConfigError, ImcliError, UsageError


def guard(fn: Any) -> Any:
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


def load_profile(ctx: typer.Context, profile: str | None, *, with_env: bool = True) -> Any:
    from imcli import profile as profile_mod

    prof = profile_mod.load(profile_of(ctx, profile), with_env=with_env)
    for w in prof.warnings:
        output.err(f"imcli: {w}")
    return prof


# -- list --------------------------------------------------------------------------------


@accounts_app.command("list")
@from_table("accounts", "list")
@guard
def list_accounts(ctx: typer.Context, profile: str | None, json_out: bool) -> None:
    prof = load_profile(ctx, profile)
    used = _used_accounts(prof)
    rows = []
    for acc in prof.accounts:
        rows.append(
            {
                "name": acc.name,
                "platform": acc.platform,
                "default": acc.is_default,
                # the account a push to its platform uses first (rule: the default,
                # else the first in profile order)
                "used": acc.name in used,
                "source": acc.source,
                "fields": _masked_fields(acc),
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
    table = []
    implicit = False
    for row in rows:
        shown = ", ".join(f"{k}={_short(v)}" for k, v in row["fields"].items())
        mark = "yes" if row["default"] else ""
        if row["used"] and not row["default"]:
            mark, implicit = "(first)", True
        table.append([row["name"], row["platform"], mark, row["source"], shown])
    text = output.plain_table(["name", "platform", "default", "source", "fields"], table)
    if implicit:
        text += "\n\n(first): no account of its platform is marked default, so a push uses this one"
    # printed as it is: a value is never read as markup
    output.out(text)  # redacted; a closed or full stdout is not an error


def _used_accounts(prof: Any) -> set[str]:
    """The account each platform's push would try first."""
    used: set[str] = set()
    for plat in dict.fromkeys(a.platform for a in prof.accounts):
        accounts = prof.for_platform(plat)
        defaults = [a for a in accounts if a.is_default]
        used.add((defaults or accounts)[0].name)
    return used


def _masked_fields(acc: Any) -> dict[str, Any]:
    """An account's fields as `accounts list`/`show` print them: secrets masked."""
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
    return fields


def _short(v: Any) -> str:
    text = json.dumps(v, ensure_ascii=False) if not isinstance(v, str) else v
    text = _redact.redact(text)  # masked before it is cut
    return text if len(text) <= 60 else text[:57] + "…"


# -- add ---------------------------------------------------------------------------------


@accounts_app.command("add")
@from_table("accounts", "add")
@guard
def add_account(
    ctx: typer.Context,
    name: str | None,
    platform: str | None,
    set_: list[str] | None,
    default: bool,
    profile: str | None,
) -> None:
    from imcli import profile as profile_mod

    walkthrough = (name is None or platform is None) and not set_ and _interactive()
    prof = None
    if walkthrough:
        prof = load_profile(ctx, profile, with_env=False)  # read once: its names are asked about
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
    from_stdin = _parse_pairs(spec, set_ or [], table, "--set")
    _fill_required(spec, table, may_ask=not from_stdin)
    if walkthrough:  # the optional fields too; Enter skips one
        _ask_optional(spec, table)
    # what a push would refuse later is refused now
    profile_mod.check_table(spec, table, f"account {name!r}", name)
    if prof is None:
        prof = load_profile(ctx, profile, with_env=False)
    _append(prof, spec, name, table, default=default, walkthrough=walkthrough)
    if walkthrough:
        if typer.confirm(f"Test it now (imcli accounts test {name})?", default=True):
            raise typer.Exit(_test(ctx, [name], profile, None, 0, False))
        output.err(f"imcli: check it with `imcli accounts test {name}`")


def _fill_required(spec: Any, table: dict[str, Any], *, may_ask: bool) -> None:
    """Every required field, and one of a platform's alternatives (``one_of``), not given
    with --set: asked for in a terminal (unless stdin gave a value), else refused."""
    for f in spec.all_fields():
        if not f.required or f.name in table:
            continue
        if _interactive() and may_ask:
            table[f.name] = _ask_field(f)
        else:
            raise UsageError(
                f"{spec.name} accounts need {f.name}: give --set {f.name}=…"
                + (f" (or --set {f.name}=- to read it from stdin)" if f.secret else "")
            )
    if spec.one_of and not any(k in table for k in spec.one_of):
        if _interactive() and may_ask:
            first_field = spec.field(spec.one_of[0])
            assert first_field is not None
            table[first_field.name] = _ask_field(first_field)
        else:
            first, *rest = spec.one_of
            raise UsageError(
                f"{spec.name} accounts need {first}"
                + "".join(f" or {r}" for r in rest)
                + f": give --set {first}=… (or --set {first}=- to read it from stdin)"
            )


def _ask_optional(spec: Any, table: dict[str, Any]) -> None:
    """The walk-through's questions for the optional fields, each after the field it
    needs (and not when that one was left empty); a refused answer is asked again."""
    from imcli import profile as profile_mod

    for f in _ask_order(spec):
        if f.name in table or f.name == "default" or not f.ask:
            continue
        if f.needs and not table.get(f.needs):
            continue  # e.g. local_server means nothing without a base_url
        while True:
            value = _ask_field(f, optional=True)
            try:
                profile_mod.check_table(spec, {f.name: value}, f.name)
            except UsageError as exc:
                output.err(f"Error: {exc.message}")
                continue
            break
        if value is not None:
            table[f.name] = value


def _append(
    prof: Any, spec: Any, name: str, table: dict[str, Any], *, default: bool, walkthrough: bool
) -> None:
    """Append the account to the profile's file (the walk-through asks whether it is the
    platform's default); says which account stopped being the default."""
    from imcli import profile as profile_mod

    path = prof.path
    if prof.account(name) is not None:
        raise UsageError(f"account {name!r} already exists in {path}; remove it first")
    if walkthrough and not default:
        others = prof.for_platform(spec.name)
        default = typer.confirm(
            f"Make {name!r} the default {spec.name} account?"
            + ("" if others else " (a push uses it anyway while it is the only one)"),
            default=not any(a.is_default for a in others),
        )
    if default:
        table["default"] = True
    # which account stops being the default is decided under the profile's lock
    previous = profile_mod.append_account(path, name, table)
    if previous is not None:
        output.err(f"imcli: {previous!r} is no longer the default {spec.name} account")
    output.err(f"imcli: added {spec.name} account {name!r} to {path}")


def _ask_order(spec: Any) -> list[Any]:
    """The walk-through's order: every field after the field it needs (base_url before
    Telegram's local_server, whose question mentions it)."""
    fields = list(spec.all_fields())
    ordered: list[Any] = []
    for f in fields:
        if f.needs:
            continue
        ordered.append(f)
        ordered.extend(g for g in fields if g.needs == f.name)
    return ordered + [f for f in fields if f not in ordered]


def _parse_pairs(spec: Any, pairs: list[str], table: dict[str, Any], flag: str) -> list[str]:
    """Read KEY=VALUE pairs into ``table`` as the fields' types (``key=${VAR}`` kept as
    the reference, surrounding whitespace stripped); the one key whose value is ``-``
    (read from stdin) is returned and set too."""
    from imcli import profile as profile_mod

    from_stdin = []
    for pair in pairs:
        key, sep, value = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            raise UsageError(f"{flag} {pair!r}: write it as key=value")
        f = spec.field(key)
        if f is None or key == "default":
            names = [x.name for x in spec.all_fields() if x.name != "default"]
            hint = platforms.did_you_mean(key, names)
            extra = " (use `imcli accounts default NAME`)" if key == "default" else ""
            raise UsageError(
                f"{spec.name} accounts have no field {key!r}{hint}{extra} (fields: {', '.join(names)})"
            )
        if value == "-":
            from_stdin.append(key)
            continue
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise UsageError(f"{flag} {key}: the value is not valid UTF-8") from None
        if f.secret:
            _redact.add_secret(value)
        value = value.strip()
        table[key] = (
            value if "${" in value else profile_mod.coerce_field(value, f.type, f"{flag} {key}")
        )
    if len(from_stdin) > 1:
        raise UsageError(f"only one {flag} key=- may read standard input")
    if from_stdin:
        try:
            value = sys.stdin.buffer.readline().decode("utf-8").strip()
        except UnicodeDecodeError:
            raise UsageError(f"{flag} {from_stdin[0]}=-: standard input is not UTF-8") from None
        if not value:
            raise UsageError(f"{flag} {from_stdin[0]}=-: standard input was empty")
        f = spec.field(from_stdin[0])
        assert f is not None
        if f.secret:
            _redact.add_secret(value)
        table[from_stdin[0]] = profile_mod.coerce_field(value, f.type, f"{flag} {from_stdin[0]}")
    return from_stdin


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
            if spec is not None and not spec.supported:
                raise typer.BadParameter(f"{spec.unsupported}; pick one of {choices}")
            if spec is None:
                hint = platforms.did_you_mean(value.strip().lower(), platforms.names_and_aliases())
                raise typer.BadParameter(f"unknown platform{hint}; pick one of {choices}")
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
    while True:  # asked again, with the reason (click would hide it for a hidden prompt)
        value = str(typer.prompt(label, hide_input=f.secret, default="", show_default=False))
        value = value.strip()
        if optional and not value:
            return None
        if not value:
            output.err(f"Error: {f.name} is required")
            continue
        if f.secret:
            _redact.add_secret(value)
        try:
            return profile_mod.coerce_field(value, f.type, f.name)
        except UsageError as exc:
            output.err(f"Error: {exc.message}")


# -- remove / default ------------------------------------------------------------------


@accounts_app.command("remove")
@from_table("accounts", "remove")
@guard
def remove_account(ctx: typer.Context, name: str, profile: str | None) -> None:
    from imcli import profile as profile_mod

    prof = load_profile(ctx, profile, with_env=False)
    if prof.account(name) is None:
        raise UsageError(_missing(name, prof))

    def mutate(data: dict[str, Any]) -> None:
        data.get("accounts", {}).pop(name, None)

    profile_mod.rewrite(prof.path, mutate)
    output.err(f"imcli: removed account {name!r} from {prof.path}")


@accounts_app.command("default")
@from_table("accounts", "default")
@guard
def default_account(ctx: typer.Context, name: str, profile: str | None) -> None:
    from imcli import profile as profile_mod

    prof = load_profile(ctx, profile, with_env=False)
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
    from imcli import profile as profile_mod

    env = next((a for a in profile_mod.load(prof.path).accounts if a.name == name), None)
    if env is not None and env.source == "env":
        return (
            f"{name!r} comes from the environment, not the profile: remove or change it by "
            f"unsetting or setting its IMCLI_{env.platform.upper()}_… variables"
        )
    known = ", ".join(a.name for a in prof.accounts)
    if known:
        return (
            f"no account named {name!r} in {prof.path} (accounts: {known}; `imcli accounts list`)"
        )
    return (
        f"no account named {name!r}: {prof.path} has none; add one with "
        f"`imcli accounts add {name} --platform PLATFORM`"
    )


# -- set / show --------------------------------------------------------------------------


@accounts_app.command("set")
@from_table("accounts", "set")
@guard
def set_fields(ctx: typer.Context, name: str, pairs: list[str], profile: str | None) -> None:
    from imcli import profile as profile_mod

    prof = load_profile(ctx, profile, with_env=False)
    acc = prof.account(name)
    if acc is None:
        raise UsageError(_missing(name, prof))
    spec = platforms.get(acc.platform)
    removed = []
    given = []
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if sep and key.strip() and not value.strip() and spec.field(key.strip()) is not None:
            f = spec.field(key.strip())
            assert f is not None
            if f.required:
                raise UsageError(f"{spec.name} accounts need {f.name}; give it a value")
            removed.append(f.name)
        else:
            given.append(pair)
    changes: dict[str, Any] = {}
    _parse_pairs(spec, given, changes, "set")
    merged = {k: v for k, v in {**acc.raw, **changes}.items() if k not in removed}
    profile_mod.check_table(spec, merged, f"account {name!r}", name)

    def mutate(data: dict[str, Any]) -> None:
        table = data.get("accounts", {}).get(name)
        if not isinstance(table, dict):
            raise UsageError(_missing(name, prof))
        table.update(changes)
        for key in removed:
            table.pop(key, None)

    profile_mod.rewrite(prof.path, mutate)
    what = ", ".join([*changes, *(f"{k} (removed)" for k in removed)]) or "nothing"
    output.err(f"imcli: account {name!r}: changed {what} in {prof.path} (previous kept as .bak)")


@accounts_app.command("show")
@from_table("accounts", "show")
@guard
def show_account(ctx: typer.Context, name: str, profile: str | None, json_out: bool) -> None:
    prof = load_profile(ctx, profile)
    acc = prof.account(name)
    if acc is None:
        raise UsageError(_missing(name, prof))
    fields = _masked_fields(acc)
    used = acc.name in _used_accounts(prof)
    if json_out:
        row = {"name": acc.name, "platform": acc.platform, "default": acc.is_default,
               "used": used, "source": acc.source, "fields": fields}  # fmt: skip
        output.out(json.dumps(row, ensure_ascii=False))
        return
    import tomli_w

    where = (
        f"# from the environment (IMCLI_{acc.platform.upper()}_… variables)"
        if acc.source == "env"
        else f"# in {prof.path}"
    )
    body: dict[str, Any] = {"platform": acc.platform, **fields}
    if acc.is_default:
        body["default"] = True
    text = tomli_w.dumps({"accounts": {acc.name: body}}).rstrip("\n")
    if used and not acc.is_default:
        text += "\n# no account of its platform is marked default: a push uses this one first"
    output.out(f"{where}\n{text}")  # redacted; a closed or full stdout is not an error


# -- test --------------------------------------------------------------------------------


@accounts_app.command("test")
@from_table("accounts", "test")
@guard
def test_accounts(
    ctx: typer.Context,
    names: list[str] | None,
    profile: str | None,
    timeout: int | None,
    verbose: int,
    json_out: bool,
) -> None:
    raise typer.Exit(_test(ctx, names, profile, timeout, verbose, json_out))


def _test(
    ctx: typer.Context,
    names: list[str] | None,
    profile: str | None,
    timeout: int | None,
    verbose: int,
    json_out: bool,
) -> int:
    prof = load_profile(ctx, profile)
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
        check_accounts(
            accounts, prof, timeout_ms=timeout or 15_000, verbose=log, log_bodies=verbose >= 2
        )
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
    return 0 if all(r["online"] for r in results) else 1
