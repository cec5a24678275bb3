"""Liveness and a detailed self-check."""

from __future__ import annotations

import asyncio
import inspect
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tomo import __version__
from tomo.database.engine import Database, migration_heads
from tomo.errors import TomoError
from tomo.models.principal import Principal


class HealthService:
    """Answers health_check; extra probes (SSH pool, scheduler) register themselves."""

    def __init__(self, database: Database, data_dir: Path) -> None:
        self.database = database
        self.data_dir = data_dir
        self.started = time.monotonic()
        self.probes: dict[str, Callable[[], Any]] = {}

    def basic(self) -> dict[str, Any]:
        """Status, version and uptime: cheap, safe to show anyone."""
        return {"status": "ok", "version": __version__, "uptime_s": round(time.monotonic() - self.started, 1)}

    async def detailed(self, principal: Principal) -> dict[str, Any]:
        """Everything in :meth:`basic` plus database, migrations, probes and disk space."""
        report = self.basic()
        report["database"] = await self._database()
        report["migrations"] = {"current": sorted(self.database.revisions), "expected": sorted(migration_heads())}
        values = {name: probe() for name, probe in self.probes.items()}
        pending = {name: value for name, value in values.items() if inspect.isawaitable(value)}
        answered = dict(zip(pending, await asyncio.gather(*pending.values()), strict=True))  # the queries at once
        report.update({name: answered.get(name, value) for name, value in values.items()})
        report.setdefault("scheduler", {"status": "not configured"})
        report["data_dir_free_bytes"] = (await asyncio.to_thread(shutil.disk_usage, self.data_dir)).free
        report["principal"] = {"username": principal.username, "role": principal.role,
                               "transport": principal.transport, "bootstrap": principal.bootstrap}
        if report["database"]["status"] != "ok":
            report["status"] = "degraded"
        return report

    async def _database(self) -> dict[str, Any]:
        started = time.perf_counter()
        try:
            await self.database.ping()
        except TomoError as exc:
            return {"status": "error", "message": exc.message}
        dialect = "sqlite" if self.database.is_sqlite else self.database.engine.dialect.name
        return {"status": "ok", "dialect": dialect, "latency_ms": round((time.perf_counter() - started) * 1000, 2)}
