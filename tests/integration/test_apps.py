"""App deployment on the testbed's real sshd and dockerd, through the MCP tools.

Each test gets its own apps folder (owned by the SSH user) and unique Compose project names; a finalizer
removes every container, volume, network and folder they may have created, whatever the outcome. The
catalog is tests/fixtures/catalog-apps, committed to a git repository in tmp_path and synced.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import stat
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastmcp import Client
from tests.appkit import Sandbox, commit_change, free_port, http_get, make_catalog_repo, ok, setup_tomo, wait_until
from tests.authkit import act_as_user
from tests.conftest import Answer, ToolCaller
from tests.testbed import IMAGE_BUSYBOX_V1, Testbed, docker_in_testbed

from tomo.database.tables_apps import installations
from tomo.main import TomoApp
from tomo.models.principal import Role

pytestmark = pytest.mark.testbed


@pytest.fixture
def catalog(tmp_path: Path) -> Path:
    return make_catalog_repo(tmp_path / "catalog")


@pytest.fixture
async def server_id(call: ToolCaller, testbed: Testbed, sandbox: Sandbox, catalog: Path) -> str:
    return await setup_tomo(call, testbed, sandbox, catalog)


async def install(call: ToolCaller, server_id: str, app: str, name: str, port: int, **config: Any) -> Answer:
    return await call("install_app", server_id=server_id, app_id=f"testapps/{app}",
                      config={"name": name, "ports": {"main": port}, **config}, wait_seconds=180)


async def installed(call: ToolCaller, server_id: str, app: str, name: str, port: int, **config: Any) -> dict[str, Any]:
    installation: dict[str, Any] = ok(await install(call, server_id, app, name, port, **config))["installation"]
    return installation


def failed_job(answer: Answer) -> dict[str, Any]:
    assert not answer.envelope["success"], answer.envelope
    assert answer.error == "DEPLOYMENT_FAILED", answer.envelope
    job: dict[str, Any] = answer.data["job"]
    return job


def container_state(name: str) -> str:
    return docker_in_testbed("inspect", "--format", "{{.State.Status}}", name).stdout.strip()


# -- installing ---------------------------------------------------------------------------------------


async def test_one_service_web_app_answers_http_200_at_the_chosen_port(
    call: ToolCaller, server_id: str, sandbox: Sandbox, testbed: Testbed
) -> None:
    port = free_port(testbed.host)
    installation = await installed(call, server_id, "webby", sandbox.name("web"), port)
    assert installation["status"] == "running"
    assert installation["urls"] == [f"http://{testbed.host}:{port}/"]
    status, body = http_get(testbed.host, port)
    assert status == 200 and "version 1" in body
    listed = ok(await call("list_installed_apps", server_id=server_id))["installations"]
    assert [(i["id"], i["status"]) for i in listed] == [(installation["id"], "running")]


async def test_two_service_app_runs_both_services(
    call: ToolCaller, server_id: str, sandbox: Sandbox, testbed: Testbed
) -> None:
    name = sandbox.name("duo")
    installation = await installed(call, server_id, "duo", name, free_port(testbed.host))
    assert sorted(s["service"] for s in installation["services"]) == ["sidecar", "web"]
    states = [container_state(cid) for cid in sandbox.containers(name)]
    assert states == ["running", "running"]
    assert sandbox.volumes(name) == [f"{name}_cache"]


async def test_validate_app_config_reports_without_changing_anything(
    call: ToolCaller, server_id: str, sandbox: Sandbox, testbed: Testbed
) -> None:
    name = sandbox.name("vault")
    report = ok(await call("validate_app_config", server_id=server_id, app_id="testapps/vault",
                           config={"name": name, "inputs": {"ADMIN_PASSWORD": "short"}, "ports": {"main": 22}}))
    assert report["valid"] is False
    assert any("ADMIN_PASSWORD" in error and "at least 8" in error for error in report["errors"])
    good = ok(await call("validate_app_config", server_id=server_id, app_id="testapps/vault",
                         config={"name": name, "secrets": {"ADMIN_PASSWORD": "long-enough-pw"},
                                 "ports": {"main": 22}}))
    assert good["valid"] is False and any("22/tcp" in error for error in good["errors"])  # sshd listens there
    assert good["generated_secrets"] == ["ADMIN_TOKEN"]
    assert good["env"]["ADMIN_TOKEN"] == "***" and good["env"]["ADMIN_PASSWORD"] == "***"
    assert "long-enough-pw" not in json.dumps(good) and "- 22:80" in good["compose"]
    sandbox.assert_nothing_left(name)


async def test_an_unprepared_apps_folder_is_reported_before_any_upload(
    call: ToolCaller, server_id: str, sandbox: Sandbox, testbed: Testbed
) -> None:
    missing = sandbox.apps_root / "not-prepared"
    ok(await call("update_settings", settings={"apps_root": str(missing)}))
    name = sandbox.name("web")
    report = ok(await call("validate_app_config", server_id=server_id, app_id="testapps/webby",
                           config={"name": name, "ports": {"main": free_port(testbed.host)}}))
    assert report["valid"] is False
    assert [e for e in report["errors"] if "prepare_server" in e and "does not exist" in e], report["errors"]
    job = failed_job(await install(call, server_id, "webby", name, free_port(testbed.host)))
    assert "prepare_server" in job["error"]["message"] and "SFTP" not in job["error"]["message"], job["error"]
    assert not missing.exists()
    missing.mkdir(mode=0o555)  # there, but the SSH user may not write to it
    try:
        report = ok(await call("validate_app_config", server_id=server_id, app_id="testapps/webby",
                               config={"name": name, "ports": {"main": free_port(testbed.host)}}))
        assert [e for e in report["errors"] if "prepare_server" in e and "cannot write" in e], report["errors"]
    finally:
        missing.rmdir()


# -- failures leave nothing behind -------------------------------------------------------------------------


async def test_install_rejects_a_port_already_in_use(
    call: ToolCaller, server_id: str, sandbox: Sandbox, testbed: Testbed
) -> None:
    port = free_port(testbed.host)
    squatter = sandbox.name("squatter")
    docker_in_testbed("run", "--detach", "--name", squatter, "--label", f"com.docker.compose.project={squatter}",
                      "--publish", f"{port}:80", IMAGE_BUSYBOX_V1, check=True)
    name = sandbox.name("web")
    job = failed_job(await install(call, server_id, "webby", name, port))
    assert f"host port {port}/tcp" in job["error"]["message"] and "config.ports" in job["error"]["message"]
    sandbox.assert_nothing_left(name)
    assert ok(await call("list_installed_apps"))["installations"] == []


async def test_exiting_container_fails_with_its_log_tail_and_leaves_nothing(
    call: ToolCaller, server_id: str, sandbox: Sandbox, testbed: Testbed
) -> None:
    name = sandbox.name("crash")
    job = failed_job(await install(call, server_id, "crasher", name, free_port(testbed.host)))
    steps = {step["name"]: step for step in job["steps"]}
    assert "exiting with status 1" in steps["collect logs of the failing containers"]["detail"]
    assert "rolled back" in job["error"]["message"]
    sandbox.assert_nothing_left(name)


async def test_failing_health_check_fails_and_leaves_nothing(
    call: ToolCaller, server_id: str, sandbox: Sandbox, testbed: Testbed
) -> None:
    name = sandbox.name("sick")
    job = failed_job(await install(call, server_id, "sickly", name, free_port(testbed.host)))
    assert "unhealthy" in job["error"]["message"]
    assert any(s["name"].startswith("start containers") and s["status"] == "failed" for s in job["steps"])
    sandbox.assert_nothing_left(name)


def sshd_pids_serving(testbed: Testbed, local_port: int) -> list[int]:
    out = subprocess.run(["ip", "netns", "exec", "tomo-remote", "ss", "-Htnp", "state", "established",
                          f"( sport = :{testbed.port} and dport = :{local_port} )"],
                         capture_output=True, text=True, check=True, timeout=10).stdout
    return sorted({int(part.split("=")[1]) for part in out.replace(",", " ").split() if part.startswith("pid=")})


async def wait_for_job(call: ToolCaller, job_id: str, seconds: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + seconds
    while True:
        job: dict[str, Any] = ok(await call("get_job", job_id=job_id))
        if job["status"] not in ("pending", "running"):
            return job
        assert time.monotonic() < deadline, job
        await asyncio.sleep(0.2)


async def wait_for_step(call: ToolCaller, job_id: str, prefix: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while True:
        job = ok(await call("get_job", job_id=job_id))
        if any(s["name"].startswith(prefix) and s["status"] == "running" for s in job["steps"]):
            return
        assert time.monotonic() < deadline and job["status"] in ("pending", "running"), job
        await asyncio.sleep(0.1)


async def test_ssh_drop_during_compose_up_fails_and_leaves_nothing(
    call: ToolCaller, server_id: str, sandbox: Sandbox, testbed: Testbed, tomo_app: TomoApp
) -> None:
    name = sandbox.name("slow")
    started = ok(await call("install_app", server_id=server_id, app_id="testapps/slowpoke",
                            config={"name": name, "ports": {"main": free_port(testbed.host)}}, wait_seconds=0))
    await wait_for_step(call, started["job_id"], "start containers")
    wait_until(lambda: bool(sandbox.containers(name)))  # compose is inside `up`, waiting for health
    connection = tomo_app.services["ssh_pool"].current()._connection_for_tests(server_id)
    pids = sshd_pids_serving(testbed, connection.get_extra_info("sockname")[1])
    assert pids
    for pid in pids:  # the sshd processes serving Tomo's pooled connection: the link drops mid-`up`
        os.kill(pid, signal.SIGKILL)
    job = await wait_for_job(call, started["job_id"])
    assert (job["status"], job["error"]["code"]) == ("failed", "DEPLOYMENT_FAILED"), job
    assert "start containers" in job["error"]["message"] and "test_connection" in job["error"]["message"]
    sandbox.assert_nothing_left(name)
    assert ok(await call("list_installed_apps"))["installations"] == []


async def test_secrets_are_masked_everywhere_and_encrypted_in_the_database(
    call: ToolCaller, server_id: str, sandbox: Sandbox, testbed: Testbed, tomo_app: TomoApp,
    capfd: pytest.CaptureFixture[str],
) -> None:
    password = "pw-Zq81-never-shown"
    pin = "8642-1357"  # a password input given under `inputs`, with a name redaction cannot recognise
    name = sandbox.name("vault")
    answers = [await install(call, server_id, "vault", name, free_port(testbed.host),
                             secrets={"ADMIN_PASSWORD": password}, inputs={"GREETING": "hi", "PIN": pin})]
    installation = ok(answers[0])["installation"]
    env_path = sandbox.project_dir(name) / ".env"
    assert stat.S_IMODE(env_path.stat().st_mode) == 0o600
    token = next(line.split("=", 1)[1].strip("'") for line in env_path.read_text().splitlines()
                 if line.startswith("ADMIN_TOKEN="))
    assert len(token) == 40
    answers.append(await call("get_installation", installation_id=installation["id"]))
    logs = await call("get_app_logs", installation_id=installation["id"])
    answers += [logs, await call("get_job", job_id=answers[0].data["job_id"]),
                await call("list_installed_apps"), await call("check_app_health", installation_id=installation["id"]),
                await call("get_audit_log"), await call("get_logs", level="DEBUG", limit=1000)]
    async with Client(tomo_app.mcp) as client:  # the compose resource reads the file on the server over SFTP
        contents = await client.read_resource(f"tomo://apps/{installation['id']}/compose")
    compose = json.loads(contents[0].text)
    assert compose["path"] == f"{installation['project_dir']}/compose.yaml", compose
    assert compose["compose"] == (sandbox.project_dir(name) / "compose.yaml").read_text()
    assert "services:" in compose["compose"]
    captured_texts = [contents[0].text]
    assert any("hi token=*** password=***" in line for line in ok(logs)["services"]["web"])
    assert ok(answers[1])["config"]["inputs"] == {"ADMIN_TOKEN": "***", "ADMIN_PASSWORD": "***", "PIN": "***",
                                                   "GREETING": "hi"}
    captured = capfd.readouterr()
    for text in [*(json.dumps(a.envelope) for a in answers), *captured_texts, captured.out, captured.err]:
        assert password not in text and token not in text and pin not in text
    async with tomo_app.database.connect() as conn:
        stored = (await conn.execute(sa.select(installations.c.secrets))).scalar_one()
    assert password not in stored and token not in stored
    assert await tomo_app.services["encryptor"].decrypt_json(stored) == {"ADMIN_TOKEN": token,
                                                                         "ADMIN_PASSWORD": password, "PIN": pin}


async def test_a_viewer_reading_raw_container_logs_sees_the_installations_secrets_masked(
    call: ToolCaller, server_id: str, sandbox: Sandbox, testbed: Testbed, tomo_app: TomoApp
) -> None:
    password = "pw-Raw-logs-7731"
    name = sandbox.name("vault")
    await installed(call, server_id, "vault", name, free_port(testbed.host), secrets={"ADMIN_PASSWORD": password})
    token = next(line.split("=", 1)[1].strip("'") for line in
                 (sandbox.project_dir(name) / ".env").read_text().splitlines() if line.startswith("ADMIN_TOKEN="))
    await act_as_user(tomo_app, "vic", Role.VIEWER)
    logs = ok(await call("container_logs", server_id=server_id, container=f"{name}-web-1"))
    assert any("hello token=*** password=***" in line for line in logs["lines"]), logs["lines"]
    detail = ok(await call("inspect_container", server_id=server_id, container=f"{name}-web-1"))
    text = json.dumps([logs, detail])
    assert password not in text and token not in text
    assert "ADMIN_PASSWORD" in detail["env_names"]
    other = sandbox.name("plain")  # a container of no installation: its output is only redacted, as before
    docker_in_testbed("run", "--detach", "--name", other, "--label", f"com.docker.compose.project={other}",
                      IMAGE_BUSYBOX_V1, "sh", "-c", f"echo {password} && sleep 60", check=True)
    wait_until(lambda: password in docker_in_testbed("logs", other).stdout)
    assert any(password in line for line in ok(await call("container_logs", server_id=server_id,
                                                          container=other))["lines"])


# -- running apps ---------------------------------------------------------------------------------------


async def test_stop_start_restart_change_what_docker_reports(
    call: ToolCaller, server_id: str, sandbox: Sandbox, testbed: Testbed
) -> None:
    name = sandbox.name("web")
    installation = await installed(call, server_id, "webby", name, free_port(testbed.host))
    container = f"{name}-web-1"
    assert ok(await call("stop_app", installation_id=installation["id"]))["status"] == "stopped"
    assert container_state(container) == "exited"
    assert ok(await call("start_app", installation_id=installation["id"]))["status"] == "running"
    assert container_state(container) == "running"
    before = docker_in_testbed("inspect", "--format", "{{.State.StartedAt}}", container).stdout
    assert ok(await call("restart_app", installation_id=installation["id"]))["status"] == "running"
    assert docker_in_testbed("inspect", "--format", "{{.State.StartedAt}}", container).stdout != before


async def test_a_container_stopped_by_hand_shows_as_stopped(
    call: ToolCaller, server_id: str, sandbox: Sandbox, testbed: Testbed
) -> None:
    name = sandbox.name("web")
    installation = await installed(call, server_id, "webby", name, free_port(testbed.host))
    docker_in_testbed("stop", f"{name}-web-1", check=True)
    assert ok(await call("get_installation", installation_id=installation["id"]))["status"] == "stopped"
    listed = ok(await call("list_installed_apps"))["installations"]
    assert [i["status"] for i in listed] == ["stopped"]
    health = ok(await call("check_app_health", installation_id=installation["id"]))
    assert health["healthy"] is False and health["services"][0]["state"] == "exited"


async def test_app_logs_are_per_service_and_bounded(
    call: ToolCaller, server_id: str, sandbox: Sandbox, testbed: Testbed
) -> None:
    installation = await installed(call, server_id, "vault", sandbox.name("vault"), free_port(testbed.host),
                                   secrets={"ADMIN_PASSWORD": "password-123"})
    logs = ok(await call("get_app_logs", installation_id=installation["id"], service="web", tail=1))
    assert list(logs["services"]) == ["web"] and len(logs["services"]["web"]) == 1
    missing = await call("get_app_logs", installation_id=installation["id"], service="db")
    assert missing.error == "VALIDATION_ERROR" and "web" in missing.envelope["message"]


# -- update and uninstall --------------------------------------------------------------------------------


async def test_update_to_a_new_catalog_version_serves_it(
    call: ToolCaller, server_id: str, sandbox: Sandbox, testbed: Testbed, catalog: Path
) -> None:
    port = free_port(testbed.host)
    installation = await installed(call, server_id, "webby", sandbox.name("web"), port)
    commit_change(catalog, "webby", 'version: "1"', 'version: "2"')
    commit_change(catalog, "webby", "tomo-test/busybox:1", "tomo-test/busybox:2")
    ok(await call("sync_repo", repo_id="testapps", wait_seconds=60))
    updated = ok(await call("update_app", installation_id=installation["id"], wait_seconds=180))["installation"]
    assert updated["app_version"] == "2" and updated["history"][-1]["action"] == "updated"
    assert "version 2" in http_get(testbed.host, port)[1]


async def test_update_to_a_failing_version_rolls_back_and_keeps_serving(
    call: ToolCaller, server_id: str, sandbox: Sandbox, testbed: Testbed, catalog: Path
) -> None:
    port = free_port(testbed.host)
    name = sandbox.name("web")
    installation = await installed(call, server_id, "webby", name, port)
    commit_change(catalog, "webby", 'version: "1"', 'version: "2"')
    commit_change(catalog, "webby", "exec httpd -f -p 80 -h /www", "echo version 2 is broken >&2 && exit 3")
    ok(await call("sync_repo", repo_id="testapps", wait_seconds=60))
    job = failed_job(await call("update_app", installation_id=installation["id"], wait_seconds=180))
    assert "Rolled back: version 1 runs again" in job["error"]["message"]
    assert "version 2 is broken" in job["error"]["message"]
    assert "version 1" in http_get(testbed.host, port)[1]
    after = ok(await call("get_installation", installation_id=installation["id"]))
    assert (after["status"], after["app_version"]) == ("running", "1")
    assert [e["action"] for e in after["history"]] == ["installed", "update_rolled_back"]
    assert "exec httpd" in (sandbox.project_dir(name) / "compose.yaml").read_text()


async def test_update_to_an_image_tag_by_version(
    call: ToolCaller, server_id: str, sandbox: Sandbox, testbed: Testbed
) -> None:
    port = free_port(testbed.host)
    installation = await installed(call, server_id, "webby", sandbox.name("web"), port)
    updated = ok(await call("update_app", installation_id=installation["id"], version="2", wait_seconds=180))
    assert updated["installation"]["app_version"] == "2"
    assert "version 2" in http_get(testbed.host, port)[1]


async def test_uninstall_keeps_data_by_default_and_removes_it_on_request(
    call: ToolCaller, server_id: str, sandbox: Sandbox, testbed: Testbed
) -> None:
    name = sandbox.name("web")
    marker = sandbox.project_dir(name) / "data" / "logs" / "started.txt"
    first = await installed(call, server_id, "webby", name, free_port(testbed.host))
    assert marker.read_text() == "started\n" and marker.stat().st_uid == 0  # written by the container, as root
    refused = await call("uninstall_app", installation_id=first["id"])
    assert refused.error == "CONFIRMATION_REQUIRED"
    ok(await call("uninstall_app", installation_id=first["id"], confirm=True, wait_seconds=120))
    assert sandbox.containers(name) == [] and marker.exists()
    assert sorted(p.name for p in sandbox.project_dir(name).iterdir()) == ["data"]
    second = await installed(call, server_id, "webby", name, free_port(testbed.host))
    assert marker.read_text() == "started\nstarted\n"
    ok(await call("uninstall_app", installation_id=second["id"], remove_data=True, confirm=True, wait_seconds=120))
    sandbox.assert_nothing_left(name)
    assert ok(await call("list_installed_apps"))["installations"] == []


async def test_remove_data_without_sudo_uses_a_helper_container(
    call: ToolCaller, testbed: Testbed, tmp_path: Path
) -> None:
    sandbox = Sandbox(testbed, user_name=testbed.nosudo_user)  # in group docker, cannot sudo
    try:
        server_id = await setup_tomo(call, testbed, sandbox, make_catalog_repo(tmp_path / "catalog"))
        name = sandbox.name("web")
        installation = await installed(call, server_id, "webby", name, free_port(testbed.host))
        assert (sandbox.project_dir(name) / "data" / "logs").stat().st_uid == 0
        database = sandbox.project_dir(name) / "data" / "db"  # as a database image leaves it: uid 999, mode 0700
        (database / "base").mkdir(parents=True)
        (database / "base" / "1259").write_text("rows")
        for path in (database, database / "base", database / "base" / "1259"):
            os.chown(path, 999, 999)
        database.chmod(0o700)
        (database / "base").chmod(0o700)
        done = ok(await call("uninstall_app", installation_id=installation["id"], remove_data=True, confirm=True,
                             wait_seconds=120))
        assert any("(container)" in (step["detail"] or "") for step in done["job"]["steps"]), done["job"]["steps"]
        sandbox.assert_nothing_left(name)
    finally:
        sandbox.cleanup()


# -- concurrency and the other features' hooks --------------------------------------------------------------


async def test_different_apps_install_concurrently_and_a_busy_one_conflicts(
    call: ToolCaller, server_id: str, sandbox: Sandbox, testbed: Testbed
) -> None:
    slow = sandbox.name("slow")
    config = {"name": slow, "ports": {"main": free_port(testbed.host)}}
    started = ok(await call("install_app", server_id=server_id, app_id="testapps/slowpoke", config=config,
                            wait_seconds=0))
    again = await call("install_app", server_id=server_id, app_id="testapps/slowpoke", config=config)
    assert again.error == "CONFLICT" and started["job_id"] in again.envelope["message"]
    busy_id = ok(await call("list_installed_apps"))["installations"][0]["id"]
    assert (await call("stop_app", installation_id=busy_id)).error == "CONFLICT"
    other = await installed(call, server_id, "webby", sandbox.name("web"), free_port(testbed.host))
    assert other["status"] == "running"
    assert ok(await call("get_job", job_id=started["job_id"]))["status"] == "running"  # webby did not wait
    assert (await wait_for_job(call, started["job_id"]))["status"] == "succeeded"
    assert ok(await call("get_installation", installation_id=busy_id))["status"] == "running"


async def test_delete_server_refuses_while_apps_are_installed(
    call: ToolCaller, server_id: str, sandbox: Sandbox, testbed: Testbed
) -> None:
    await installed(call, server_id, "webby", sandbox.name("web"), free_port(testbed.host))
    refused = await call("delete_server", server_id=server_id, confirm=True)
    assert refused.error == "CONFLICT" and "1 installed app(s)" in refused.envelope["message"]


async def test_an_installed_app_removed_upstream_stays_as_deprecated(
    call: ToolCaller, server_id: str, sandbox: Sandbox, testbed: Testbed, catalog: Path
) -> None:
    from tests.appkit import git

    installation = await installed(call, server_id, "webby", sandbox.name("web"), free_port(testbed.host))
    git(catalog, "rm", "-r", "--quiet", "apps/webby")
    git(catalog, "commit", "--quiet", "--message", "drop webby")
    ok(await call("sync_repo", repo_id="testapps", wait_seconds=60))
    assert ok(await call("get_installation", installation_id=installation["id"]))["app_deprecated"] is True
    assert ok(await call("get_marketplace_app", app_id="testapps/webby"))["app"]["deprecated"] is True

