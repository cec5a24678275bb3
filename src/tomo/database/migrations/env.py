"""Alembic environment: runs on the connection Tomo hands over (see database/engine.py)."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context

from tomo.database.tables import metadata

#: PostgreSQL advisory lock key ("tomo") held while migrating: several Tomo instances starting together on one
#: database would otherwise all find it outdated and create the same tables. The first migrates; the others
#: wait, then read the revision it committed and have nothing left to do.
MIGRATION_LOCK_KEY = 0x746F6D6F

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("Tomo migrations run through `tomo serve` or Database.migrate(), not the alembic CLI.")
if connection.dialect.name == "postgresql":
    connection.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
