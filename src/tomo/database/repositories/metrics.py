"""Monitoring history (see tables_monitoring.py): record samples, move aged data down the tiers, read series.

A move is one transaction: the rows that left a tier are deleted in the same transaction that merged them into
the next tier's buckets, so a crash or a second instance never counts a sample twice. Each move handles a
bounded batch; the caller repeats while a batch was full.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from tomo.database.engine import Database
from tomo.database.tables_monitoring import metric_latest, metric_rollups, metric_samples
from tomo.database.upsert import upsert
from tomo.lib.metrics.rollups import Bucket, fold, from_values, merge

BATCH = 5000


class MetricsRepository:
    """Reads and writes ``metric_samples``, ``metric_rollups`` and ``metric_latest``."""

    def __init__(self, database: Database) -> None:
        self.database = database

    # ---- samples ----------------------------------------------------------------------------------------

    async def record(self, server_id: str, checked_at: datetime, values: dict[str, float],
                     latest: dict[str, Any]) -> None:
        """Store one sample and the server's latest state (``latest``: the metric_latest columns to set)."""
        status = str(latest["status"])
        async with self.database.begin() as conn:
            await conn.execute(metric_samples.insert().values(
                server_id=server_id, taken_at=checked_at, status=status, error=latest.get("error"), values=values))
            await upsert(conn, metric_latest, {"server_id": server_id, "checked_at": checked_at, **latest},
                         ["server_id"])

    async def latest(self, server_ids: Sequence[str] | None = None) -> dict[str, dict[str, Any]]:
        """The latest state of the given servers (all when None), by server id."""
        query = sa.select(metric_latest)
        if server_ids is not None:
            query = query.where(metric_latest.c.server_id.in_(list(server_ids)))
        async with self.database.connect() as conn:
            rows = (await conn.execute(query)).all()
        return {row.server_id: dict(row._mapping) for row in rows}

    # ---- moves down the tiers ---------------------------------------------------------------------------

    async def fold_raw(self, before: datetime, tier: str, size_s: int, limit: int = BATCH) -> int:
        """Fold up to ``limit`` raw samples older than ``before`` into ``tier``; returns how many moved."""
        query = (sa.select(metric_samples.c.id, metric_samples.c.server_id, metric_samples.c.taken_at,
                           metric_samples.c["values"])
                 .where(metric_samples.c.taken_at < before).order_by(metric_samples.c.taken_at).limit(limit))
        async with self.database.begin() as conn:
            rows = (await conn.execute(query)).all()
            by_server: dict[str, list[tuple[datetime, int, Any]]] = {}
            for row in rows:
                by_server.setdefault(row.server_id, []).append((row.taken_at, 1, from_values(row.values)))
            for server_id, items in by_server.items():
                await _merge_into(conn, server_id, tier, fold(items, size_s))
            ids = [row.id for row in rows]
            for start in range(0, len(ids), 500):
                await conn.execute(metric_samples.delete().where(metric_samples.c.id.in_(ids[start:start + 500])))
        return len(rows)

    async def fold_tier(self, source: str, before: datetime, target: str, size_s: int, limit: int = BATCH) -> int:
        """Fold up to ``limit`` rows of tier ``source`` starting before ``before`` into ``target``."""
        table = metric_rollups
        query = (sa.select(table).where(table.c.tier == source, table.c.bucket_start < before)
                 .order_by(table.c.bucket_start).limit(limit))
        async with self.database.begin() as conn:
            rows = (await conn.execute(query)).all()
            by_server: dict[str, list[tuple[datetime, int, Any]]] = {}
            for row in rows:
                by_server.setdefault(row.server_id, []).append((row.bucket_start, row.samples, row.values))
            for server_id, items in by_server.items():
                await _merge_into(conn, server_id, target, fold(items, size_s))
                starts = [start for start, _, _ in items]
                await conn.execute(table.delete().where(table.c.server_id == server_id, table.c.tier == source,
                                                        table.c.bucket_start.in_(starts)))
        return len(rows)

    async def purge_tier(self, tier: str, before: datetime) -> int:
        """Delete the rows of ``tier`` that start before ``before``."""
        async with self.database.begin() as conn:
            result = await conn.execute(metric_rollups.delete().where(
                metric_rollups.c.tier == tier, metric_rollups.c.bucket_start < before))
        return int(result.rowcount or 0)

    # ---- reads ------------------------------------------------------------------------------------------

    async def history(self, server_id: str, since: datetime) -> list[tuple[datetime, int, Any]]:
        """Every raw sample and rollup row of a server from ``since`` on, as (start, samples, stats)."""
        raw = (sa.select(metric_samples.c.taken_at, metric_samples.c["values"])
               .where(metric_samples.c.server_id == server_id, metric_samples.c.taken_at >= since))
        rolled = (sa.select(metric_rollups.c.bucket_start, metric_rollups.c.samples, metric_rollups.c["values"])
                  .where(metric_rollups.c.server_id == server_id, metric_rollups.c.bucket_start >= since))
        async with self.database.connect() as conn:
            samples = (await conn.execute(raw)).all()
            buckets = (await conn.execute(rolled)).all()
        return [(row.taken_at, 1, from_values(row.values)) for row in samples] + [
            (row.bucket_start, row.samples, row.values) for row in buckets]

    async def row_counts(self, server_id: str) -> dict[str, int]:
        """Rows held for one server: ``raw`` and each tier."""
        async with self.database.connect() as conn:
            raw = (await conn.execute(sa.select(sa.func.count()).select_from(metric_samples)
                                      .where(metric_samples.c.server_id == server_id))).scalar_one()
            tiers = (await conn.execute(sa.select(metric_rollups.c.tier, sa.func.count())
                                        .where(metric_rollups.c.server_id == server_id)
                                        .group_by(metric_rollups.c.tier))).all()
        return {"raw": int(raw), **{str(tier): int(count) for tier, count in tiers}}


async def _merge_into(conn: AsyncConnection, server_id: str, tier: str, buckets: dict[datetime, Bucket]) -> None:
    """Merge ``buckets`` into the stored rows of one server's tier (rows that exist are added to)."""
    table = metric_rollups
    starts = list(buckets)
    existing = (await conn.execute(sa.select(table.c.bucket_start, table.c.samples, table.c["values"]).where(
        table.c.server_id == server_id, table.c.tier == tier, table.c.bucket_start.in_(starts)))).all()
    for row in existing:
        bucket = buckets[row.bucket_start]
        bucket.samples += row.samples
        merge(bucket.stats, row.values)
    rows = [{"server_id": server_id, "tier": tier, "bucket_start": start, "samples": bucket.samples,
             "values": bucket.stats} for start, bucket in buckets.items()]
    if rows:
        await conn.execute(_upsert_rollups(conn), rows)


def _upsert_rollups(conn: AsyncConnection) -> Any:
    """INSERT ... ON CONFLICT DO UPDATE for many rollup rows at once (executemany; see database/upsert.py)."""
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    else:
        from sqlalchemy.dialects.sqlite import insert as dialect_insert  # type: ignore[assignment]
    insert = dialect_insert(metric_rollups)
    return insert.on_conflict_do_update(
        index_elements=[metric_rollups.c.server_id, metric_rollups.c.tier, metric_rollups.c.bucket_start],
        set_={"samples": insert.excluded.samples, "values": insert.excluded["values"]},
    )
