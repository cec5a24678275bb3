"""Alembic environment: runs on the connection Tomo hands over (see database/engine.py)."""

from __future__ import annotations

from alembic import context

from tomo.database.tables import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("Tomo migrations run through `tomo serve` or Database.migrate(), not the alembic CLI.")
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
