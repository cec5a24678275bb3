"""Several instances on one database: instances, leases, scheduled tasks, change counters; jobs get an owner, and
at most one active job per resource is enforced by a partial unique index.

Revision ID: 0007
Revises: 0003, 0006
"""

import sqlalchemy as sa
from alembic import op

from tomo.database.types import UTCDateTime

revision = "0007"
down_revision = ("0003", "0006")
branch_labels = None
depends_on = None

ACTIVE = sa.text("status IN ('pending', 'running')")


def upgrade() -> None:
    op.create_table(
        "instances",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("pid", sa.Integer, nullable=False),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("machine", sa.String(64), nullable=False),
        sa.Column("transport", sa.String(16), nullable=False),
        sa.Column("version", sa.String(32), nullable=False),
        sa.Column("started_at", UTCDateTime, nullable=False),
        sa.Column("heartbeat_at", UTCDateTime, nullable=False),
    )
    op.create_index("ix_instances_heartbeat_at", "instances", ["heartbeat_at"])
    op.create_table(
        "leases",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("holder", sa.String(32), nullable=False),
        sa.Column("acquired_at", UTCDateTime, nullable=False),
        sa.Column("expires_at", UTCDateTime, nullable=False),
    )
    op.create_table(
        "scheduled_tasks",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("interval_s", sa.Float, nullable=False),
        sa.Column("next_run_at", UTCDateTime, nullable=False),
        sa.Column("runs", sa.Integer, nullable=False),
        sa.Column("last_started_at", UTCDateTime, nullable=True),
        sa.Column("last_duration_ms", sa.Float, nullable=True),
        sa.Column("last_outcome", sa.String(16), nullable=True),
        sa.Column("last_error", sa.Text, nullable=True),
        sa.Column("last_instance", sa.String(32), nullable=True),
    )
    op.create_table(
        "change_counters",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("version", sa.Integer, nullable=False),
    )
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("owner", sa.String(32), nullable=True))
        batch.add_column(sa.Column("cancel_requested_at", UTCDateTime, nullable=True))
    op.create_index("ix_jobs_owner", "jobs", ["owner"])
    # Jobs left active by an older Tomo have no owner; they were interrupted by the upgrade itself.
    op.execute("UPDATE jobs SET status = 'interrupted', error_code = 'JOB_INTERRUPTED', "
               "error_message = 'Tomo was upgraded while this job ran; check the affected object and retry.' "
               "WHERE status IN ('pending', 'running')")
    op.create_index("ux_jobs_active_resource", "jobs", ["resource"], unique=True,
                    sqlite_where=ACTIVE, postgresql_where=ACTIVE)


def downgrade() -> None:
    op.drop_index("ux_jobs_active_resource", "jobs")
    op.drop_index("ix_jobs_owner", "jobs")
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("cancel_requested_at")
        batch.drop_column("owner")
    op.drop_table("change_counters")
    op.drop_table("scheduled_tasks")
    op.drop_table("leases")
    op.drop_index("ix_instances_heartbeat_at", "instances")
    op.drop_table("instances")
