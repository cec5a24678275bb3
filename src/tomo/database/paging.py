"""Pages of a list in SQL: LIMIT/OFFSET for the rows, and the number of matches from the same query.

The total rides on every row as a window count (``COUNT(*) OVER ()``, SQLite 3.25+ and PostgreSQL), so a
page and its total are one statement. Only a page past the end has no row to carry it; then, and only
then, a ``COUNT`` of the same query runs.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

#: The label of the window count; :func:`take_total` removes it from the rows.
TOTAL = "page_total"


def with_total(query: sa.Select[Any]) -> sa.Select[Any]:
    """``query`` with the number of rows it matches in all, on every row."""
    return query.add_columns(sa.func.count().over().label(TOTAL))


def count_of(query: sa.Select[Any]) -> sa.Select[Any]:
    """``SELECT COUNT(*)`` of the rows ``query`` matches (its order and paging dropped)."""
    return sa.select(sa.func.count()).select_from(query.order_by(None).limit(None).offset(None).subquery())


def take_total(rows: list[dict[str, Any]]) -> int | None:
    """Remove the window count from each row; the total, or None for an empty page (its total is unknown)."""
    totals = [row.pop(TOTAL) for row in rows]
    return int(totals[0]) if totals else None


async def fetch_page(
    conn: AsyncConnection, query: sa.Select[Any], limit: int, offset: int
) -> tuple[list[dict[str, Any]], int]:
    """The rows of ``query`` from ``offset`` (at most ``limit``) as dicts, and how many it matches in all."""
    result = await conn.execute(with_total(query).limit(limit).offset(offset))
    rows = [dict(row) for row in result.mappings()]
    total = take_total(rows)
    if total is None:
        total = int((await conn.execute(count_of(query))).scalar_one()) if offset else 0
    return rows, total
