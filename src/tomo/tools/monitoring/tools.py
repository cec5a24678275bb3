"""Monitoring tools: take samples now, read a server's history, read its containers' figures."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from tomo.lib.mcp.tooling import tomo_tool
from tomo.models.common import Reply
from tomo.models.principal import Role
from tomo.services.monitoring.history import Period, Resolution
from tomo.services.monitoring.monitoring import MonitoringService

ServerId = Annotated[str, Field(min_length=1, max_length=64, description="Server id or name, from list_servers.")]


class MonitoringTools:
    """Agentless metrics of registered servers and their containers, with history."""

    def __init__(self, monitoring_service: MonitoringService) -> None:
        self.monitoring = monitoring_service

    @tomo_tool(role=Role.OPERATOR, open_world=True, title="Collect metrics")
    async def collect_metrics(self, server_id: ServerId | None = None) -> Reply:
        """Take a metrics sample of one server, or of every server, now (one SSH round trip each).

        Tomo samples every server on its own every metrics_interval_s; use this to see fresh figures at once.
        Returns each server's sample: status (down with the reason when unreachable), CPU %, memory, swap, load,
        disks, disk and network rates (need a previous sample), temperature, running containers.
        """
        samples = await self.monitoring.collect(server_id)
        down = sum(1 for sample in samples if sample["status"] != "up")
        return Reply(f"Sampled {len(samples)} server(s); {down} down.", {"samples": samples})

    @tomo_tool(read_only=True, idempotent=True, title="Server metrics")
    async def get_server_metrics(
        self,
        server_id: ServerId,
        period: Annotated[Period, Field(description="How far back the series go.")] = "1h",
        resolution: Annotated[Resolution | None, Field(
            description="Bucket size; default 1m for 1h, 10m for 24h, 1h for 7d, 6h for 30d.")] = None,
    ) -> Reply:
        """Show a server's latest metrics sample and its history over a period.

        Series (average and peak per bucket, at most 200 points, null where no sample): up (1 = reachable),
        cpu_percent, memory_used, swap_used, load, disk and network bytes/s, temperature_c, disk_used per
        mount. Gaps in `time` are periods without samples. Sizes in bytes.
        """
        data = await self.monitoring.server_metrics(server_id, period, resolution)
        latest = data["latest"]
        state = f"latest sample {latest['status']} at {latest['checked_at']}" if latest else "no sample yet"
        return Reply(f"Metrics of {data['server_name']} over {period} ({len(data['time'])} points); {state}.", data)

    @tomo_tool(read_only=True, idempotent=True, title="Container metrics")
    async def get_container_metrics(
        self,
        server_id: ServerId,
        installation_id: Annotated[str | None, Field(
            max_length=64, description="Only this installed app's containers (from list_installed_apps).")] = None,
    ) -> Reply:
        """Show each running container's figures from a server's latest sample.

        CPU % of one core (as docker stats), memory bytes and limit, pids, block I/O and network bytes/s,
        state, health, compose project and service. Call collect_metrics first for fresh figures.
        """
        data = await self.monitoring.container_metrics(server_id, installation_id)
        return Reply(f"{len(data['containers'])} container(s) in the latest sample ({data['taken_at']}).", data)
