"""What the monitoring tools and the scheduler call: samples now, compaction, and reads of the history."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from tomo.database.repositories.installations import InstallationRepository
from tomo.database.repositories.metrics import MetricsRepository
from tomo.database.types import utcnow
from tomo.errors import InstallationNotFound, ServerNotFound, ValidationError
from tomo.lib.metrics.rollups import RAW_RETENTION_SETTING, TIERS, cutoffs, floor_time
from tomo.services.monitoring.collector import CONCURRENCY, TICK_S, CollectionRound, MetricsCollector
from tomo.services.monitoring.history import PERIOD_S, build_series, step_for
from tomo.services.servers.servers import ServerService
from tomo.services.settings.settings import SettingsService

if TYPE_CHECKING:
    from tomo.database.engine import Database
    from tomo.services.instances.scheduler import SchedulerService

#: How often aged samples move down the tiers.
COMPACT_INTERVAL_S = 60.0
#: Headline figures of a sample, shown by collect_metrics and the latest sample.
HEADLINE = ("cpu_percent", "cpu_count", "memory_used", "memory_total", "swap_used", "swap_total", "load_1",
            "load_5", "load_15", "uptime_s", "disk_read_bps", "disk_write_bps", "net_rx_bps", "net_tx_bps",
            "temperature_c", "containers_running")  # fmt: skip


class MonitoringService:
    """Samples, compaction and history of every registered server."""

    def __init__(self, collector: MetricsCollector, repository: MetricsRepository, servers: ServerService,
                 installations: InstallationRepository, settings: SettingsService) -> None:
        self.collector = collector
        self.repo = repository
        self.installations = installations
        self.servers = servers
        self.settings = settings
        self.round = CollectionRound(collector, servers.repo, settings)

    def register_tasks(self, scheduler: SchedulerService) -> None:
        """The periodic sampling and compaction, run by the scheduler's leader."""
        scheduler.register("collect_metrics", TICK_S, self.round.run, timeout_s=60)
        scheduler.register("compact_metrics", COMPACT_INTERVAL_S, self.compact, timeout_s=600)

    async def collect(self, server_id: str | None = None) -> list[dict[str, Any]]:
        """Sample one server (id or name) or every server now, concurrently; returns each one's sample."""
        if server_id is not None:
            ids = [(await self.servers.get(server_id)).id]
        else:
            ids = [server.id for server in await self.servers.repo.list_all()]
        slots = asyncio.Semaphore(CONCURRENCY)
        latest = await self.repo.latest(ids)

        async def one(key: str) -> dict[str, Any] | None:
            async with slots:
                try:
                    return await self.collector.sample(key, latest.get(key), known=True)
                except ServerNotFound:
                    return None  # deleted meanwhile

        samples = await asyncio.gather(*(one(key) for key in ids))
        return [view_latest(sample) for sample in samples if sample is not None]

    async def compact(self, now: datetime | None = None) -> dict[str, int]:
        """Move aged data one tier down and delete what outlived the last tier (the scheduler's task)."""
        ages = [float(self.settings.get(RAW_RETENTION_SETTING)) * 60] + [
            float(self.settings.get(tier.retention_setting)) * tier.retention_unit_s for tier in TIERS]
        return await compact(self.repo, ages, now or utcnow())

    async def server_metrics(self, server_id: str, period: str, resolution: str | None) -> dict[str, Any]:
        """The latest sample and the period's series of one server (id or name)."""
        server = await self.servers.get(server_id)
        name, step = step_for(period, resolution)
        since = floor_time(utcnow() - timedelta(seconds=PERIOD_S[period]), step)
        latest = (await self.repo.latest([server.id])).get(server.id)
        rows = await self.repo.history(server.id, since)
        return {"server_id": server.id, "server_name": server.name, "period": period, "resolution": name,
                "latest": view_latest(latest) if latest else None, **build_series(rows, step)}

    async def container_metrics(self, server_id: str, installation_id: str | None) -> dict[str, Any]:
        """Each container's figures from the server's latest sample (one installed app's when asked)."""
        server = await self.servers.get(server_id)
        latest = (await self.repo.latest([server.id])).get(server.id)
        containers = list((latest or {}).get("containers") or [])
        if installation_id is not None:
            project = await self._project(server.id, installation_id)
            containers = [item for item in containers if item.get("project") == project]
        return {"server_id": server.id, "taken_at": _iso(latest.get("taken_at") if latest else None),
                "status": latest["status"] if latest else None, "containers": containers}

    async def _project(self, server_id: str, installation_id: str) -> str:
        record = await self.installations.get(installation_id)
        if record is None:
            raise InstallationNotFound(f"No installation with id '{installation_id}'; list_installed_apps shows "
                                       "the installed apps and their ids.")
        if record.server_id != server_id:
            raise ValidationError(f"Installation '{installation_id}' is on another server ({record.server_id}).")
        return record.name

    async def headlines(self, server_ids: list[str]) -> dict[str, dict[str, Any]]:
        """The latest sample's headline figures per server (for server listings)."""
        return {key: view_latest(value) for key, value in (await self.repo.latest(server_ids)).items()}


def view_latest(latest: dict[str, Any]) -> dict[str, Any]:
    """A latest-sample row as a compact view: status, times, headline figures, disks."""
    values: dict[str, float] = latest.get("values") or {}
    disks = sorted({key.partition(":")[2] for key in values if key.startswith("disk_total:")})
    view: dict[str, Any] = {"server_id": latest["server_id"], "status": latest["status"],
                            "checked_at": _iso(latest.get("checked_at")), "taken_at": _iso(latest.get("taken_at"))}
    if latest.get("error"):
        view["error"] = latest["error"]
    view.update({key: values[key] for key in HEADLINE if key in values})
    view["disks"] = [{"path": path, "used_bytes": values.get(f"disk_used:{path}"),
                      "total_bytes": values.get(f"disk_total:{path}")} for path in disks]
    return view


def _iso(value: datetime | None) -> str | None:
    return value.isoformat(timespec="seconds") if value else None


async def compact(repo: MetricsRepository, ages_s: list[float], now: datetime) -> dict[str, int]:
    """raw -> 1m -> 10m -> 1h -> 6h for data older than each tier's age (``ages_s``: raw's, then each tier's),
    then delete the 6-hour buckets older than the last age; returns the rows moved from each tier."""
    bounds = cutoffs(now, ages_s)
    moved = {"raw": await _repeat(lambda: repo.fold_raw(bounds[0], TIERS[0].name, TIERS[0].size_s))}
    for index, (tier, target) in enumerate(zip(TIERS, TIERS[1:], strict=False), start=1):
        moved[tier.name] = await _repeat(
            lambda tier=tier, target=target, index=index: repo.fold_tier(tier.name, bounds[index], target.name,
                                                                         target.size_s))
    moved["deleted"] = await repo.purge_tier(TIERS[-1].name, bounds[-1])
    return moved


async def _repeat(step: Any) -> int:
    """Run a batch step until a batch moves nothing; the total moved."""
    total = 0
    while moved := await step():
        total += moved
    return total


def build_monitoring(database: Database, services: dict[str, Any]) -> MonitoringService:
    """The monitoring service over the SSH runner, with its scheduler tasks registered (composition root)."""
    settings: SettingsService = services["settings_service"]
    repository = MetricsRepository(database)
    collector = MetricsCollector(services["ssh_service"], repository, settings)
    service = MonitoringService(collector, repository, services["server_service"], InstallationRepository(database),
                                settings)
    service.register_tasks(services["scheduler_service"])
    return service
