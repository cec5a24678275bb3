"""Apps: installations of marketplace apps on servers (secret inputs encrypted).

Revision ID: 0005
Revises: 0002, 0004
"""

import sqlalchemy as sa
from alembic import op

from tomo.database.types import UTCDateTime

revision = "0005"
down_revision = ("0002", "0004")
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "installations",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("server_id", sa.String(32), sa.ForeignKey("servers.id", ondelete="CASCADE"), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("app_id", sa.String(200), nullable=False),
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
        sa.UniqueConstraint("server_id", "name", name="ux_installations_server_name"),
    )
    op.create_index("ix_installations_server_id", "installations", ["server_id"])
    op.create_index("ix_installations_app_id", "installations", ["app_id"])


def downgrade() -> None:
    op.drop_index("ix_installations_app_id", "installations")
    op.drop_index("ix_installations_server_id", "installations")
    op.drop_table("installations")
