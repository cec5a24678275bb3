"""Tables that let several Tomo processes share one database: who is alive, who leads, what runs when.

- ``instances``: one row per live process, refreshed by its heartbeat; a row whose heartbeat is older than the
  lease timeout belongs to a dead process.
- ``leases``: named leases with a holder and an expiry (the scheduler's leadership is the lease ``scheduler``).
- ``scheduled_tasks``: each periodic task's next due time and last run, so a task runs once per interval across
  all instances and a new leader carries on where the old one stopped.
- ``change_counters``: a version per kind of shared state (settings, servers, users) that every write bumps, so
  other processes notice the change with one cheap read.
"""

from __future__ import annotations

import sqlalchemy as sa

from tomo.database.tables import metadata
from tomo.database.types import UTCDateTime

instances = sa.Table(
    "instances",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("pid", sa.Integer, nullable=False),
    sa.Column("host", sa.String(255), nullable=False),
    # The kernel boot and pid namespace the process runs in: where two rows share it, their pids are comparable.
    sa.Column("machine", sa.String(64), nullable=False),
    sa.Column("transport", sa.String(16), nullable=False),
    sa.Column("version", sa.String(32), nullable=False),
    sa.Column("started_at", UTCDateTime, nullable=False),
    sa.Column("heartbeat_at", UTCDateTime, nullable=False, index=True),
)

leases = sa.Table(
    "leases",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("holder", sa.String(32), nullable=False),
    sa.Column("acquired_at", UTCDateTime, nullable=False),
    sa.Column("expires_at", UTCDateTime, nullable=False),
)

scheduled_tasks = sa.Table(
    "scheduled_tasks",
    metadata,
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

change_counters = sa.Table(
    "change_counters",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("version", sa.Integer, nullable=False),
)
