"""A tool's envelope ``{success, message, data?, error?}`` shown to a person with Rich.

Lists of records become tables (the first columns that fit; ``--json`` has every field), other objects a
key/value panel, errors a red line with the code and the message on stderr. Paging fields (total, offset, ...)
become a table caption.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console, RenderableType

#: Fields a list tool adds around its records; shown as the table's caption.
PAGING = ("total", "limit", "offset", "has_more", "next_offset")
#: Most columns a table shows; a record with more fields says so in the caption.
MAX_COLUMNS = 5
#: Fields too long or too technical for a table cell.
NOT_IN_TABLES = frozenset({"icon", "description", "screenshots", "steps", "job", "config", "compose", "env"})
CELL_LIMIT = 60
#: The columns of a job's steps under a job tool's answer (get_job shows every field).
STEP_FIELDS = ("name", "status", "duration_ms", "detail")


def render(envelope: Mapping[str, Any], out: Console, err: Console) -> None:
    """Print ``envelope``: the message and data on ``out``, or the error in red on ``err``."""
    from rich.markup import escape

    data = envelope.get("data")
    if not envelope.get("success"):
        err.print(f"[bold red]Error ({escape(str(envelope.get('error')))}):[/] [red]"
                  f"{escape(str(envelope.get('message', '')))}[/]")
        if data:
            err.print(renderable(data, "Details"))
        return
    out.print(escape(str(envelope.get("message", ""))))
    if data not in (None, {}, []) and not _empty_page(data):
        out.print(renderable(data))


def renderable(data: Any, title: str | None = None) -> RenderableType:
    """A table for a list of records, a panel for an object, the plain text of anything else."""
    from rich.console import Group
    from rich.text import Text

    if isinstance(data, list):
        return records_table(data, title, "")
    if not isinstance(data, dict):
        return Text(cell(data, limit=None))
    lists = {key: value for key, value in data.items() if _is_records(value)}
    rest = {key: value for key, value in data.items() if key not in lists}
    if lists and set(rest) <= set(PAGING):  # a page of a list tool; an empty one is said by the message
        caption = paging_caption(rest)
        return Group(*(records_table(rows, key, caption) for key, rows in lists.items() if rows))
    job = rest.pop("job", None) if _is_job(rest.get("job")) else None  # a job tool's answer: its steps suffice
    parts: list[RenderableType] = [key_value_panel(rest, title)] if rest else []
    parts.extend(records_table(rows, key, "") for key, rows in lists.items() if rows)
    if job is not None:
        steps = [{key: step.get(key) for key in STEP_FIELDS} for step in job["steps"]]
        parts.append(records_table(steps, f"{job.get('title', 'job')}: {job.get('status', '')}", ""))
    return Group(*parts)


def _is_job(value: Any) -> bool:
    return isinstance(value, dict) and _is_records(value.get("steps")) and bool(value.get("steps"))


def records_table(rows: list[Any], title: str | None, caption: str) -> RenderableType:
    """A table of ``rows`` (dicts), or one line per item when they are plain values."""
    from rich.table import Table
    from rich.text import Text

    if not rows:
        return Text(f"(no {title or 'items'})", style="dim")
    if not all(isinstance(row, dict) for row in rows):
        return Text("\n".join(f"- {cell(row)}" for row in rows))
    fields = list(dict.fromkeys(key for row in rows for key in row))
    columns = [key for key in fields if key not in NOT_IN_TABLES][:MAX_COLUMNS]
    if len(columns) < len(fields):
        caption = " · ".join(filter(None, [caption, f"{len(fields) - len(columns)} more field(s) with --json"]))
    table = Table(title=title, caption=caption or None, title_justify="left", caption_justify="left")
    for key in columns:
        if key == "id" or key.endswith("_id"):  # the value a next command needs: shown whole
            widest = max(len(cell(row.get(key))) for row in rows)
            table.add_column(key, no_wrap=True, min_width=min(max(widest, len(key)), 40))
        else:
            table.add_column(key, overflow="ellipsis")
    for row in rows:
        table.add_row(*(cell(row.get(key)) for key in columns))
    return table


def key_value_panel(values: Mapping[str, Any], title: str | None) -> RenderableType:
    """The fields of one object in a panel, one per line."""
    from rich.panel import Panel

    return Panel(key_value_grid(values, depth=0), title=title, title_align="left", expand=False)


def key_value_grid(values: Mapping[str, Any], depth: int) -> RenderableType:
    """Key/value lines; nested objects indented below their key (3 levels deep), a record per line in lists."""
    from rich.table import Table

    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column(overflow="fold")
    for key, value in values.items():
        if depth < 3 and isinstance(value, dict) and value:
            grid.add_row(str(key), key_value_grid(value, depth + 1))
        elif _is_records(value) and value:
            grid.add_row(str(key), "\n".join(cell(record, limit=None) for record in value))
        else:
            grid.add_row(str(key), cell(value, limit=None))
    return grid


def cell(value: Any, limit: int | None = CELL_LIMIT) -> str:
    """One value as text: '-' for nothing, yes/no, lists of plain values joined, JSON for the rest."""
    if value is None:
        text = "-"
    elif isinstance(value, bool):
        text = "yes" if value else "no"
    elif isinstance(value, list) and all(not isinstance(item, dict | list) for item in value):
        text = ", ".join(str(item) for item in value) or "-"
    elif isinstance(value, dict | list):
        text = json.dumps(value, separators=(", ", ": "), default=str)
    else:
        text = str(value)
    return text if limit is None or len(text) <= limit else text[: limit - 1] + "…"


def paging_caption(paging: Mapping[str, Any]) -> str:
    """'3 of 12 · next: offset=3' from a list tool's paging fields."""
    parts = []
    if "total" in paging:
        parts.append(f"total {paging['total']}")
    if paging.get("has_more") and paging.get("next_offset") is not None:
        parts.append(f"more with offset={paging['next_offset']}")
    return " · ".join(parts)


def _is_records(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(item, dict) for item in value)


def _empty_page(data: Any) -> bool:
    """A list tool's page without a single record (its message says so)."""
    if not isinstance(data, dict):
        return False
    lists = [value for value in data.values() if _is_records(value)]
    return bool(lists) and not any(lists) and set(data) - set(PAGING) == {
        key for key, value in data.items() if _is_records(value)}
