"""History: samples recorded, compaction down the tiers against brute force, the row bound, series bounds.

Runs on SQLite here; tests/integration/test_postgres_monitoring.py runs the same tests on PostgreSQL.
"""

from __future__ import annotations

import asyncio
import bisect
import random
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from tests.fakes import RecordingRunner, ok

from tomo.database.engine import Database
from tomo.database.repositories.metrics import MetricsRepository
from tomo.database.tables_monitoring import metric_rollups, metric_samples
from tomo.database.tables_servers import servers
from tomo.errors import ConnectionFailed
from tomo.lib.config import TomoConfig
from tomo.lib.metrics.rollups import BY_NAME, summary
from tomo.services.monitoring.collector import MetricsCollector, is_due, phase_s
from tomo.services.monitoring.history import MAX_POINTS, PERIOD_S, RESOLUTION_S, build_series, step_for
from tomo.services.monitoring.monitoring import compact

FIXTURES = Path(__file__).parent / "fixtures"
NOW = datetime(2026, 12, 4, 12, 0, 7, tzinfo=UTC)
#: The default ages: raw 10 min, 1m up to 1 h, 10m up to 24 h, 1h up to 7 d, 6h up to 30 d.
AGES = [600.0, 3600.0, 86400.0, 7 * 86400.0, 30 * 86400.0]
INTERVAL_S = 30


class Settings:
    def __init__(self, **values: Any) -> None:
        self.values = {"metrics_interval_s": INTERVAL_S, "apps_root": "/opt/tomo/apps", **values}

    def get(self, key: str) -> Any:
        return self.values[key]


@pytest.fixture
async def database(tomo_config: TomoConfig) -> AsyncIterator[Database]:
    database = Database(tomo_config.resolved_database_url)
    await database.migrate()
    async with database.begin() as conn:
        for server_id in ("srv1", "srv2"):
            await conn.execute(servers.insert().values(
                id=server_id, name=server_id, host="10.0.0.1", port=22, username="u", auth_type="password",
                credentials="x", status="online", created_at=NOW, updated_at=NOW))
    yield database
    await database.dispose()


def generated(days: float, seed: int = 7) -> list[tuple[datetime, dict[str, float]]]:
    """Samples every INTERVAL_S up to NOW, with some down ones (only "up": 0) and noisy figures."""
    rng = random.Random(seed)
    count = int(days * 86400 / INTERVAL_S)
    found = []
    for index in range(count):
        taken = NOW - timedelta(seconds=(count - index) * INTERVAL_S - 3)
        if rng.random() < 0.02:
            found.append((taken, {"up": 0.0}))
        else:
            found.append((taken, {"up": 1.0, "cpu_percent": round(rng.uniform(0, 100), 1),
                                  "memory_used": float(rng.randrange(10**9, 2 * 10**9)), "load_1": rng.random() * 4,
                                  "disk_used:/": float(10**10 + index)}))
    return found


async def insert_samples(database: Database, server_id: str, samples: list[tuple[datetime, dict[str, float]]]) -> None:
    rows = [{"server_id": server_id, "taken_at": taken, "status": "up" if values["up"] else "down", "error": None,
             "values": values} for taken, values in samples]
    async with database.begin() as conn:
        for start in range(0, len(rows), 10_000):
            await conn.execute(metric_samples.insert(), rows[start:start + 10_000])


def inside(samples: list[tuple[datetime, dict[str, float]]], start: datetime,
           size_s: int) -> list[tuple[datetime, dict[str, float]]]:
    low = bisect.bisect_left(samples, start, key=lambda sample: sample[0])
    high = bisect.bisect_left(samples, start + timedelta(seconds=size_s), key=lambda sample: sample[0])
    return samples[low:high]


def brute_force(samples: list[tuple[datetime, dict[str, float]]], start: datetime,
                size_s: int) -> dict[str, tuple[float, float, float]]:
    """min, avg, max of each metric over the samples in [start, start + size) (``samples`` sorted by time)."""
    columns: dict[str, list[float]] = {}
    for _, values in inside(samples, start, size_s):
        for name, value in values.items():
            columns.setdefault(name, []).append(value)
    return {name: (min(column), sum(column) / len(column), max(column)) for name, column in columns.items()}


def assert_same(found: dict[str, tuple[float, float, float]], expected: dict[str, tuple[float, float, float]]) -> None:
    assert found.keys() == expected.keys()
    for name, figures in expected.items():
        assert found[name] == pytest.approx(figures, rel=1e-9), name


async def test_thirty_days_compact_to_under_500_rows_with_exact_buckets_and_bounded_series(
        database: Database) -> None:
    samples = generated(30)
    await insert_samples(database, "srv1", samples)
    repo = MetricsRepository(database)
    await compact(repo, AGES, NOW)
    counts = await repo.row_counts("srv1")
    assert sum(counts.values()) <= 500, counts
    assert counts["raw"] == 20 and counts["6h"] <= 93, counts
    async with database.connect() as conn:
        rows = (await conn.execute(sa.select(metric_rollups).where(metric_rollups.c.server_id == "srv1"))).all()
    for row in rows:
        size = BY_NAME[row.tier].size_s
        assert_same(summary(row.values), brute_force(samples, row.bucket_start, size))
        assert row.samples == len(inside(samples, row.bucket_start, size))
    for period in PERIOD_S:
        name, step = step_for(period, None)
        series = build_series(await repo.history("srv1", NOW - timedelta(seconds=PERIOD_S[period])), step)
        assert PERIOD_S[period] // RESOLUTION_S[name] * 0.9 <= len(series["time"]) <= MAX_POINTS, period
        assert all(len(figures["avg"]) == len(series["time"]) for figures in series["series"].values())


async def test_compaction_every_few_minutes_gives_the_same_buckets(database: Database) -> None:
    samples = generated(0.25)  # 6 hours, compacted every 7 minutes as they arrive
    repo = MetricsRepository(database)
    cursor = 0
    for minute in range(7, 6 * 60 + 8, 7):
        moment = samples[0][0] + timedelta(minutes=minute)
        batch = [sample for sample in samples[cursor:] if sample[0] < moment]
        cursor += len(batch)
        await insert_samples(database, "srv1", batch)
        await compact(repo, AGES, moment)
    rows = await repo.history("srv1", samples[0][0] - timedelta(hours=1))
    assert sum(samples for _, samples, _ in rows) == len(samples)  # every sample counted exactly once
    series = build_series(rows, 600)
    for index, label in enumerate(series["time"]):
        start = datetime.strptime(label, "%Y-%m-%dT%H:%MZ").replace(tzinfo=UTC)
        expected = brute_force(samples, start, 600)
        assert series["series"]["cpu_percent"]["max"][index] == pytest.approx(expected["cpu_percent"][2], abs=0.05)
        assert series["series"]["up"]["avg"][index] == pytest.approx(expected["up"][1], abs=0.001)


def test_a_resolution_too_fine_for_the_period_is_refused() -> None:
    from tomo.errors import ValidationError

    with pytest.raises(ValidationError, match="use 10m or 1h or 6h"):
        step_for("24h", "1m")


async def test_samples_of_a_server_are_computed_by_any_instance(database: Database) -> None:
    outputs = iter([(FIXTURES / "testbed_v1_1.txt").read_text(), (FIXTURES / "testbed_v1_2.txt").read_text()])
    runner = RecordingRunner(lambda argv: ok(next(outputs)))
    first = MetricsCollector(runner, MetricsRepository(database), Settings())  # type: ignore[arg-type]
    second = MetricsCollector(runner, MetricsRepository(database), Settings())  # type: ignore[arg-type]
    assert "cpu_percent" not in (await first.sample("srv1"))["values"]
    sample = await second.sample("srv1")
    assert sample["status"] == "up" and 0 <= sample["values"]["cpu_percent"] <= 100
    assert sample["containers"][0]["cpu_percent"] > 40
    assert runner.argvs()[0][:2] == ["sh", "-c"] and runner.argvs()[0][4] == "/opt/tomo/apps"


async def test_an_unreachable_server_records_a_down_sample_with_the_reason(database: Database) -> None:
    def refuse(argv: list[str]) -> Any:
        raise ConnectionFailed("Cannot connect to 10.0.0.1:22: connection refused")

    repo = MetricsRepository(database)
    sample = await MetricsCollector(RecordingRunner(refuse), repo, Settings()).sample("srv2")  # type: ignore[arg-type]
    assert sample["status"] == "down" and "connection refused" in sample["error"]
    latest = (await repo.latest(["srv2"]))["srv2"]
    assert latest["status"] == "down" and latest["taken_at"] is None
    history = await repo.history("srv2", NOW - timedelta(days=3650))
    assert [stats for _, _, stats in history] == [{"up": [0, 0, 0, 1]}]


def test_each_server_is_due_once_per_interval_at_its_own_phase() -> None:
    start = 1_800_000_000.0
    for server_id in ("a", "b", "c"):
        taken = []
        last: datetime | None = None
        for tick in range(0, 300, 5):
            if is_due(server_id, last, start + tick, 30):
                last = datetime.fromtimestamp(start + tick, UTC)
                taken.append(tick)
        assert len(taken) == 10 + 1 or len(taken) == 10, (server_id, taken)
        assert all(25 <= b - a <= 35 for a, b in zip(taken[1:], taken[2:], strict=False)), taken
    assert len({int(phase_s(server_id, 30)) for server_id in "abcdefgh"}) > 2  # spread over the interval


class ServerList:
    def __init__(self, *ids: str) -> None:
        self.ids = ids

    async def list_all(self) -> list[Any]:
        return [type("Server", (), {"id": server_id})() for server_id in self.ids]


async def test_a_round_does_not_wait_for_a_server_that_hangs(database: Database) -> None:
    from tomo.services.monitoring import collector as module

    sample_text = (FIXTURES / "testbed_v1_1.txt").read_text()
    hang = asyncio.Event()
    entered: list[str] = []

    class Runner(RecordingRunner):
        async def run(self, server_id: str, argv: Any, **kwargs: Any) -> Any:
            entered.append(server_id)
            if server_id == "srv2":
                await hang.wait()
            return await super().run(server_id, argv, **kwargs)

    repo = MetricsRepository(database)
    collector = MetricsCollector(Runner(lambda argv: ok(sample_text)), repo, Settings())  # type: ignore[arg-type]
    round_ = module.CollectionRound(collector, ServerList("srv1", "srv2"), Settings())  # type: ignore[arg-type]
    started = time.perf_counter()
    await round_.run()
    assert time.perf_counter() - started < module.ROUND_WAIT_S + 1
    assert set(await repo.latest()) == {"srv1"} and set(round_._inflight) == {"srv2"}
    await round_.run()  # srv2, still in flight, is not started twice (srv1 may be due again: its slot can pass
    assert entered[:2] == ["srv1", "srv2"] and entered.count("srv2") == 1  # during the 4 s the first round waited)
    hang.set()
    await asyncio.sleep(0.1)
    assert set(await repo.latest()) == {"srv1", "srv2"} and not round_._inflight
