"""Monitoring history: raw metric samples, rollups per tier, each server's latest sample and counters.

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

from tomo.database.types import UTCDateTime

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def _server() -> sa.ForeignKey:
    return sa.ForeignKey("servers.id", ondelete="CASCADE")


def upgrade() -> None:
    op.create_table(
        "metric_samples",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("server_id", sa.String(32), _server(), nullable=False),
        sa.Column("taken_at", UTCDateTime, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("values", sa.JSON, nullable=False),
    )
    op.create_index("ix_metric_samples_server_taken", "metric_samples", ["server_id", "taken_at"])
    op.create_index("ix_metric_samples_taken_at", "metric_samples", ["taken_at"])
    op.create_table(
        "metric_rollups",
        sa.Column("server_id", sa.String(32), _server(), primary_key=True),
        sa.Column("tier", sa.String(8), primary_key=True),
        sa.Column("bucket_start", UTCDateTime, primary_key=True),
        sa.Column("samples", sa.Integer, nullable=False),
        sa.Column("values", sa.JSON, nullable=False),
    )
    op.create_index("ix_metric_rollups_tier_bucket", "metric_rollups", ["tier", "bucket_start"])
    op.create_table(
        "metric_latest",
        sa.Column("server_id", sa.String(32), _server(), primary_key=True),
        sa.Column("checked_at", UTCDateTime, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("taken_at", UTCDateTime, nullable=True),
        sa.Column("values", sa.JSON, nullable=True),
        sa.Column("containers", sa.JSON, nullable=True),
        sa.Column("counters", sa.JSON, nullable=True),
    )


def downgrade() -> None:
    op.drop_table("metric_latest")
    op.drop_index("ix_metric_rollups_tier_bucket", "metric_rollups")
    op.drop_table("metric_rollups")
    op.drop_index("ix_metric_samples_taken_at", "metric_samples")
    op.drop_index("ix_metric_samples_server_taken", "metric_samples")
    op.drop_table("metric_samples")
