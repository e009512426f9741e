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
    from rich.table import Table

    console = Console(
        highlight=False,
        soft_wrap=False,
        width=None if sys.stdout.isatty() else 200,
    )
    table = Table(title=None, show_lines=False)
    table.add_column("platform", no_wrap=True)
    table.add_column("aliases", no_wrap=True)
    table.add_column("--user")
    table.add_column("--group")
    for kind in KINDS:
        table.add_column(kind, justify="center", no_wrap=True)
    table.add_column("API / reason")
    for row in data:
        kinds = row["kinds"]
        assert isinstance(kinds, dict)
        supported = bool(row["supported"])
        table.add_row(
            str(row["platform"]),
            ", ".join(row["aliases"]) or "—",  # type: ignore[arg-type]
            str(row["user"] or "—"),
            str(row["group"] or "—"),
            *(("yes" if kinds[k] else "no") for k in KINDS),
            str(row["api"])
            if supported and row["built"]
            else str(row["reason"] or "supported by the platform; adapter not built yet"),
        )
    console.print(table, markup=False)
    return 0


def markdown_table() -> str:
    """The README's support matrix, generated from the same data (a test compares them)."""
    head = (
        "| platform | aliases | `--user` | `--group` | " + " | ".join(KINDS) + " | API / reason |"
    )
    sep = "|" + "---|" * (5 + len(KINDS))
    lines = [head, sep]
    for row in rows():
        kinds = row["kinds"]
        assert isinstance(kinds, dict)
        note = (
            row["api"]
            if row["supported"] and row["built"]
            else (row["reason"] or "adapter not built yet")
        )
        lines.append(
            f"| `{row['platform']}` | {', '.join(row['aliases']) or '—'} | "  # type: ignore[arg-type]
            f"{row['user'] or '—'} | {row['group'] or '—'} | "
            + " | ".join("yes" if kinds[k] else "no" for k in KINDS)
            + f" | {note} |"
        )
    return "\n".join(lines)
