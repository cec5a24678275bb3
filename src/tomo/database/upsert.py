"""Insert-or-replace in one statement, on SQLite and PostgreSQL alike.

"Delete, then insert" or "update, else insert" is atomic on SQLite, where Tomo's writes take turns (see
engine.py), but not on PostgreSQL: two transactions at once both find no row and both insert, and one fails on
the key. ``INSERT ... ON CONFLICT (key) DO UPDATE`` settles that inside the database. Both dialects spell it the
same way, through their own ``insert`` construct.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection


async def upsert(conn: AsyncConnection, table: sa.Table, values: dict[str, Any], keys: Sequence[str]) -> None:
    """Insert ``values`` as a row of ``table``, or update the row with the same ``keys`` columns to them."""
    # The dialect's module is imported here: importing PostgreSQL's costs ~25 ms of every SQLite start.
    # Both dialects' Insert have the same on_conflict_do_update and excluded; mypy sees two classes.
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    else:
        from sqlalchemy.dialects.sqlite import insert as dialect_insert  # type: ignore[assignment]
    insert = dialect_insert(table)
    statement = insert.values(**values).on_conflict_do_update(
        index_elements=[table.c[key] for key in keys],
        set_={name: insert.excluded[name] for name in values if name not in keys},
    )
    await conn.execute(statement)


async def insert_ignore(conn: AsyncConnection, table: sa.Table, values: dict[str, Any], keys: Sequence[str]) -> None:
    """Insert ``values`` as a row of ``table`` unless a row with the same ``keys`` columns exists."""
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    else:
        from sqlalchemy.dialects.sqlite import insert as dialect_insert  # type: ignore[assignment]
    statement = dialect_insert(table).values(**values).on_conflict_do_nothing(
        index_elements=[table.c[key] for key in keys])
    await conn.execute(statement)
