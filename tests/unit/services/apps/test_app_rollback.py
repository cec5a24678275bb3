"""Install, update and uninstall jobs with a fake SSH runner: what runs, in which order, and what a failure undoes.

The database, jobs, encryption and servers are real (a fresh SQLite per test); the SSH runner and the
catalog are fakes (tests/fakes.py answered by the server model of tests/appfakes.py), so every argv Tomo
would send is recorded and checked.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from tests.appfakes import FakeServer, app_service_with_fakes, commands, kinds
from tests.appkit import facts_output
from tests.fakes import RecordingRunner

from tomo.errors import ConflictError, ConnectionFailed, ValidationError
from tomo.lib.ssh import CommandResult
from tomo.main import TomoApp
from tomo.models.job import Job, JobStatus
from tomo.services.apps.service import AppService

ROOT = "/srv/apps"


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


async def run_install(service: AppService, server_id: str, app: str = "webby", **config: Any) -> tuple[Job, str]:
    job_id, installation_id = await service.install_app(server_id, f"testapps/{app}", {"name": "web", **config})
    return await service.jobs.wait(job_id, 30), installation_id


def position(runner: RecordingRunner, kind: str) -> int:
    return kinds(runner).index(kind)


async def test_install_runs_the_steps_in_order_and_records_the_installation(apps: Any, runner: RecordingRunner) -> None:
    service, server_id = apps
    job, installation_id = await run_install(service, server_id, ports={"main": 18080})
    assert job.status is JobStatus.SUCCEEDED, job.error
    assert kinds(runner)[:5] == ["facts", "mkdir", "put", "put", "up"]
    assert runner.calls[1].argv == [f"{ROOT}/web/data"]
    assert runner.files[f"{ROOT}/web/.env"][1] == 0o600
    up = runner.calls[4].argv
    assert up[:2] == ["sh", "-c"] and up[4:7] == ["docker", "compose", "--project-name"] and up[7] == "web"
    assert "--wait" in up and up[up.index("--wait-timeout") + 1] == "10"
    installation = await service.get_installation(installation_id)
    assert installation.status.value == "running" and installation.urls == ["http://192.0.2.10:18080/"]
    assert [s.service for s in installation.services] == ["web"]


async def test_bad_inputs_fail_before_any_job_or_remote_call(apps: Any, runner: RecordingRunner) -> None:
    service, server_id = apps
    with pytest.raises(ValidationError, match="ADMIN_PASSWORD .* is required"):
        await service.install_app(server_id, "testapps/vault", {"name": "v"})
    assert runner.calls == [] and (await service.list_installed_apps(None, 50, 0)).items == []


async def test_a_failed_up_rolls_back_in_order_and_leaves_no_record(apps: Any, runner: RecordingRunner,
                                                                    server: FakeServer) -> None:
    service, server_id = apps
    server.fail["up"] = [CommandResult(1, "", "Error response from daemon: port is already allocated", 1.0)]
    server.up_lines = [" Container web-web-1 Creating", "Error response from daemon: port is already allocated"]
    job, installation_id = await run_install(service, server_id, app="duo")
    assert job.status is JobStatus.FAILED and job.error is not None and job.error.code == "DEPLOYMENT_FAILED"
    assert "port is already allocated" in job.error.message and "config.ports" in job.error.message
    done = kinds(runner)
    after_up = done[position(runner, "up"):]
    assert after_up.index("logs") < after_up.index("compose-down") < after_up.index("volume-ls") < after_up.index(
        "volume-rm") < after_up.index("rm")
    assert "kill" not in done  # `up` ended by itself: nothing to stop
    removed = commands(runner, "rm")
    assert removed == [["rm", "-rf", "--", f"{ROOT}/web"]]  # the folder this install created, whole
    assert await service.repo.get(installation_id) is None
    assert [step.name for step in job.steps][-3:] == ["roll back: remove containers", "roll back: remove new volumes",
                                                      "roll back: remove uploaded files"]


async def test_rollback_keeps_a_data_folder_and_volumes_from_an_earlier_install(tomo_app: TomoApp) -> None:
    server = FakeServer(facts=facts_output(entries=["data"], volumes=["web_cache"]), volumes={"web_cache"})
    runner = server.runner()
    service, server_id = await app_service_with_fakes(tomo_app, runner)
    server.fail["inspect"] = [CommandResult(0, '{"Name": "/web-web-1", "RestartCount": 3, "State": {"Status": '
                                               '"restarting"}, "Config": {"Labels": {"com.docker.compose.service": '
                                               '"web"}}}\n', "", 1.0)]
    server.volumes.add("web_cache")
    job, _ = await run_install(service, server_id, app="duo")
    assert job.status is JobStatus.FAILED and "restarting" in (job.error.message if job.error else "")
    removed = commands(runner, "rm", "volume-rm")
    assert removed == [["rm", "-f", "--", f"{ROOT}/web/compose.yaml", f"{ROOT}/web/.env"]]
    assert "web_cache" in server.volumes
    await tomo_app.shutdown()


async def test_new_volumes_and_a_new_data_folder_are_removed(tomo_app: TomoApp) -> None:
    server = FakeServer(facts=facts_output(entries=[]))
    runner = server.runner()
    service, server_id = await app_service_with_fakes(tomo_app, runner)
    server.fail["inspect"] = [CommandResult(0, "", "", 1.0)]  # the containers vanished right after `up`
    job, _ = await run_install(service, server_id, app="duo")
    assert job.status is JobStatus.FAILED and "has no container" in (job.error.message if job.error else "")
    assert ["docker", "volume", "rm", "--", "web_cache"] in commands(runner)
    assert ["rm", "-rf", "--", f"{ROOT}/web/data"] in commands(runner)
    await tomo_app.shutdown()


async def test_root_owned_files_are_removed_with_sudo_then_a_helper_container(tomo_app: TomoApp) -> None:
    server = FakeServer(sudo=False)
    runner = server.runner()
    service, server_id = await app_service_with_fakes(tomo_app, runner)
    job, installation_id = await run_install(service, server_id)
    assert job.status is JobStatus.SUCCEEDED
    server.paths.add(f"{ROOT}/web/data/logs/started.txt")
    server.root_owned.add(f"{ROOT}/web/data/logs")
    job_id, _ = await service.uninstall_app(installation_id, remove_data=True)
    job = await service.jobs.wait(job_id, 30)
    assert job.status is JobStatus.SUCCEEDED, job.error
    done = kinds(runner)
    tail = done[done.index("compose-down"):]
    assert [k for k in tail if k in ("rm", "sudo-rm", "helper")] == ["rm", "rm", "sudo-rm", "helper", "rm"]
    [helper] = commands(runner, "helper")
    assert helper[helper.index("--") + 1:] == ["tomo-test/busybox:1", "-rf", "--", "/tomo-target"]
    assert f"{ROOT}/web:/tomo-target" in helper and f"{ROOT}:/tomo-target" not in helper  # only the folder removed
    assert "removed /srv/apps/web (container)" in [s.detail for s in job.steps]
    await tomo_app.shutdown()


async def test_uninstall_keeps_data_by_default(apps: Any, runner: RecordingRunner, server: FakeServer) -> None:
    service, server_id = apps
    _, installation_id = await run_install(service, server_id, app="duo")
    job_id, _ = await service.uninstall_app(installation_id, remove_data=False)
    job = await service.jobs.wait(job_id, 30)
    assert job.status is JobStatus.SUCCEEDED and job.result == {"installation_id": installation_id, "removed": True,
                                                                "data_kept_at": f"{ROOT}/web/data"}
    assert not any(kind in ("volume-rm", "sudo-rm", "helper") for kind in kinds(runner))
    assert "web_duo" not in server.volumes and "web_cache" in server.volumes
    assert await service.repo.get(installation_id) is None


async def test_cancelling_an_install_rolls_it_back(apps: Any, runner: RecordingRunner, server: FakeServer) -> None:
    service, server_id = apps
    release = asyncio.Event()

    async def hang() -> CommandResult:
        await release.wait()
        return CommandResult(0, "", "", 1.0)

    server.fail["up"] = [hang]
    job_id, installation_id = await service.install_app(server_id, "testapps/webby", {"name": "web"})
    while "up" not in kinds(runner):
        await asyncio.sleep(0.01)
    job = await service.jobs.cancel(job_id)
    assert job.status is JobStatus.CANCELLED
    assert "compose-down" in kinds(runner) and await service.repo.get(installation_id) is None


async def test_a_second_operation_on_a_busy_installation_conflicts(apps: Any, server: FakeServer) -> None:
    service, server_id = apps
    release = asyncio.Event()

    async def hang() -> CommandResult:
        await release.wait()
        return CommandResult(0, "", "", 1.0)

    server.fail["up"] = [hang]
    job_id, installation_id = await service.install_app(server_id, "testapps/webby", {"name": "web"})
    with pytest.raises(ConflictError, match=job_id):
        await service.install_app(server_id, "testapps/webby", {"name": "web"})
    with pytest.raises(ConflictError, match="busy"):
        await service.control(installation_id, "stop")
    other, _ = await service.install_app(server_id, "testapps/duo", {"name": "duo"})
    assert (await service.jobs.wait(other, 30)).status is JobStatus.SUCCEEDED  # another app: not blocked
    release.set()
    await service.jobs.wait(job_id, 30)


async def test_a_dropped_connection_during_up_fails_cleanly(apps: Any, runner: RecordingRunner,
                                                            server: FakeServer) -> None:
    service, server_id = apps
    server.fail["up"] = [ConnectionFailed("The SSH connection to 192.0.2.10:22 was lost")]
    job, installation_id = await run_install(service, server_id)
    assert job.error is not None and "test_connection" in job.error.message
    [kill] = commands(runner, "kill")
    assert kill[:2] == ["sh", "-c"] and kill[3:] == ["tomo-stop-up", "4242", "web"]  # only if it still runs web's up
    assert kinds(runner).index("kill") < kinds(runner).index("compose-down")
    assert await service.repo.get(installation_id) is None


async def test_an_incomplete_rollback_keeps_the_record_as_error(apps: Any, server: FakeServer) -> None:
    service, server_id = apps
    server.fail["up"] = [CommandResult(1, "", "", 1.0)]
    server.fail["compose-down"] = [ConnectionFailed("gone")] * 3
    job, installation_id = await run_install(service, server_id)
    assert job.error is not None and "uninstall_app" in job.error.message
    record = await service.repo.get(installation_id)
    assert record is not None and record.status == "error" and "cleanup was incomplete" in (record.status_note or "")


async def test_update_keeps_the_previous_files_and_restores_them_on_failure(apps: Any, runner: RecordingRunner,
                                                                            server: FakeServer) -> None:
    service, server_id = apps
    _, installation_id = await run_install(service, server_id)
    runner.calls.clear()
    server.fail["up"] = [CommandResult(1, "", "", 1.0)]
    job_id, _ = await service.update_app(installation_id, "2")
    job = await service.jobs.wait(job_id, 30)
    assert job.error is not None and "Rolled back: version 1 runs again" in job.error.message
    copies = [argv[-2:] for argv in commands(runner, "cp")]
    assert copies == [[f"{ROOT}/web/compose.yaml", f"{ROOT}/web/compose.previous.yaml"],
                      [f"{ROOT}/web/.env", f"{ROOT}/web/.env.previous"],
                      [f"{ROOT}/web/compose.previous.yaml", f"{ROOT}/web/compose.yaml"],
                      [f"{ROOT}/web/.env.previous", f"{ROOT}/web/.env"]]
    assert kinds(runner).count("up") == 2
    installation = await service.get_installation(installation_id)
    assert installation.app_version == "1" and installation.history[-1].action == "update_rolled_back"


async def test_update_to_a_tag_renders_the_new_image(apps: Any, runner: RecordingRunner) -> None:
    service, server_id = apps
    _, installation_id = await run_install(service, server_id)
    job_id, _ = await service.update_app(installation_id, "2")
    assert (await service.jobs.wait(job_id, 30)).status is JobStatus.SUCCEEDED
    assert b"image: tomo-test/busybox:2" in runner.files[f"{ROOT}/web/compose.yaml"][0]
    assert (await service.get_installation(installation_id)).app_version == "2"


async def test_same_version_update_pulls_again(apps: Any, runner: RecordingRunner) -> None:
    service, server_id = apps
    _, installation_id = await run_install(service, server_id)
    job_id, _ = await service.update_app(installation_id, None)
    assert (await service.jobs.wait(job_id, 30)).status is JobStatus.SUCCEEDED
    assert "compose-pull" in kinds(runner)


async def test_secrets_stay_encrypted_and_reach_only_the_env_file(apps: Any, runner: RecordingRunner) -> None:
    service, server_id = apps
    job, installation_id = await run_install(service, server_id, app="vault",
                                             secrets={"ADMIN_PASSWORD": "pw-never-logged"})
    assert job.status is JobStatus.SUCCEEDED
    env = runner.files[f"{ROOT}/web/.env"][0].decode()
    assert "ADMIN_PASSWORD='pw-never-logged'" in env
    assert all("pw-never-logged" not in " ".join(call.argv) for call in runner.calls)
    assert b"pw-never-logged" not in runner.files[f"{ROOT}/web/compose.yaml"][0]
    record = await service.repo.get(installation_id)
    assert record is not None and record.secrets and "pw-never-logged" not in record.secrets
    assert record.inputs == {"ADMIN_TOKEN": "***", "ADMIN_PASSWORD": "***", "GREETING": "hello", "PIN": ""}
