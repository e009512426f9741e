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
    width = output.terminal_width()
    apps = [r for r in data if not r["webhook"]]
    hooks = [r for r in data if r["webhook"]]
    heading = (
        "Webhook robots: the account is the destination (its url, key or token); "
        "no -u/-g, one implicit target shown as `webhook`."
    )
    if width is not None:
        import textwrap

        heading = textwrap.fill(heading, width=max(width - 1, 40))
    output.out(render(apps, width) + "\n\n" + heading + "\n\n" + render(hooks, width, webhook=True))
    return 0


def render(data: list[dict[str, object]], width: int | None, *, webhook: bool = False) -> str:
    """The matrix as plain text: a table of short cells (every column readable at 80
    columns), then one paragraph per platform with what its targets are and the API it
    uses or why it is not supported, wrapped at ``width`` (None: not wrapped). Webhook
    robots have no --user/--group columns: each posts to its own chat."""
    import textwrap

    targets = [] if webhook else ["--user", "--group"]
    headers = ["platform", "aliases", *targets, *KINDS]
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
                *([] if webhook else ["yes" if row["user"] else "no"]),
                *([] if webhook else ["yes" if row["group"] else "no"]),
                *(("yes" if kinds[k] else "no") for k in KINDS),
            ]
        )
        if row["supported"] and row["built"]:
            parts = []
            if row["user"]:
                parts.append(f"--user: {row['user']}")
            if row["group"]:
                parts.append(f"{'posts to' if webhook else '--group'}: {row['group']}")
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
