"""`imcli platforms`: the support matrix, as a table or as JSON."""

from __future__ import annotations

import json

from imcli import platforms
from imcli.cli import output
from imcli.models import KINDS


def rows() -> list[dict[str, object]]:
    return [spec.matrix_row() for spec in platforms.all_specs()]


def show(json_out: bool = False) -> int:
    data = rows()
    if json_out:
        output.out(json.dumps(data, ensure_ascii=False, indent=2))
        return 0
    import sys

    from rich.console import Console

    console = Console(
        highlight=False,
        soft_wrap=False,
        width=None if sys.stdout.isatty() else 200,
    )
    apps = [r for r in data if not r["webhook"]]
    hooks = [r for r in data if r["webhook"]]
    console.print(_table(apps, webhook=False), markup=False)
    console.print(
        "Webhook robots: the account is the destination (its url/key/token); "
        "no -u/-g, one implicit target shown as `webhook`.",
        markup=False,
    )
    console.print(_table(hooks, webhook=True), markup=False)
    return 0


def _note(row: dict[str, object]) -> str:
    if row["supported"] and row["built"]:
        return str(row["api"])
    return str(row["reason"] or "supported by the platform; adapter not built yet")


def _table(data: list[dict[str, object]], *, webhook: bool) -> object:
    from rich.table import Table

    table = Table(title=None, show_lines=False)
    table.add_column("platform", no_wrap=True)
    table.add_column("aliases", no_wrap=True)
    if webhook:
        table.add_column("posts to")
    else:
        table.add_column("--user")
        table.add_column("--group")
    for kind in KINDS:
        table.add_column(kind, justify="center", no_wrap=True)
    table.add_column("API / reason")
    for row in data:
        kinds = row["kinds"]
        assert isinstance(kinds, dict)
        targets = (
            [str(row["group"] or "—")]
            if webhook
            else [
                str(row["user"] or "—"),
                str(row["group"] or "—"),
            ]
        )
        table.add_row(
            str(row["platform"]),
            ", ".join(row["aliases"]) or "—",  # type: ignore[arg-type]
            *targets,
            *(("yes" if kinds[k] else "no") for k in KINDS),
            _note(row),
        )
    return table


def markdown_table() -> str:
    """The README's support matrix, generated from the same data (a test compares them):
    the app platforms, then the webhook robots in a section of their own."""
    data = rows()
    apps = [r for r in data if not r["webhook"]]
    hooks = [r for r in data if r["webhook"]]
    return (
        _markdown(apps, webhook=False)
        + "\n\nWebhook robots (the account is the destination: no `-u`/`-g`, one implicit "
        "target shown as `webhook`):\n\n" + _markdown(hooks, webhook=True)
    )


def _markdown(data: list[dict[str, object]], *, webhook: bool) -> str:
    targets = "posts to |" if webhook else "`--user` | `--group` |"
    head = f"| platform | aliases | {targets} " + " | ".join(KINDS) + " | API / reason |"
    sep = "|" + "---|" * ((4 if webhook else 5) + len(KINDS))
    lines = [head, sep]
    for row in data:
        kinds = row["kinds"]
        assert isinstance(kinds, dict)
        note = (
            row["api"]
            if row["supported"] and row["built"]
            else (row["reason"] or "adapter not built yet")
        )
        cells = (
            f"{row['group'] or '—'}" if webhook else f"{row['user'] or '—'} | {row['group'] or '—'}"
        )
        lines.append(
            f"| `{row['platform']}` | {', '.join(row['aliases']) or '—'} | "  # type: ignore[arg-type]
            f"{cells} | " + " | ".join("yes" if kinds[k] else "no" for k in KINDS) + f" | {note} |"
        )
    return "\n".join(lines)
