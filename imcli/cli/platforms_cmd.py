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
    output.out(render(data, output.terminal_width()))
    return 0


def render(data: list[dict[str, object]], width: int | None) -> str:
    """The matrix as plain text: a table of short cells (every column readable at 80
    columns), then one paragraph per platform with what its targets are and the API it
    uses or why it is not supported, wrapped at ``width`` (None: not wrapped)."""
    import textwrap

    headers = ["platform", "aliases", "--user", "--group", *KINDS]
    rows = []
    notes = []
    name_width = max(len(str(r["platform"])) for r in data)
    for row in data:
        kinds = row["kinds"]
        assert isinstance(kinds, dict)
        rows.append(
            [
                str(row["platform"]),
                ", ".join(row["aliases"]) or "—",  # type: ignore[arg-type]
                "yes" if row["user"] else "no",
                "yes" if row["group"] else "no",
                *(("yes" if kinds[k] else "no") for k in KINDS),
            ]
        )
        if row["supported"] and row["built"]:
            parts = []
            if row["user"]:
                parts.append(f"--user: {row['user']}")
            if row["group"]:
                parts.append(f"--group: {row['group']}")
            parts.append(f"API: {row['api']}")
            note = "; ".join(parts)
        else:
            note = str(row["reason"] or "supported by the platform; adapter not built yet")
            note = note.removeprefix(f"{row['platform']}: ")
        head = str(row["platform"]).ljust(name_width) + "  "
        if width is None:
            notes.append(head + note)
        else:
            notes.append(
                textwrap.fill(
                    note,
                    width=max(width - 1, 40),
                    initial_indent=head,
                    subsequent_indent=" " * len(head),
                    break_on_hyphens=False,
                )
            )
    center = frozenset(range(2, len(headers)))
    return output.plain_table(headers, rows, center) + "\n\n" + "\n".join(notes)


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
