"""Installations read back: status reconciled with Docker, unreachable servers, interrupted jobs, logs, health,
and the app tools through the MCP protocol (schemas, confirm, audit, the other features' hooks)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from tests.appfakes import FakeServer, app_service_with_fakes, commands
from tests.conftest import ToolCaller
from tests.fakes import RecordingRunner

from tomo.database.types import new_id, utcnow
from tomo.errors import ConnectionFailed
from tomo.lib.ssh import CommandResult
from tomo.main import TomoApp
from tomo.models.installation import HttpCheck
from tomo.models.job import JobStatus
from tomo.services.apps.service import AppService


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


async def installed(service: AppService, server_id: str, name: str = "web", app: str = "webby", **config: Any) -> str:
    job_id, installation_id = await service.install_app(server_id, f"testapps/{app}", {"name": name, **config})
    job = await service.jobs.wait(job_id, 30)
    assert job.status is JobStatus.SUCCEEDED, job.error
    return installation_id


async def test_a_container_stopped_by_hand_is_reported_stopped(apps: Any, server: FakeServer) -> None:
    service, server_id = apps
    installation_id = await installed(service, server_id)
    server.containers["web"][0]["state"] = "exited"
    installation = await service.get_installation(installation_id)
    assert installation.status.value == "stopped" and installation.reachable
    record = await service.repo.get(installation_id)
    assert record is not None and record.status == "stopped"


async def test_an_unreachable_server_shows_the_last_known_status(apps: Any, server: FakeServer) -> None:
    service, server_id = apps
    installation_id = await installed(service, server_id)
    server.fail["ps"] = [ConnectionFailed("The SSH connection to 192.0.2.10:22 timed out")] * 2
    installation = await service.get_installation(installation_id)
    assert (installation.status.value, installation.reachable) == ("running", False)
    assert installation.status_note is not None and "did not answer" in installation.status_note
    [summary] = (await service.list_installed_apps(None, 50, 0)).items
    assert summary.reachable is False and summary.status.value == "running"


async def test_an_interrupted_job_is_reported_and_the_status_reconciled(apps: Any) -> None:
    service, server_id = apps
    installation_id = await installed(service, server_id)
    job_id = new_id()
    await service.jobs.repo.insert({
        "id": job_id, "kind": "update_app", "title": "Update", "status": JobStatus.RUNNING.value,
        "server_id": server_id, "resource": f"app:{server_id}:web", "params": {}, "steps": [], "progress": 40.0,
        "created_at": utcnow(),
    })  # fmt: skip
    await service.jobs.recover_interrupted()  # what the next start of Tomo does
    await service.repo.update(installation_id, {"status": "updating", "last_job_id": job_id})
    installation = await service.get_installation(installation_id)
    assert installation.status.value == "running"
    assert installation.status_note is not None and "without finishing" in installation.status_note
    assert installation.last_job is not None and installation.last_job.status == "interrupted"


async def test_a_running_job_keeps_the_transitional_status(apps: Any) -> None:
    service, server_id = apps
    installation_id = await installed(service, server_id)
    await service.jobs.repo.insert({
        "id": new_id(), "kind": "update_app", "title": "Update", "status": JobStatus.RUNNING.value,
        "server_id": server_id, "resource": f"app:{server_id}:web", "params": {}, "steps": [], "progress": 40.0,
        "created_at": utcnow(),
    })  # fmt: skip
    await service.repo.update(installation_id, {"status": "updating"})
    assert (await service.get_installation(installation_id)).status.value == "updating"


async def test_listing_asks_each_server_once(apps: Any, runner: RecordingRunner) -> None:
    service, server_id = apps
    await installed(service, server_id, "one")
    await installed(service, server_id, "two", app="duo")
    runner.calls.clear()
    summaries = (await service.list_installed_apps(server_id, 50, 0)).items
    assert [(s.name, s.status.value) for s in summaries] == [("one", "running"), ("two", "running")]
    assert runner.argvs() == [["docker", "ps", "--no-trunc", "--format", "{{json .}}", "--all",
                               "--filter", "label=com.docker.compose.project"]]


async def test_health_reports_restarts_and_a_silent_web_ui(apps: Any, server: FakeServer) -> None:
    service, server_id = apps
    installation_id = await installed(service, server_id)
    server.containers["web"][0]["restarts"] = 2

    async def silent(url: str, timeout: float = 5.0) -> HttpCheck:
        return HttpCheck(url=url, ok=False, detail="connection refused")

    service.status.http_check = silent
    health = await service.check_app_health(installation_id)
    assert health.healthy is False and health.services[0].restarts == 2
    assert health.problems == ["service web restarted 2 time(s)",
                               "the web UI at http://192.0.2.10:18080/ does not answer (connection refused)"]


async def test_logs_are_per_service_with_secrets_masked(apps: Any, server: FakeServer, runner: RecordingRunner) -> None:
    service, server_id = apps
    installation_id = await installed(service, server_id, app="vault", secrets={"ADMIN_PASSWORD": "pw-hidden-42"})
    server.fail["logs"] = [CommandResult(0, "2026-11-25T10:00:00.5Z hi password=pw-hidden-42\n",
                                         "2026-11-25T10:00:00.25Z earlier on stderr\n", 1.0)]
    logs = await service.get_app_logs(installation_id, None, 10, "10m")
    assert logs.services == {"web": ["2026-11-25T10:00:00.25Z earlier on stderr",
                                     "2026-11-25T10:00:00.5Z hi password=***"]}
    [argv] = commands(runner, "logs")
    assert argv == ["docker", "logs", "--tail", "10", "--timestamps", "--since", "10m", "--", "web-web-1"]


# -- through the MCP protocol --------------------------------------------------------------------------


async def test_tools_validate_names_and_need_confirm_to_uninstall(apps: Any, runner: RecordingRunner,
                                                                  call: ToolCaller) -> None:
    service, server_id = apps
    bad = await call("install_app", server_id=server_id, app_id="testapps/webby", config={"name": "Bad;Name"})
    assert bad.is_error and runner.calls == []
    installation_id = await installed(service, server_id)
    refused = await call("uninstall_app", installation_id=installation_id)
    assert refused.error == "CONFIRMATION_REQUIRED" and await service.repo.get(installation_id) is not None
    missing = await call("get_installation", installation_id="nope")
    assert missing.error == "INSTALLATION_NOT_FOUND" and "list_installed_apps" in missing.envelope["message"]


async def test_install_through_the_tool_masks_secrets_in_output_and_audit(apps: Any, runner: RecordingRunner,
                                                                          call: ToolCaller) -> None:
    _, server_id = apps
    answer = await call("install_app", server_id=server_id, app_id="testapps/vault", wait_seconds=30,
                        config={"name": "v", "secrets": {"ADMIN_PASSWORD": "pw-audit-77"},
                                "inputs": {"GREETING": "yo"}})
    assert answer.envelope["success"], answer.envelope
    assert answer.data["installation"]["config"]["inputs"]["ADMIN_PASSWORD"] == "***"
    audit = await call("get_audit_log", tool="install_app")
    assert "pw-audit-77" not in json.dumps(audit.envelope) and "pw-audit-77" not in json.dumps(answer.envelope)
    token = runner.files["/srv/apps/v/.env"][0].decode().split("ADMIN_TOKEN='")[1].split("'")[0]
    assert token not in json.dumps(answer.envelope)


async def test_delete_server_refuses_while_apps_are_installed(apps: Any, call: ToolCaller) -> None:
    service, server_id = apps
    await installed(service, server_id)
    refused = await call("delete_server", server_id=server_id, confirm=True)
    assert refused.error == "CONFLICT" and "1 installed app(s)" in refused.envelope["message"]
    assert await service.apps_in_use() == {"testapps/webby"}
