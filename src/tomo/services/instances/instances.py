"""This process among the others on the same database: its registration, heartbeat and shared-state watch.

Every desktop client spawns its own ``tomo serve``, and an HTTP server may run beside them, all on one database.
Each registers a row in ``instances`` and refreshes its heartbeat every third of the lease timeout
(``instance_lease_s``); an instance whose heartbeat is older than the timeout is dead, and what it owned (jobs,
the scheduler's lease) may be taken over. A clean shutdown deletes the row at once.

The same loop reads the change counters once a second: when another process changed settings, servers or users,
the callbacks registered for that counter reload what this process keeps in memory (so a change made anywhere
applies everywhere within about a second).
"""

from __future__ import annotations

import asyncio
import os
import socket
import time
from collections.abc import Awaitable, Callable
from contextlib import suppress
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import structlog

from tomo import __version__
from tomo.database.repositories.instances import InstanceRepository
from tomo.database.types import utcnow
from tomo.services.settings.settings import SettingsService

logger = structlog.get_logger("tomo.instances")

WATCH_INTERVAL_S = 1.0
Reload = Callable[[], Awaitable[None]]


class InstanceService:
    """Registers this process, keeps its heartbeat and reloads shared state that others changed."""

    def __init__(self, repository: InstanceRepository, settings_service: SettingsService, instance_id: str,
                 transport: str) -> None:
        self.repo = repository
        self.settings = settings_service
        self.id = instance_id
        self.transport = transport
        self.host = socket.gethostname()[:255]
        self.machine = machine_key()
        self._watchers: dict[str, list[Reload]] = {}
        self._checks: list[Callable[[], Awaitable[object]]] = []
        self._last_check = 0.0
        self._versions: dict[str, int] = {}
        self._task: asyncio.Task[None] | None = None
        self._last_beat = 0.0

    @property
    def lease_s(self) -> float:
        """How long an instance may stay silent before it is taken for dead."""
        return float(self.settings.get("instance_lease_s"))

    def check_often(self, check: Callable[[], Awaitable[object]]) -> None:
        """Run ``check`` every half lease timeout in this instance (not only the scheduler's leader): for work
        that must follow a death quickly and is safe when every instance does it at once (job recovery)."""
        self._checks.append(check)

    def watch(self, counter: str, reload: Reload) -> None:
        """Call ``reload`` whenever another process bumps ``counter`` (``settings``, ``servers``, ``users``)."""
        self._watchers.setdefault(counter, []).append(reload)

    async def start(self) -> None:
        """Register this instance and start the heartbeat and watch loop."""
        await self.repo.register(self._row())
        self._versions = await self.repo.versions()
        self._last_beat = time.monotonic()
        if self._task is None:
            self._task = asyncio.create_task(self._loop(), name="tomo-instance")
        logger.info("instance_registered", instance_id=self.id, transport=self.transport)

    def _row(self) -> dict[str, Any]:
        now = utcnow()
        return {"id": self.id, "pid": os.getpid(), "host": self.host, "machine": self.machine,
                "transport": self.transport, "version": __version__, "started_at": now, "heartbeat_at": now}

    async def stop(self) -> None:
        """Stop the loop and deregister (safe to call twice)."""
        task, self._task = self._task, None
        if task is None:
            return
        task.cancel()
        with suppress(asyncio.CancelledError):
            await task
        with suppress(Exception):
            await self.repo.deregister(self.id)
        logger.info("instance_deregistered", instance_id=self.id)

    async def live(self) -> list[dict[str, Any]]:
        """Instances whose heartbeat is within the lease timeout, oldest first. An instance of this machine (same
        boot, same pid namespace) whose process is gone is dead at once, so a restart recovers a crashed
        process's jobs without waiting for the lease."""
        rows = await self.repo.live(self.cutoff())
        return [row for row in rows if row["id"] == self.id or not self._vanished(row)]

    def cutoff(self, now: datetime | None = None) -> datetime:
        """Heartbeats older than this belong to dead instances."""
        return (now or utcnow()) - timedelta(seconds=self.lease_s)

    async def live_ids(self) -> set[str]:
        """Ids of the live instances (see :meth:`live`)."""
        return {row["id"] for row in await self.live()}

    def _vanished(self, row: dict[str, Any]) -> bool:
        if row["machine"] != self.machine:
            return False
        try:
            os.kill(int(row["pid"]), 0)
        except ProcessLookupError:
            return True
        except OSError:  # it exists, owned by another user
            return False
        return False

    async def forget_dead(self) -> list[str]:
        """Remove the rows of instances silent for ten lease timeouts (their jobs were recovered long ago)."""
        return await self.repo.forget_dead(utcnow() - timedelta(seconds=10 * self.lease_s))

    async def report(self) -> dict[str, Any]:
        """This instance and every live one, for health_check."""
        live = await self.live()
        return {"this_instance": self.id, "lease_s": self.lease_s, "live": [
            {"id": row["id"], "pid": row["pid"], "host": row["host"], "transport": row["transport"],
             "version": row["version"], "started_at": row["started_at"].isoformat(timespec="seconds"),
             "heartbeat_at": row["heartbeat_at"].isoformat(timespec="seconds")}
            for row in live]}

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(WATCH_INTERVAL_S)
            try:
                await self.tick()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the database may be briefly unavailable; the next tick retries
                logger.warning("instance_tick_failed", error=type(exc).__name__)

    async def tick(self) -> None:
        """One round: heartbeat when due, then reload whatever another process changed."""
        if time.monotonic() - self._last_beat >= self.lease_s / 3:
            await self.beat()
        versions = await self.repo.versions()
        changed = [name for name, version in versions.items() if self._versions.get(name) != version]
        self._versions = versions
        for name in changed:
            for reload in self._watchers.get(name, []):
                await reload()
        if self._checks and time.monotonic() - self._last_check >= self.lease_s / 2:
            self._last_check = time.monotonic()
            for check in self._checks:
                await check()

    async def beat(self) -> None:
        """Refresh the heartbeat; re-register if another instance took this one for dead and removed it."""
        self._last_beat = time.monotonic()
        if not await self.repo.heartbeat(self.id, utcnow()):
            logger.warning("instance_reregistered", instance_id=self.id)
            await self.repo.register(self._row())


def machine_key() -> str:
    """This kernel's boot id and this process's pid namespace: two processes with the same key can check each
    other's pid (a container in its own pid namespace, or a process from before a reboot, has another key)."""
    try:
        boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
        namespace = os.stat("/proc/self/ns/pid").st_ino
    except OSError:
        return "unknown"  # never matches a pid check: such instances wait for their lease to run out
    return f"{boot[:36]}:{namespace}"[:64]
