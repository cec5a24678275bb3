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


def _dialect_insert(conn: AsyncConnection, table: sa.Table) -> Any:
    """The dialect's own INSERT construct (the one with ON CONFLICT) for ``table``.

    The dialect's module is imported here: importing PostgreSQL's costs ~25 ms of every SQLite start. Both
    dialects' Insert have the same on_conflict_do_update, on_conflict_do_nothing and excluded.
    """
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as postgresql_insert

        return postgresql_insert(table)
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert(table)


async def upsert(conn: AsyncConnection, table: sa.Table, values: dict[str, Any], keys: Sequence[str]) -> None:
    """Insert ``values`` as a row of ``table``, or update the row with the same ``keys`` columns to them."""
    insert = _dialect_insert(conn, table)
    statement = insert.values(**values).on_conflict_do_update(
        index_elements=[table.c[key] for key in keys],
        set_={name: insert.excluded[name] for name in values if name not in keys},
    )
    await conn.execute(statement)


async def insert_ignore(conn: AsyncConnection, table: sa.Table, values: dict[str, Any], keys: Sequence[str]) -> None:
    """Insert ``values`` as a row of ``table`` unless a row with the same ``keys`` columns exists."""
    statement = _dialect_insert(conn, table).values(**values).on_conflict_do_nothing(
        index_elements=[table.c[key] for key in keys])
    await conn.execute(statement)
