"""Monitoring history: raw samples for a short window, min/max/sum/count rollups per tier, each server's latest.

- ``metric_samples``: one row per sample (``values`` is ``{metric: number}``; a ``down`` sample has only
  ``{"up": 0}`` and its reason), kept for ``metrics_raw_retention_minutes``.
- ``metric_rollups``: one row per server, tier (``1m``, ``10m``, ``1h``, ``6h``) and bucket; ``values`` is
  ``{metric: [min, max, sum, count]}``, which two rows of one bucket merge into exactly. Each tier holds the ages
  between the previous tier's retention and its own, so 30 days of one server stay under 500 rows.
- ``metric_latest``: each server's last attempt and last good sample, with the counters the next sample's rates
  are computed from (so any instance can take it) and the containers it saw.
"""

from __future__ import annotations

import sqlalchemy as sa

from tomo.database.tables import metadata
from tomo.database.types import UTCDateTime


def _server() -> sa.ForeignKey:
    return sa.ForeignKey("servers.id", ondelete="CASCADE")


metric_samples = sa.Table(
    "metric_samples",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("server_id", sa.String(32), _server(), nullable=False),
    sa.Column("taken_at", UTCDateTime, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("error", sa.Text, nullable=True),
    sa.Column("values", sa.JSON, nullable=False),
    sa.Index("ix_metric_samples_server_taken", "server_id", "taken_at"),
    sa.Index("ix_metric_samples_taken_at", "taken_at"),
)

metric_rollups = sa.Table(
    "metric_rollups",
    metadata,
    sa.Column("server_id", sa.String(32), _server(), primary_key=True),
    sa.Column("tier", sa.String(8), primary_key=True),
    sa.Column("bucket_start", UTCDateTime, primary_key=True),
    sa.Column("samples", sa.Integer, nullable=False),
    sa.Column("values", sa.JSON, nullable=False),
    sa.Index("ix_metric_rollups_tier_bucket", "tier", "bucket_start"),
)

metric_latest = sa.Table(
    "metric_latest",
    metadata,
    sa.Column("server_id", sa.String(32), _server(), primary_key=True),
    sa.Column("checked_at", UTCDateTime, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("error", sa.Text, nullable=True),
    sa.Column("taken_at", UTCDateTime, nullable=True),
    sa.Column("values", sa.JSON, nullable=True),
    sa.Column("containers", sa.JSON, nullable=True),
    sa.Column("counters", sa.JSON, nullable=True),
)
