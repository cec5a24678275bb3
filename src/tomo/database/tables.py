"""Table definitions (SQLAlchemy Core). The schema itself is built by Alembic migrations.

Later features add their tables here and in a new migration under ``migrations/versions``.
"""

from __future__ import annotations

import sqlalchemy as sa

from tomo.database.types import UTCDateTime

metadata = sa.MetaData()

jobs = sa.Table(
    "jobs",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("kind", sa.String(64), nullable=False),
    sa.Column("status", sa.String(16), nullable=False, index=True),
    sa.Column("title", sa.Text, nullable=False),
    sa.Column("server_id", sa.String(32), nullable=True, index=True),
    sa.Column("resource", sa.String(128), nullable=True, index=True),
    sa.Column("params", sa.JSON, nullable=False),
    sa.Column("steps", sa.JSON, nullable=False),
    sa.Column("progress", sa.Float, nullable=False),
    sa.Column("message", sa.Text, nullable=True),
    sa.Column("result", sa.JSON, nullable=True),
    sa.Column("error_code", sa.String(64), nullable=True),
    sa.Column("error_message", sa.Text, nullable=True),
    sa.Column("created_by", sa.String(128), nullable=True),
    sa.Column("created_at", UTCDateTime, nullable=False, index=True),
    sa.Column("started_at", UTCDateTime, nullable=True),
    sa.Column("finished_at", UTCDateTime, nullable=True),
    sa.Column("owner", sa.String(32), nullable=True, index=True),
    sa.Column("cancel_requested_at", UTCDateTime, nullable=True),
    # One active job per resource, whichever process started it (a second start fails on this index). The
    # migration gives it the same WHERE on PostgreSQL; naming postgresql_where here would import PostgreSQL's
    # dialect at every start (~25 ms) to check the argument.
    sa.Index("ux_jobs_active_resource", "resource", unique=True,
             sqlite_where=sa.text("status IN ('pending', 'running')")),
)

log_entries = sa.Table(
    "log_entries",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("timestamp", UTCDateTime, nullable=False, index=True),
    sa.Column("level", sa.String(16), nullable=False, index=True),
    sa.Column("source", sa.String(64), nullable=False, index=True),
    sa.Column("message", sa.Text, nullable=False),
    sa.Column("tags", sa.JSON, nullable=False),
    sa.Column("metadata", sa.JSON, nullable=False),
)

audit_log = sa.Table(
    "audit_log",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("timestamp", UTCDateTime, nullable=False, index=True),
    sa.Column("user_id", sa.String(32), nullable=True),
    sa.Column("username", sa.String(128), nullable=True, index=True),
    sa.Column("transport", sa.String(16), nullable=True),
    sa.Column("tool", sa.String(128), nullable=False, index=True),
    sa.Column("arguments", sa.JSON, nullable=False),
    sa.Column("outcome", sa.String(16), nullable=False, index=True),
    sa.Column("error_code", sa.String(64), nullable=True),
    sa.Column("detail", sa.Text, nullable=True),
    sa.Column("duration_ms", sa.Float, nullable=False),
)

settings = sa.Table(
    "settings",
    metadata,
    sa.Column("key", sa.String(128), primary_key=True),
    sa.Column("value", sa.JSON, nullable=True),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.Column("updated_by", sa.String(128), nullable=True),
)
