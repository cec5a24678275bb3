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
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection


async def upsert(conn: AsyncConnection, table: sa.Table, values: dict[str, Any], keys: Sequence[str]) -> None:
    """Insert ``values`` as a row of ``table``, or update the row with the same ``keys`` columns to them."""
    insert = postgresql.insert(table) if conn.dialect.name == "postgresql" else sqlite.insert(table)
    statement = insert.values(**values).on_conflict_do_update(
        index_elements=[table.c[key] for key in keys],
        set_={name: insert.excluded[name] for name in values if name not in keys},
    )
    await conn.execute(statement)
