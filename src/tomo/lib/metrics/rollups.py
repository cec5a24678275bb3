"""Rollup arithmetic: buckets of ``{metric: [min, max, sum, count]}`` that merge exactly (pure functions).

A raw sample is a bucket of one; two buckets of the same span merge into the bucket of their union (min of
mins, max of maxes, sums and counts added), so folding samples into 1-minute buckets, those into 10-minute
ones and so on gives every coarse bucket the same min, average and max as a computation over the raw samples.
Buckets start at multiples of their size since the Unix epoch (UTC).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

Stats = dict[str, list[float]]  # metric -> [min, max, sum, count]


@dataclass(frozen=True)
class Tier:
    """A rollup tier: its name, bucket size and the setting that says how old its data may get."""

    name: str
    size_s: int
    retention_setting: str
    retention_unit_s: int


#: Finest first. Data older than a tier's retention moves to the next tier; the last one's is deleted.
TIERS = (
    Tier("1m", 60, "metrics_1m_retention_hours", 3600),
    Tier("10m", 600, "metrics_10m_retention_hours", 3600),
    Tier("1h", 3600, "metrics_1h_retention_days", 86400),
    Tier("6h", 21600, "metrics_6h_retention_days", 86400),
)
RAW_RETENTION_SETTING = "metrics_raw_retention_minutes"
BY_NAME = {tier.name: tier for tier in TIERS}


def floor_time(moment: datetime, size_s: int) -> datetime:
    """The start of the ``size_s`` bucket holding ``moment``."""
    seconds = int(moment.timestamp())
    return datetime.fromtimestamp(seconds - seconds % size_s, UTC)


def from_values(values: Mapping[str, float]) -> Stats:
    """One sample as a bucket of one."""
    return {name: [value, value, value, 1] for name, value in values.items()}


def merge(into: Stats, other: Mapping[str, list[float]]) -> Stats:
    """Add ``other`` to ``into`` (in place) and return it."""
    for name, (low, high, total, count) in other.items():
        mine = into.get(name)
        if mine is None:
            into[name] = [low, high, total, count]
        else:
            mine[0], mine[1] = min(mine[0], low), max(mine[1], high)
            mine[2] += total
            mine[3] += count
    return into


@dataclass
class Bucket:
    """One bucket being built: how many samples (up or down) and the merged figures."""

    samples: int
    stats: Stats


def fold(rows: Iterable[tuple[datetime, int, Mapping[str, list[float]]]], size_s: int) -> dict[datetime, Bucket]:
    """(start, samples, stats) rows -> buckets of ``size_s`` seconds, by start."""
    buckets: dict[datetime, Bucket] = {}
    for start, samples, stats in rows:
        key = floor_time(start, size_s)
        bucket = buckets.get(key)
        if bucket is None:
            buckets[key] = Bucket(samples, merge({}, stats))
        else:
            bucket.samples += samples
            merge(bucket.stats, stats)
    return buckets


def summary(stats: Mapping[str, list[float]]) -> dict[str, tuple[float, float, float]]:
    """metric -> (min, avg, max)."""
    return {name: (low, total / count, high) for name, (low, high, total, count) in stats.items() if count}


def cutoffs(now: datetime, ages_s: list[float]) -> list[datetime]:
    """For each tier boundary, the time before which data leaves it, aligned to the next tier's bucket (so a
    coarse bucket is always built from all of its finer rows at once); ages are made non-decreasing."""
    found: list[datetime] = []
    oldest = 0.0
    sizes = [tier.size_s for tier in TIERS] + [TIERS[-1].size_s]
    for index, age in enumerate(ages_s):
        oldest = max(oldest, age)
        found.append(floor_time(now - timedelta(seconds=oldest), sizes[index]))
    return found
