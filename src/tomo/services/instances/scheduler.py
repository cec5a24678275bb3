"""One scheduler for the whole database: the leader among live instances runs the periodic tasks.

Leadership is the lease ``scheduler`` (``leases`` table), taken by one conditional UPDATE: free, expired or
already ours. The leader renews it every sixth of ``instance_lease_s`` and holds it for half of it; the others
try every sixth (at most every second). When the leader dies another takes over within two thirds of the lease
timeout, and a run it missed comes at most one interval plus that late.

Each task's next due time is a row of ``scheduled_tasks``. A run is claimed by moving ``next_run_at`` from the due
time it read to the next one, in one UPDATE that only one caller can win: a task runs at most once per due time
across all instances, and a new leader carries on from the schedule the old one left. A due time missed while no
leader ran is run once, late; a run later than half an interval moves the schedule to go on from now, so two runs
are never closer than half an interval.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog

from tomo.database.repositories.instances import InstanceRepository
from tomo.database.types import utcnow
from tomo.errors import TomoError
from tomo.services.instances.instances import InstanceService

logger = structlog.get_logger("tomo.scheduler")

LEASE = "scheduler"
FOLLOWER_POLL_S = 1.0
TaskFunction = Callable[[], Awaitable[object]]


@dataclass(frozen=True)
class ScheduledTask:
    """A periodic task: run ``function`` every ``interval_s`` seconds (at most ``timeout_s`` each time)."""

    name: str
    interval_s: float
    function: TaskFunction
    timeout_s: float = 300.0


class SchedulerService:
    """Runs the registered periodic tasks while this instance leads."""

    def __init__(self, repository: InstanceRepository, instances: InstanceService) -> None:
        self.repo = repository
        self.instances = instances
        self._tasks: dict[str, ScheduledTask] = {}
        self._loop_task: asyncio.Task[None] | None = None
        self._running: dict[str, asyncio.Task[None]] = {}
        self.is_leader = False
        self._renewed = 0.0

    def register(self, name: str, interval_s: float, function: TaskFunction, *, timeout_s: float = 300.0) -> None:
        """Add a periodic task (before start)."""
        self._tasks[name] = ScheduledTask(name, interval_s, function, timeout_s)

    async def start(self) -> None:
        now = utcnow()
        for task in self._tasks.values():
            await self.repo.ensure_task(task.name, task.interval_s, now)
        if self._loop_task is None:
            self._loop_task = asyncio.create_task(self._loop(), name="tomo-scheduler")

    async def stop(self) -> None:
        """Stop; the lease is released so another instance takes over at once (safe to call twice)."""
        task, self._loop_task = self._loop_task, None
        if task is None:
            return
        task.cancel()
        with suppress(asyncio.CancelledError):
            await task
        runs = list(self._running.values())
        for run in runs:
            run.cancel()
        if runs:
            await asyncio.wait(runs, timeout=5)
        if self.is_leader:
            with suppress(Exception):
                await self.repo.release_lease(LEASE, self.instances.id)
        self.is_leader = False

    async def _loop(self) -> None:
        while True:
            try:
                pause = await self.tick()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a database hiccup: try again shortly, as a follower
                logger.warning("scheduler_tick_failed", error=type(exc).__name__)
                self.is_leader, pause = False, FOLLOWER_POLL_S
            await asyncio.sleep(pause)

    async def tick(self) -> float:
        """Take or renew the lease when due, run what is due if leading; returns the seconds to sleep."""
        lease_s = self.instances.lease_s
        if not self.is_leader or time.monotonic() - self._renewed >= lease_s / 6:
            await self._renew(lease_s)
        if not self.is_leader:
            return min(FOLLOWER_POLL_S, lease_s / 6)
        rows = {row["name"]: row for row in await self.repo.tasks()}
        now = utcnow()
        next_due: list[datetime] = []
        for name, task in self._tasks.items():
            row = rows.get(name)
            if row is None:
                continue
            due = row["next_run_at"]
            if due <= now and name not in self._running:
                due = await self._claim(task, due, now)
            next_due.append(due)
        return self._pause(lease_s, min(next_due, default=None))

    async def _renew(self, lease_s: float) -> None:
        was_leader = self.is_leader
        self.is_leader = await self.repo.acquire_lease(LEASE, self.instances.id, utcnow(), lease_s / 2)
        self._renewed = time.monotonic()
        if self.is_leader != was_leader:
            logger.info("scheduler_leadership", instance_id=self.instances.id, leader=self.is_leader)

    def _pause(self, lease_s: float, next_due: datetime | None) -> float:
        """Until the next renewal or the next due task, whichever comes first (at least 20 ms)."""
        pause = lease_s / 6 - (time.monotonic() - self._renewed)
        if next_due is not None:
            pause = min(pause, (next_due - utcnow()).total_seconds())
        return max(0.02, pause)

    async def _claim(self, task: ScheduledTask, due: datetime, now: datetime) -> datetime:
        """Start the task in the background if this call claims its due run; returns its next due time."""
        interval = timedelta(seconds=task.interval_s)
        following = due + interval
        if following - now < interval / 2:  # late by over half an interval: go on from now, never two runs at once
            following = now + interval
        if await self.repo.claim_run(task.name, due, following, now, self.instances.id):
            run = asyncio.create_task(self._run(task), name=f"tomo-task-{task.name}")
            self._running[task.name] = run
            run.add_done_callback(lambda _: self._running.pop(task.name, None))
        return following

    async def _run(self, task: ScheduledTask) -> None:
        """One run of a task (the leader's lease renews meanwhile), recorded with its outcome and duration."""
        started = time.perf_counter()
        outcome, error = "ok", None
        try:
            await asyncio.wait_for(task.function(), task.timeout_s)
        except TimeoutError:
            outcome, error = "failed", f"did not finish within {task.timeout_s:g} s"
        except TomoError as exc:
            outcome, error = "failed", exc.message
        except Exception as exc:
            logger.exception("scheduled_task_crashed", task=task.name)
            outcome, error = "failed", f"unexpected error ({type(exc).__name__})"
        duration = round((time.perf_counter() - started) * 1000, 1)
        await self.repo.record_run(task.name, outcome, duration, error)
        if outcome != "ok":
            logger.warning("scheduled_task_failed", task=task.name, error=error)

    async def report(self) -> dict[str, Any]:
        """The leader and each task's last run, for health_check."""
        lease = await self.repo.lease(LEASE)
        leader = lease["holder"] if lease and lease["expires_at"] > utcnow() else None
        tasks = [
            {"name": row["name"], "interval_s": row["interval_s"], "runs": row["runs"],
             "next_run_at": _iso(row["next_run_at"]), "last_started_at": _iso(row["last_started_at"]),
             "last_duration_ms": row["last_duration_ms"], "last_outcome": row["last_outcome"],
             "last_error": row["last_error"], "last_instance": row["last_instance"]}
            for row in await self.repo.tasks() if row["name"] in self._tasks
        ]
        return {"status": "ok" if leader else "no leader", "leader": leader,
                "this_instance_leads": leader == self.instances.id, "tasks": tasks}


def _iso(value: datetime | None) -> str | None:
    return value.isoformat(timespec="seconds") if value else None
