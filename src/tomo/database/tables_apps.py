"""Installations table: one row per app deployed as a Compose project on a server.

``secrets`` holds the values of password/secret inputs as one Fernet token (encrypted JSON); every other
column is plain. ``(server_id, name)`` is unique: one Compose project name per server. ``trail`` is what the job
working on the installation changed on the server so far (see services/apps/recovery.py).
"""

from __future__ import annotations

import sqlalchemy as sa

from tomo.database.tables import metadata
from tomo.database.types import UTCDateTime

installations = sa.Table(
    "installations",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("server_id", sa.String(32), sa.ForeignKey("servers.id", ondelete="CASCADE"), nullable=False, index=True),
    sa.Column("name", sa.String(64), nullable=False),
    sa.Column("app_id", sa.String(200), nullable=False, index=True),
    sa.Column("app_title", sa.String(200), nullable=False),
    sa.Column("app_version", sa.String(128), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("status_note", sa.Text, nullable=True),
    sa.Column("inputs", sa.JSON, nullable=False),
    sa.Column("secrets", sa.Text, nullable=True),
    sa.Column("ports", sa.JSON, nullable=False),
    sa.Column("services", sa.JSON, nullable=False),
    sa.Column("urls", sa.JSON, nullable=False),
    sa.Column("project_dir", sa.Text, nullable=False),
    sa.Column("history", sa.JSON, nullable=False),
    sa.Column("last_job_id", sa.String(32), nullable=True),
    sa.Column("created_by", sa.String(128), nullable=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.Column("status_checked_at", UTCDateTime, nullable=True),
    sa.Column("trail", sa.JSON, nullable=True),
    sa.UniqueConstraint("server_id", "name", name="ux_installations_server_name"),
)
