"""App jobs whose Tomo process died, recovered by another instance: install rolled back, update returned to the
previous version, uninstall finished; and two calls at once on one app name, of which exactly one proceeds.

A real job runs until it hangs at a chosen command (as a process killed there would stop); its row is then given to
an instance id that is not alive, which is what the database shows after a crash, and ``recover_interrupted``
adopts it. The server is the model of tests/appfakes.py, so its containers, volumes and files are checked.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from tests.appfakes import FakeServer, app_service_with_fakes, commands, kinds
from tests.appkit import facts_output
from tests.fakes import RecordingRunner

from tomo.errors import ConflictError
from tomo.lib.ssh import CommandResult
from tomo.main import TomoApp
from tomo.models.job import Job, JobStatus, StepStatus
from tomo.services.apps.service import AppService

ROOT = "/srv/apps"
DEAD = "0" * 32  # an instance id that never heartbeats


@pytest.fixture
def server() -> FakeServer:
    return FakeServer()


@pytest.fixture
def runner(server: FakeServer) -> RecordingRunner:
    return server.runner()


@pytest.fixture
async def apps(tomo_app: TomoApp, runner: RecordingRunner) -> Any:
    service, server_id = await app_service_with_fakes(tomo_app, runner)
    yield service, server_id
    await tomo_app.shutdown()


def hang_at(server: FakeServer, kind: str, before: Callable[[], None] = lambda: None) -> None:
    """The next command of ``kind`` never returns (``before`` runs first: what it did on the server)."""

    async def forever() -> CommandResult:
        before()
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    server.fail[kind] = [forever]


async def until(condition: Callable[[], Awaitable[bool]]) -> None:
    for _ in range(500):
        if await condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the job never got there")


async def die_and_recover(service: AppService, job_id: str) -> Job:
    """The job's process dies here (as far as the database can tell); another instance recovers it."""
    await service.jobs.repo.update(job_id, {"owner": DEAD})
    assert await service.jobs.recover_interrupted() == [job_id]
    return await service.jobs.get(job_id)


async def installed(service: AppService, server_id: str, app: str = "duo") -> str:
    job_id, installation_id = await service.install_app(server_id, f"testapps/{app}", {"name": "web"})
    assert (await service.jobs.wait(job_id, 30)).status is JobStatus.SUCCEEDED
    return installation_id


def running_up(server: FakeServer) -> None:
    """What a `compose up` of duo has done when it is cut off: containers and the named volume exist."""
    server.containers["web"] = [{"name": "web-web-1", "service": "web", "image": "tomo-test/busybox:1",
                                 "state": "running"}]
    server.volumes.add("web_cache")


def project_files(server: FakeServer) -> list[str]:
    return sorted(path for path in [*server.files, *server.paths] if path.startswith(f"{ROOT}/web"))


async def test_an_install_whose_process_died_is_rolled_back_and_leaves_nothing(
        apps: Any, runner: RecordingRunner, server: FakeServer) -> None:
    service, server_id = apps
    hang_at(server, "up", lambda: running_up(server))
    job_id, installation_id = await service.install_app(server_id, "testapps/duo", {"name": "web"})
    await until(lambda: _trail_has_pid(service, installation_id))
    job = await die_and_recover(service, job_id)
    assert job.status is JobStatus.INTERRUPTED and job.error is not None and job.error.code == "JOB_INTERRUPTED"
    me = service.jobs.instance_id
    assert f"({'instance ' + DEAD}) stopped; recovered by instance {me}" in (job.message or "")
    assert "rolled back as a failed install is" in (job.message or "")
    steps = {step.name: step for step in job.steps}
    assert steps["start containers (docker compose up --wait)"].status is StepStatus.FAILED
    assert steps[f"recover (by instance {me})"].status is StepStatus.OK
    assert all(steps[name].status is StepStatus.OK for name in (
        "roll back: remove containers", "roll back: remove new volumes", "roll back: remove uploaded files"))
    assert commands(runner, "kill")[-1][3:] == ["tomo-stop-up", "4242", "web"]
    assert server.containers.get("web") is None and server.volumes == set() and project_files(server) == []
    assert await service.repo.get(installation_id) is None


async def _trail_has_pid(service: AppService, installation_id: str) -> bool:
    record = await service.repo.get(installation_id)
    return record is not None and (record.trail or {}).get("up_pid") == 4242


async def test_a_recovered_install_keeps_a_data_folder_and_volumes_from_an_earlier_install(tomo_app: TomoApp) -> None:
    server = FakeServer(facts=facts_output(entries=["data"], volumes=["web_cache"]), volumes={"web_cache"})
    server.paths.add(f"{ROOT}/web/data/old.db")
    service, server_id = await app_service_with_fakes(tomo_app, server.runner())
    hang_at(server, "up", lambda: running_up(server))
    job_id, installation_id = await service.install_app(server_id, "testapps/duo", {"name": "web"})
    await until(lambda: _trail_has_pid(service, installation_id))
    job = await die_and_recover(service, job_id)
    assert job.status is JobStatus.INTERRUPTED
    assert server.containers.get("web") is None and server.volumes == {"web_cache"}
    assert project_files(server) == [f"{ROOT}/web/data", f"{ROOT}/web/data/old.db"]
    assert await service.repo.get(installation_id) is None
    await tomo_app.shutdown()


async def test_recovering_an_install_twice_ends_in_the_same_state(apps: Any, server: FakeServer) -> None:
    service, server_id = apps
    hang_at(server, "up", lambda: running_up(server))
    job_id, installation_id = await service.install_app(server_id, "testapps/duo", {"name": "web"})
    await until(lambda: _trail_has_pid(service, installation_id))
    job = await service.jobs.get(job_id)
    await die_and_recover(service, job_id)
    again = await service.jobs.get(job_id)
    handler = service.jobs._recovery["install_app"]
    assert await handler(job, _context(service, again)) == "nothing was left to roll back"
    assert server.containers.get("web") is None and project_files(server) == []


def _context(service: AppService, job: Job) -> Any:
    from tomo.services.jobs.jobs import JobContext

    return JobContext(service.jobs, job.id, list(job.steps), job.progress)


async def test_two_instances_recovering_at_once_adopt_the_job_once(apps: Any, server: FakeServer) -> None:
    service, server_id = apps
    hang_at(server, "up", lambda: running_up(server))
    job_id, installation_id = await service.install_app(server_id, "testapps/duo", {"name": "web"})
    await until(lambda: _trail_has_pid(service, installation_id))
    await service.jobs.repo.update(job_id, {"owner": DEAD})
    first, second = await asyncio.gather(service.jobs.recover_interrupted(), service.jobs.recover_interrupted())
    assert sorted([*first, *second]) == [job_id]
    job = await service.jobs.get(job_id)
    assert [step.name for step in job.steps].count(f"recover (by instance {service.jobs.instance_id})") == 1
    assert await service.repo.get(installation_id) is None


async def test_an_update_whose_process_died_returns_to_the_previous_version(
        apps: Any, runner: RecordingRunner, server: FakeServer) -> None:
    service, server_id = apps
    installation_id = await installed(service, server_id, "webby")
    old_compose = runner.files[f"{ROOT}/web/compose.yaml"][0]
    runner.calls.clear()
    hang_at(server, "up")
    job_id, _ = await service.update_app(installation_id, "2")
    await until(lambda: _trail_has_pid(service, installation_id))
    assert b"busybox:2" in runner.files[f"{ROOT}/web/compose.yaml"][0]
    job = await die_and_recover(service, job_id)
    assert job.status is JobStatus.INTERRUPTED and "returned 'web' to version 1" in (job.message or "")
    assert runner.files[f"{ROOT}/web/compose.yaml"][0] == old_compose
    done = kinds(runner)
    copies, ups = [i for i, k in enumerate(done) if k == "cp"], [i for i, k in enumerate(done) if k == "up"]
    assert len(copies) == 4 and len(ups) == 2
    # backup, the new version's `up` (cut off), stopped before the old files come back, then the old one's `up`
    assert copies[1] < ups[0] < done.index("kill") < copies[2] < copies[3] < ups[1]
    record = await service.repo.get(installation_id)
    assert record is not None and record.app_version == "1" and record.status == "running"
    assert record.history[-1]["action"] == "update_rolled_back" and record.history[-1]["job_id"] == job_id
    assert "roll back: verify the previous version" in [step.name for step in job.steps]


async def test_an_update_cut_off_before_it_changed_the_server_takes_back_its_status(
        apps: Any, runner: RecordingRunner, server: FakeServer) -> None:
    service, server_id = apps
    installation_id = await installed(service, server_id, "webby")
    runner.calls.clear()
    hang_at(server, "facts")
    job_id, _ = await service.update_app(installation_id, "2")
    await until(lambda: _status_is(service, installation_id, "updating"))
    job = await die_and_recover(service, job_id)
    assert job.status is JobStatus.INTERRUPTED and "had not changed the server" in (job.message or "")
    assert [kind for kind in kinds(runner) if kind in ("cp", "up", "put")] == []
    record = await service.repo.get(installation_id)
    assert record is not None and record.status == "running" and record.app_version == "1"


async def _status_is(service: AppService, installation_id: str, status: str) -> bool:
    record = await service.repo.get(installation_id)
    return record is not None and record.status == status


async def test_an_uninstall_whose_process_died_is_finished(apps: Any, server: FakeServer) -> None:
    service, server_id = apps
    installation_id = await installed(service, server_id)
    hang_at(server, "compose-down")
    job_id, _ = await service.uninstall_app(installation_id, remove_data=True)
    await until(lambda: _status_is(service, installation_id, "uninstalling"))
    job = await die_and_recover(service, job_id)
    assert job.status is JobStatus.INTERRUPTED and "finished uninstalling 'web'" in (job.message or "")
    assert server.containers.get("web") is None and server.volumes == set() and project_files(server) == []
    assert await service.repo.get(installation_id) is None


async def test_two_installs_of_one_name_at_once_one_proceeds_the_other_conflicts(apps: Any,
                                                                                  server: FakeServer) -> None:
    service, server_id = apps
    hang_at(server, "up")
    calls = [service.install_app(server_id, "testapps/webby", {"name": "web"}) for _ in range(2)]
    results = await asyncio.gather(*calls, return_exceptions=True)
    [winner] = [result for result in results if isinstance(result, tuple)]
    [loser] = [result for result in results if isinstance(result, BaseException)]
    assert isinstance(loser, ConflictError) and winner[0] in loser.message
    [record] = await service.repo.list_all(server_id)
    assert record.id == winner[1] and record.last_job_id == winner[0] and record.status == "installing"


async def test_two_updates_at_once_one_proceeds_and_the_loser_leaves_the_status_alone(apps: Any,
                                                                                      server: FakeServer) -> None:
    service, server_id = apps
    installation_id = await installed(service, server_id, "webby")
    hang_at(server, "up")
    results = await asyncio.gather(*(service.update_app(installation_id, "2") for _ in range(2)),
                                   return_exceptions=True)
    [winner] = [result for result in results if isinstance(result, tuple)]
    [loser] = [result for result in results if isinstance(result, BaseException)]
    assert isinstance(loser, ConflictError) and winner[0] in loser.message
    await until(lambda: _trail_has_pid(service, installation_id))
    record = await service.repo.get(installation_id)
    assert record is not None and record.status == "updating" and record.last_job_id == winner[0]
