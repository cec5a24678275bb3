"""Take samples: one command per server per sample, parsed, turned into figures and recorded.

:class:`MetricsCollector` samples one server. :class:`CollectionRound` is the scheduler's task: every
``metrics_interval_s`` each server is due once, at a phase of its own within the interval (from a hash of its
id), so servers are sampled spread over the interval rather than all at once; at most ``CONCURRENCY`` samples run
at a time. A round returns after ``ROUND_WAIT_S`` at most: a server that does not answer keeps its sample running
(bounded by its timeout) without holding up the next round for the others, and is not started twice.
"""

from __future__ import annotations

import asyncio
import time
import zlib
from contextlib import suppress
from datetime import datetime
from typing import Any

import structlog

from tomo.database.repositories.metrics import MetricsRepository
from tomo.database.repositories.servers import ServerRepository
from tomo.database.types import utcnow
from tomo.errors import ServerNotFound, TomoError
from tomo.lib.ssh.runner import RemoteRunner
from tomo.services.monitoring.parse import parse_sample
from tomo.services.monitoring.probe import MAX_OUTPUT, sample_argv
from tomo.services.monitoring.rates import container_values, counters, server_values
from tomo.services.settings.settings import SettingsService

logger = structlog.get_logger("tomo.monitoring")

#: The longest one sample may take (the interval, if shorter).
SAMPLE_TIMEOUT_S = 20.0
#: How often the scheduler looks for due servers, and how long one round waits for its samples.
TICK_S = 5.0
ROUND_WAIT_S = 4.0
CONCURRENCY = 16


class MetricsCollector:
    """Sample a server and record the sample (a ``down`` one, with the reason, when it cannot be reached)."""

    def __init__(self, runner: RemoteRunner, repository: MetricsRepository, settings: SettingsService) -> None:
        self.runner = runner
        self.repo = repository
        self.settings = settings

    async def sample(self, server_id: str, previous: dict[str, Any] | None = None, *,
                     known: bool = False) -> dict[str, Any]:
        """Take one sample of a server (by id); returns what was recorded. ServerNotFound if it is gone.

        ``previous`` is the server's latest row when the caller read it already (``known``: even if None).
        """
        checked_at = utcnow()
        if not known:
            previous = (await self.repo.latest([server_id])).get(server_id)
        timeout = min(SAMPLE_TIMEOUT_S, float(self.settings.get("metrics_interval_s")))
        argv = sample_argv(str(self.settings.get("apps_root")))
        try:
            result = await self.runner.run(server_id, argv, timeout=timeout, max_output=MAX_OUTPUT)
        except ServerNotFound:
            raise
        except TomoError as exc:
            return await self._down(server_id, checked_at, exc.message)
        if result.truncated:
            return await self._down(server_id, checked_at, f"the sample printed more than {MAX_OUTPUT} bytes")
        reading = parse_sample(result.stdout)
        if reading.cpu_total is None or reading.uptime_s is None:
            detail = result.stderr.strip()[-200:] or f"exit status {result.exit_status}"
            return await self._down(server_id, checked_at, f"the server did not report /proc figures ({detail})")
        before = previous["counters"] if previous else None
        values = {**server_values(reading, before), "up": 1}
        latest = {"status": "up", "error": None, "taken_at": checked_at, "values": values,
                  "containers": container_values(reading, before), "counters": counters(reading)}
        await self.repo.record(server_id, checked_at, values, latest)
        return {"server_id": server_id, "checked_at": checked_at, **latest}

    async def _down(self, server_id: str, checked_at: datetime, reason: str) -> dict[str, Any]:
        latest = {"status": "down", "error": reason}
        await self.repo.record(server_id, checked_at, {"up": 0}, latest)
        logger.info("metrics_sample_down", server_id=server_id, reason=reason)
        return {"server_id": server_id, "checked_at": checked_at, **latest}


def phase_s(server_id: str, interval_s: float) -> float:
    """Where in each interval a server is sampled (stable per server)."""
    return (zlib.crc32(server_id.encode()) % 10_000) / 10_000 * interval_s


def is_due(server_id: str, last_checked: datetime | None, now: float, interval_s: float) -> bool:
    """Whether the server's sample slot has come since its last sample."""
    if last_checked is None:
        return True
    phase = phase_s(server_id, interval_s)
    return (now - phase) // interval_s > (last_checked.timestamp() - phase) // interval_s


class CollectionRound:
    """The scheduler's ``collect_metrics`` task (see the module docstring)."""

    def __init__(self, collector: MetricsCollector, servers: ServerRepository, settings: SettingsService) -> None:
        self.collector = collector
        self.servers = servers
        self.settings = settings
        self._inflight: dict[str, asyncio.Task[None]] = {}
        self._slots = asyncio.Semaphore(CONCURRENCY)

    async def run(self) -> None:
        """Start the samples that are due and wait up to ROUND_WAIT_S for them."""
        interval = float(self.settings.get("metrics_interval_s"))
        latest = await self.collector.repo.latest()
        now = time.time()
        started = []
        for server in await self.servers.list_all():
            last = latest.get(server.id)
            if server.id in self._inflight or not is_due(server.id, last["checked_at"] if last else None, now,
                                                         interval):
                continue
            started.append(self._start(server.id, last))
        if started:
            try:
                await asyncio.wait(started, timeout=ROUND_WAIT_S)
            except asyncio.CancelledError:
                await self.stop()
                raise

    def _start(self, server_id: str, previous: dict[str, Any] | None) -> asyncio.Task[None]:
        task = asyncio.create_task(self._sample(server_id, previous), name=f"tomo-metrics-{server_id}")
        self._inflight[server_id] = task
        task.add_done_callback(lambda _: self._inflight.pop(server_id, None))
        return task

    async def stop(self) -> None:
        """Cancel the samples still running."""
        tasks = list(self._inflight.values())
        for task in tasks:
            task.cancel()
        for task in tasks:
            with suppress(asyncio.CancelledError, Exception):
                await task

    async def _sample(self, server_id: str, previous: dict[str, Any] | None) -> None:
        async with self._slots:
            try:
                await self.collector.sample(server_id, previous, known=True)
            except ServerNotFound:
                pass  # deleted since the round started
            except Exception as exc:  # one server's failure must not end the others' samples
                logger.warning("metrics_sample_failed", server_id=server_id, error=type(exc).__name__)
