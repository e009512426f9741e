"""`imcli recipients list|show|add|remove`: named recipients in the profile.

Written as accounts are: ``add`` appends ``[recipients.NAME]`` and leaves every other byte
as it was; ``remove`` rewrites the profile and keeps the previous one as ``.bak``; both
under the profile's lock, the file 0600.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Optional

import typer

from imcli.cli import complete, output
from imcli.cli.accounts_cmd import ProfileOpt, guard, load_profile
from imcli.cli.app import recipients_app
from imcli.errors import ImcliError, UsageError

RecipientName = Annotated[
    str,
    typer.Argument(
        metavar="NAME",
        help="Recipient name.",
        show_default=False,
        autocompletion=complete.complete_recipient,
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON.")]


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
@guard
def list_recipients(
    ctx: typer.Context, profile: ProfileOpt = None, json_out: JsonOpt = False
) -> None:
    """List the named recipients: their targets and fallbacks."""
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
@guard
def show_recipient(
    ctx: typer.Context, name: RecipientName, profile: ProfileOpt = None, json_out: JsonOpt = False
) -> None:
    """Show one recipient: each target with its platform and the account it goes with."""
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
@guard
def add_recipient(
    ctx: typer.Context,
    name: Annotated[
        str, typer.Argument(metavar="NAME", help="Recipient name.", show_default=False)
    ],
    targets: Annotated[
        list[str],
        typer.Argument(
            metavar="TARGET...",
            help="PLATFORM[@ACCOUNT]:user|group:ID, or PLATFORM@ACCOUNT for a webhook account.",
            show_default=False,
        ),
    ],
    fallback: Annotated[
        Optional[list[str]],
        typer.Option(
            "--fallback",
            metavar="NAME",
            help="A recipient tried when a push reaches none of the targets; repeatable, in order.",
            show_default=False,
            autocompletion=complete.complete_recipient,
        ),
    ] = None,
    profile: ProfileOpt = None,
) -> None:
    """Add a recipient (appended; the rest of the file is left as it was).

    Each target is checked as a push would check it, so nothing is stored that only
    fails later."""
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
@guard
def remove_recipient(ctx: typer.Context, name: RecipientName, profile: ProfileOpt = None) -> None:
    """Remove a recipient (the previous profile is kept as profile.toml.bak)."""
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
