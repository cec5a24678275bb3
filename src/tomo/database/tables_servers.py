"""Servers table: one row per registered server.

``credentials`` holds the password / private key / passphrase as one Fernet token (encrypted JSON);
nothing else in the row is secret. Names are unique regardless of case (index on ``lower(name)``).
"""

from __future__ import annotations

import sqlalchemy as sa

from tomo.database.tables import metadata
from tomo.database.types import UTCDateTime

servers = sa.Table(
    "servers",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("name", sa.String(64), nullable=False),
    sa.Column("host", sa.String(255), nullable=False),
    sa.Column("port", sa.Integer, nullable=False),
    sa.Column("username", sa.String(64), nullable=False),
    sa.Column("auth_type", sa.String(16), nullable=False),
    sa.Column("key_type", sa.String(64), nullable=True),
    sa.Column("credentials", sa.Text, nullable=False),
    sa.Column("host_key_fingerprint", sa.String(128), nullable=True),
    sa.Column("host_key_pinned_at", UTCDateTime, nullable=True),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("last_seen", UTCDateTime, nullable=True),
    sa.Column("last_error", sa.Text, nullable=True),
    sa.Column("system_info", sa.JSON, nullable=True),
    sa.Column("created_by", sa.String(128), nullable=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.Index("ux_servers_name_lower", sa.func.lower(sa.column("name")), unique=True),
)
