"""Servers: registered SSH servers with encrypted credentials and pinned host keys.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

from tomo.database.types import UTCDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "servers",
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
    )
    op.create_index("ux_servers_name_lower", "servers", [sa.text("lower(name)")], unique=True)


def downgrade() -> None:
    op.drop_index("ux_servers_name_lower", "servers")
    op.drop_table("servers")
