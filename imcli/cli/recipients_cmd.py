"""`imcli recipients list|show|add|remove`: named recipients in the profile.

Written as accounts are: ``add`` appends ``[recipients.NAME]`` and leaves every other byte
as it was; ``remove`` rewrites the profile and keeps the previous one as ``.bak``; both
under the profile's lock, the file 0600. Each command's arguments, options and help are
declared in ``cmdline.COMMANDS`` (``table_typer.from_table`` gives them to typer).
"""

from __future__ import annotations

import json
from typing import Any

import typer

from imcli.cli import output
from imcli.cli.accounts_cmd import guard, load_profile
from imcli.cli.app import recipients_app
from imcli.cli.table_typer import from_table
from imcli.errors import ImcliError, UsageError


def _rows(prof: Any, rec: Any) -> list[dict[str, Any]]:
    """Each target of ``rec`` as a push would resolve it, or the reason it cannot."""
    from imcli import core, platforms, recipients

    rows = []
    for text in rec.targets:
        row: dict[str, Any] = {"entry": text, "platform": None, "account": None,
                               "target": None, "error": None}  # fmt: skip
        try:
            r = recipients.resolve_entry(text, rec.name, prof, "text")
            row["platform"] = r.platform
            row["target"] = str(r.target) if r.target is not None else "webhook"
            account = r.account
            if account is None:
                account = core.choose_accounts(platforms.get(r.platform), prof, None)[0].name
            row["account"] = account
        except ImcliError as exc:
            prefix = f"recipient {rec.name!r}: target {text!r}: "
            row["error"] = exc.message.removeprefix(prefix)
        rows.append(row)
    return rows


@recipients_app.command("list")
@from_table("recipients", "list")
@guard
def list_recipients(ctx: typer.Context, profile: str | None, json_out: bool) -> None:
    from imcli import recipients

    prof = load_profile(ctx, profile)
    table = recipients.load_all(prof)
    if json_out:
        output.out(
            json.dumps(
                {
                    "profile": str(prof.path),
                    "recipients": [
                        {"name": r.name, "targets": r.targets, "fallback": r.fallback}
                        for r in table.values()
                    ],
                },
                ensure_ascii=False,
            )
        )
        return
    if not table:
        output.err(
            f"imcli: no recipients in {prof.path}; add one with "
            "`imcli recipients add NAME PLATFORM:user:ID …`"
        )
        return
    width = max(len(n) for n in table)
    for r in table.values():
        line = f"{r.name:<{width}}  {', '.join(r.targets)}"
        if r.fallback:
            line += f"  (fallback: {', '.join(r.fallback)})"
        output.out(line)


@recipients_app.command("show")
@from_table("recipients", "show")
@guard
def show_recipient(ctx: typer.Context, name: str, profile: str | None, json_out: bool) -> None:
    from imcli import recipients

    prof = load_profile(ctx, profile)
    table = recipients.load_all(prof)
    rec = table.get(name)
    if rec is None:
        raise UsageError(recipients.missing(name, table, prof.path))
    rows = _rows(prof, rec)
    if json_out:
        output.out(
            json.dumps(
                {"name": rec.name, "targets": rows, "fallback": rec.fallback}, ensure_ascii=False
            )
        )
    else:
        width = max(len(r["entry"]) for r in rows)
        for r in rows:
            if r["error"]:
                output.out(f"{r['entry']:<{width}}  error: {output.one_line(r['error'])}")
            else:
                output.out(f"{r['entry']:<{width}}  {r['platform']} {r['target']} ({r['account']})")
        if rec.fallback:
            output.out(f"fallback: {', '.join(rec.fallback)}")
    if any(r["error"] for r in rows):
        raise typer.Exit(2)


@recipients_app.command("add")
@from_table("recipients", "add")
@guard
def add_recipient(
    ctx: typer.Context,
    name: str,
    targets: list[str],
    fallback: list[str] | None,
    profile: str | None,
) -> None:
    from imcli import profile as profile_mod
    from imcli import recipients

    profile_mod.check_name(name, "recipient")
    prof = load_profile(ctx, profile, with_env=True)
    table = recipients.load_all(prof)
    if name in table:
        raise UsageError(f"recipient {name!r} already exists in {prof.path}; remove it first")
    for text in targets:
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            raise UsageError(f"target {text!r}: not valid UTF-8") from None
        recipients.resolve_entry(text, name, prof, "text")
    for fb in fallback or []:
        if fb == name:
            raise UsageError(f"recipient {name!r} cannot be its own fallback")
        if fb not in table:
            raise UsageError(f"--fallback {fb!r}: " + recipients.missing(fb, table, prof.path))
    entry: dict[str, Any] = {"targets": [t.strip() for t in targets]}
    if fallback:
        entry["fallback"] = list(fallback)
    profile_mod.append_table(
        prof.path, "recipients", name, entry,
        f"recipient {name!r} already exists in {prof.path}; remove it first",
    )  # fmt: skip
    output.err(f"imcli: added recipient {name!r} to {prof.path}")


@recipients_app.command("remove")
@from_table("recipients", "remove")
@guard
def remove_recipient(ctx: typer.Context, name: str, profile: str | None) -> None:
    from imcli import profile as profile_mod
    from imcli import recipients

    prof = load_profile(ctx, profile, with_env=False)
    table = recipients.load_all(prof)
    if name not in table:
        raise UsageError(recipients.missing(name, table, prof.path))
    users = [r.name for r in table.values() if name in r.fallback and r.name != name]
    if users:
        raise UsageError(
            f"recipient {name!r} is the fallback of {', '.join(map(repr, users))}; "
            "remove it from their fallback first"
        )

    def mutate(data: dict[str, Any]) -> None:
        data.get("recipients", {}).pop(name, None)

    profile_mod.rewrite(prof.path, mutate)
    output.err(f"imcli: removed recipient {name!r} from {prof.path}")
