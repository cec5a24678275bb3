"""Several Tomo instances on one database: registration, exclusion, slots, recovery, settings, one scheduler.

Each instance here is a whole Tomo app with its own engine and connections on the same database file (or
PostgreSQL database), as two processes would be; tests/integration/test_instance_processes.py does the same with real
processes.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
import sqlalchemy as sa

from tomo.database.tables import jobs
from tomo.database.tables_marketplace import marketplace_repos
from tomo.database.types import new_id, utcnow
from tomo.errors import ConflictError
from tomo.lib.config import TomoConfig
from tomo.main import TomoApp, build_app
from tomo.models.job import JobStatus
from tomo.services.jobs.jobs import JobContext, JobService


@pytest.fixture
async def instances(tomo_config: TomoConfig) -> AsyncIterator[list[TomoApp]]:
    apps = [build_app(tomo_config) for _ in range(3)]
    for app in apps:
        await app.startup()
    yield apps
    for app in apps:
        await app.shutdown()


def jobs_of(app: TomoApp) -> JobService:
    service: JobService = app.services["job_service"]
    return service


def sleeper(seconds: float, ran: list[str] | None = None, name: str = "") -> Any:
    async def run(ctx: JobContext) -> dict[str, Any]:
        async with ctx.step("sleeping"):
            await asyncio.sleep(seconds)
        if ran is not None:
            ran.append(name)
        return {"slept": seconds}

    return run


async def wait_finished(service: JobService, job_id: str, timeout: float = 10.0) -> JobStatus:
    job = await service.wait(job_id, timeout)
    return job.status


async def test_every_instance_is_listed_live_by_health_check(instances: list[TomoApp]) -> None:
    report = await instances[0].services["health_service"].detailed(_admin())
    ids = {row["id"] for row in report["instances"]["live"]}
    assert ids == {app.services["instance_service"].id for app in instances}
    assert report["instances"]["this_instance"] == instances[0].services["instance_service"].id


async def test_a_clean_shutdown_deregisters_at_once(instances: list[TomoApp]) -> None:
    gone = instances[2].services["instance_service"].id
    await instances[2].shutdown()
    assert gone not in await instances[0].services["instance_service"].live_ids()


async def test_a_new_instance_leaves_a_live_instances_job_running(tomo_config: TomoConfig,
                                                                  instances: list[TomoApp]) -> None:
    a = jobs_of(instances[0])
    job_id = await a.start("sleep", "Sleep", sleeper(1.0), resource="sleep:a")
    late = build_app(tomo_config)
    await late.startup()  # the start that used to mark every running job interrupted
    try:
        assert (await jobs_of(late).get(job_id)).status is JobStatus.RUNNING
        assert await jobs_of(late).recover_interrupted() == []
        assert await wait_finished(a, job_id) is JobStatus.SUCCEEDED
    finally:
        await late.shutdown()


async def test_one_active_job_per_resource_whichever_instance_asks(instances: list[TomoApp]) -> None:
    first = await jobs_of(instances[0]).start("sleep", "Sleep", sleeper(0.5), resource="app:s1:web")
    with pytest.raises(ConflictError) as refused:
        await jobs_of(instances[1]).start("sleep", "Sleep", sleeper(0.1), resource="app:s1:web")
    assert refused.value.details == {"job_id": first} and first in refused.value.message
    assert await wait_finished(jobs_of(instances[0]), first) is JobStatus.SUCCEEDED
    again = await jobs_of(instances[1]).start("sleep", "Sleep", sleeper(0.01), resource="app:s1:web")
    assert await wait_finished(jobs_of(instances[1]), again) is JobStatus.SUCCEEDED


async def test_concurrent_starts_on_one_resource_admit_exactly_one(instances: list[TomoApp]) -> None:
    attempts = [jobs_of(app).start("sleep", "Sleep", sleeper(0.3), resource="app:s1:race")
                for app in instances for _ in range(3)]
    results = await asyncio.gather(*attempts, return_exceptions=True)
    started = [r for r in results if isinstance(r, str)]
    assert len(started) == 1, results
    assert all(isinstance(r, ConflictError) for r in results if not isinstance(r, str))


async def test_max_jobs_per_server_counts_jobs_of_every_instance(instances: list[TomoApp]) -> None:
    await instances[0].services["settings_service"].update({"max_jobs_per_server": 1})
    while instances[1].services["settings_service"].get("max_jobs_per_server") != 1:  # within a second
        await asyncio.sleep(0.05)
    ran: list[str] = []
    first = await jobs_of(instances[0]).start("sleep", "A", sleeper(0.6, ran, "a"), server_id="srv1")
    await asyncio.sleep(0.2)
    second = await jobs_of(instances[1]).start("sleep", "B", sleeper(0.01, ran, "b"), server_id="srv1")
    await asyncio.sleep(0.2)
    waiting = await jobs_of(instances[1]).get(second)
    assert waiting.status is JobStatus.PENDING and "waiting for a free slot" in (waiting.message or "")
    assert await wait_finished(jobs_of(instances[1]), second) is JobStatus.SUCCEEDED
    assert ran == ["a", "b"]
    assert (await jobs_of(instances[0]).get(first)).status is JobStatus.SUCCEEDED


async def test_a_settings_change_reaches_every_instance_within_two_seconds(instances: list[TomoApp]) -> None:
    await instances[0].services["settings_service"].update({"allow_execute_command": True})
    started = time.monotonic()
    others = [app.services["settings_service"] for app in instances[1:]]
    while not all(s.get("allow_execute_command") for s in others):
        assert time.monotonic() - started < 2.0, "the change did not reach the other instances in 2 s"
        await asyncio.sleep(0.05)
    await instances[2].services["settings_service"].update({"allow_execute_command": False})
    started = time.monotonic()
    while instances[0].services["settings_service"].get("allow_execute_command"):
        assert time.monotonic() - started < 2.0
        await asyncio.sleep(0.05)


async def orphan(app: TomoApp, owner: str | None, kind: str = "sleep") -> str:
    job_id = new_id()
    inserted = await jobs_of(app).repo.insert({
        "id": job_id, "kind": kind, "title": "Left behind", "status": JobStatus.RUNNING.value, "server_id": None,
        "resource": f"orphan:{job_id}", "params": {"x": 1}, "progress": 40.0, "created_at": utcnow(),
        "owner": owner, "started_at": utcnow(),
        "steps": [{"name": "working", "status": "running", "started_at": utcnow().isoformat()}],
    })  # fmt: skip
    assert inserted
    return job_id


async def test_the_job_of_a_dead_instance_is_recovered_by_exactly_one_instance(instances: list[TomoApp]) -> None:
    calls: list[str] = []

    async def clean_up(job: Any, ctx: JobContext) -> str:
        calls.append(job.id)
        async with ctx.step("remove what it left"):
            await asyncio.sleep(0.05)
        return "removed what it left"

    for app in instances:
        jobs_of(app).register_recovery("sleep", clean_up)
    job_id = await orphan(instances[0], owner="0" * 32)
    results = await asyncio.gather(*(jobs_of(app).recover_interrupted() for app in instances))
    assert sorted(sum(results, [])) == [job_id] and calls == [job_id]
    job = await jobs_of(instances[1]).get(job_id)
    assert job.status is JobStatus.INTERRUPTED and job.error is not None and job.error.code == "JOB_INTERRUPTED"
    assert "recovered by instance" in (job.message or "") and "removed what it left" in (job.message or "")
    names = [step.name for step in job.steps]
    assert names[0] == "working" and job.steps[0].status.value == "failed"
    assert names[1].startswith("recover (by instance") and names[2] == "remove what it left"


async def test_a_job_of_a_live_instance_is_never_recovered(instances: list[TomoApp]) -> None:
    live = instances[0].services["instance_service"].id
    job_id = await orphan(instances[0], owner=live)
    assert await jobs_of(instances[1]).recover_interrupted() == []
    assert (await jobs_of(instances[1]).get(job_id)).status is JobStatus.RUNNING


async def test_one_scheduler_runs_a_task_once_per_interval_across_instances(tomo_config: TomoConfig) -> None:
    runs: list[tuple[float, str]] = []
    apps = [build_app(tomo_config) for _ in range(3)]
    for app in apps:
        me = app.services["instance_service"].id

        async def task(me: str = me) -> None:
            runs.append((time.monotonic(), me))

        app.services["scheduler_service"].register("test_tick", 0.25, task)
        await app.startup()
    try:
        await asyncio.sleep(2.6)
        report = await apps[0].services["scheduler_service"].report()
    finally:
        for app in apps:
            await app.shutdown()
    assert len({who for _, who in runs}) == 1, "more than one instance ran the task"
    # One run per due time (due times are 0.25 s apart; a late run is followed by a sooner one, never by a
    # second run of the same due time, which would come a few milliseconds after the first).
    gaps = [b - a for (a, _), (b, _) in zip(runs, runs[1:], strict=False)]
    span = runs[-1][0] - runs[1][0]
    assert len(runs) >= 8 and min(gaps[1:]) > 0.05, gaps
    assert len(runs) - 1 <= span / 0.25 + 2, (len(runs), span)
    assert report["leader"] in {app.services["instance_service"].id for app in apps}
    tick = next(t for t in report["tasks"] if t["name"] == "test_tick")
    assert tick["last_outcome"] in {"ok", "running"} and tick["runs"] >= 8
    assert {t["name"] for t in report["tasks"]} >= {"forget_instances", "purge_logs", "purge_sessions", "purge_jobs"}


def _admin() -> Any:
    from tomo.models.principal import Principal, Role

    return Principal(username="admin", role=Role.ADMIN, transport="stdio")


async def syncing_repo(app: TomoApp, name: str) -> str:
    repo_id = new_id()
    async with app.database.begin() as conn:
        await conn.execute(marketplace_repos.insert().values(
            id=repo_id, name=name, url="/nowhere", branch="main", format="tomo", enabled=True, builtin=False,
            status="syncing", app_count=0, created_at=utcnow()))
    return repo_id


async def repo_status(app: TomoApp, repo_id: str) -> str:
    async with app.database.connect() as conn:
        query = sa.select(marketplace_repos.c.status).where(marketplace_repos.c.id == repo_id)
        return str((await conn.execute(query)).scalar_one())


async def test_a_start_leaves_another_instances_sync_alone_and_recovers_a_dead_ones(
        tomo_config: TomoConfig, instances: list[TomoApp]) -> None:
    live_repo, dead_repo = await syncing_repo(instances[0], "live"), await syncing_repo(instances[0], "dead")
    live_job = await jobs_of(instances[0]).start("marketplace_sync", "Sync live", sleeper(1.0),
                                                 resource=f"marketplace_repo:{live_repo}",
                                                 params={"repo_id": live_repo})
    dead_job = await orphan(instances[0], owner="d" * 32, kind="marketplace_sync")
    async with instances[0].database.begin() as conn:
        await conn.execute(sa.update(jobs).where(jobs.c.id == dead_job).values(
            resource=f"marketplace_repo:{dead_repo}", params={"repo_id": dead_repo}))
    late = build_app(tomo_config)
    await late.startup()
    try:
        assert await repo_status(late, live_repo) == "syncing"
        assert await repo_status(late, dead_repo) == "interrupted"
        job = await jobs_of(late).get(dead_job)
        assert job.status is JobStatus.INTERRUPTED and "marked interrupted" in (job.message or "")
        assert (await jobs_of(late).get(live_job)).status is JobStatus.RUNNING
    finally:
        await late.shutdown()


async def test_cancel_through_another_instance_stops_the_job(instances: list[TomoApp]) -> None:
    job_id = await jobs_of(instances[0]).start("sleep", "Sleep", sleeper(20.0), resource="sleep:cancel")
    await asyncio.sleep(0.1)
    started = time.monotonic()
    job = await jobs_of(instances[1]).cancel(job_id)
    assert job.status is JobStatus.CANCELLED, job
    assert time.monotonic() - started < 3.0
    assert (await jobs_of(instances[0]).get(job_id)).steps[0].status.value == "cancelled"
