"""App jobs across real `tomo serve` processes on one data directory, against the testbed's sshd and dockerd.

`kill -9` of the process running an install mid-`compose up`: the next process started on the data directory, or a
live one, takes the job over and rolls it back (no container, file or record left; the job says who recovered it
and how). Two processes calling install_app (then update_app) at the same moment: one proceeds, the other gets
CONFLICT and leaves nothing. Each test records the Compose projects it may create and removes them at the end.
"""

from __future__ import annotations

import asyncio
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from tests.appkit import Sandbox, free_port, make_catalog_repo, ok, setup_tomo, wait_until
from tests.conftest import Answer
from tests.httpkit import create_admin, create_token, mcp_client, server_env, start_http, stop
from tests.pgkit import fresh_database
from tests.testbed import Testbed

pytestmark = pytest.mark.testbed

LEASE_S = 3
RECOVER_INTERVAL_S = LEASE_S / 2  # every instance looks for dead instances' jobs this often
SLACK_S = 3  # scheduling on a loaded two-core machine (SQLite shared by the processes and other test runs)


class Caller:
    """Calls tools of one `tomo serve` process through the official mcp client (a session per call, so no
    client outlives a test's task); returns the envelope."""

    def __init__(self, url: str, token: str) -> None:
        self.url, self.token = url, token

    async def __call__(self, tool: str, /, **arguments: Any) -> Answer:
        async with mcp_client(self.url, self.token) as client:
            result = await client.call_tool(tool, arguments)
        assert result.structured_content is not None, result
        return Answer(result.structured_content, bool(result.is_error))


@dataclass
class Tomo:
    """One `tomo serve --transport http` process on the shared data directory."""

    proc: subprocess.Popen[bytes]
    call: Caller


class Instances:
    """Starts Tomo processes on one data directory (one admin token for all) and stops those left at the end."""

    def __init__(self, data_dir: Path, database_url: str | None = None) -> None:
        self.env = server_env(data_dir, **({"TOMO_DATABASE_URL": database_url} if database_url else {}))
        self.data_dir = data_dir
        self.procs: list[subprocess.Popen[bytes]] = []
        create_admin(self.env, "root", "harbour lights at midnight")
        self.token = create_token(self.env, "root", "recovery-tests")

    def start(self) -> Tomo:
        with (self.data_dir / f"serve-{len(self.procs)}.log").open("wb") as log:
            proc, base = start_http(self.env, log)
        self.procs.append(proc)
        return Tomo(proc, Caller(f"{base}/mcp", self.token))

    def stop_all(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                stop(proc)


@pytest.fixture(params=["sqlite", "postgresql"])
async def database_url(request: pytest.FixtureRequest) -> AsyncIterator[str | None]:
    """The database the processes share: the data directory's SQLite file, or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        yield None
        return
    async with fresh_database() as url:
        yield url


@pytest.fixture
def instances(tmp_path: Path, database_url: str | None) -> Iterator[Instances]:
    started = Instances(tmp_path / "data", database_url)
    yield started
    started.stop_all()


async def prepared(instances: Instances, testbed: Testbed, sandbox: Sandbox, tmp_path: Path) -> tuple[Tomo, str]:
    """A process on a data directory with the testbed server registered, the test catalog synced and a 3 s lease
    (set, then the process restarted, so no lease taken under the default 30 s is still held); returns it and
    the server id."""
    setup = instances.start()
    server_id = await setup_tomo(setup.call, testbed, sandbox, make_catalog_repo(tmp_path / "catalog"))
    ok(await setup.call("update_settings", settings={"instance_lease_s": LEASE_S}))
    stop(setup.proc)
    return instances.start(), server_id


async def install_cut_off(tomo: Tomo, server_id: str, sandbox: Sandbox, testbed: Testbed) -> tuple[str, str]:
    """Start installing slowpoke (healthy after 8 s) and `kill -9` its process inside `compose up`, once the
    containers exist; returns the project name and the job id."""
    name = sandbox.name("slow")
    started = ok(await tomo.call("install_app", server_id=server_id, app_id="testapps/slowpoke",
                                 config={"name": name, "ports": {"main": free_port(testbed.host)}}, wait_seconds=0))
    job_id = str(started["job_id"])
    deadline = time.monotonic() + 30
    while not any(step["name"].startswith("start containers") and step["status"] == "running"
                  for step in ok(await tomo.call("get_job", job_id=job_id))["steps"]):
        assert time.monotonic() < deadline, "the install never reached compose up"
        await asyncio.sleep(0.1)
    wait_until(lambda: bool(sandbox.containers(name)))
    assert sandbox.project_dir(name).exists()
    tomo.proc.kill()
    tomo.proc.wait(timeout=10)
    return name, job_id


async def finished_job(tomo: Tomo, job_id: str, seconds: float) -> dict[str, Any]:
    deadline = time.monotonic() + seconds
    while True:
        job: dict[str, Any] = ok(await tomo.call("get_job", job_id=job_id))
        if job["status"] not in ("pending", "running"):
            return job
        assert time.monotonic() < deadline, job
        await asyncio.sleep(0.25)


def assert_rolled_back(job: dict[str, Any], sandbox: Sandbox, name: str) -> datetime:
    """The job ends interrupted, recovered with the install's own rollback steps; nothing is left on the server.
    Returns when the recovery started."""
    assert job["status"] == "interrupted" and job["error"]["code"] == "JOB_INTERRUPTED", job
    assert "stopped; recovered by instance" in job["message"], job["message"]
    assert "rolled back as a failed install is" in job["message"], job["message"]
    steps = {step["name"]: step for step in job["steps"]}
    assert steps["start containers (docker compose up --wait)"]["status"] == "failed"
    recover = next(step for step in job["steps"] if step["name"].startswith("recover (by instance "))
    assert recover["status"] == "ok", recover
    for name_ in ("roll back: remove containers", "roll back: remove new volumes", "roll back: remove uploaded files"):
        assert steps[name_]["status"] == "ok", steps[name_]
    sandbox.assert_nothing_left(name)
    return datetime.fromisoformat(recover["started_at"])


async def test_kill_9_during_compose_up_is_rolled_back_by_the_next_start(
    instances: Instances, testbed: Testbed, sandbox: Sandbox, tmp_path: Path
) -> None:
    first, server_id = await prepared(instances, testbed, sandbox, tmp_path)
    name, job_id = await install_cut_off(first, server_id, sandbox, testbed)
    second = instances.start()  # its start-up recovers the job of the dead process
    job = await finished_job(second, job_id, LEASE_S + RECOVER_INTERVAL_S)
    assert_rolled_back(job, sandbox, name)
    assert ok(await second.call("list_installed_apps"))["installations"] == []


async def test_kill_9_during_compose_up_is_rolled_back_by_a_live_instance(
    instances: Instances, testbed: Testbed, sandbox: Sandbox, tmp_path: Path
) -> None:
    first, server_id = await prepared(instances, testbed, sandbox, tmp_path)
    live = instances.start()
    name, job_id = await install_cut_off(first, server_id, sandbox, testbed)
    killed = datetime.now(UTC)
    job = await finished_job(live, job_id, LEASE_S + RECOVER_INTERVAL_S + 20)
    adopted = assert_rolled_back(job, sandbox, name)
    delay = (adopted - killed).total_seconds()
    assert delay <= LEASE_S + RECOVER_INTERVAL_S + SLACK_S, delay
    assert ok(await live.call("list_installed_apps"))["installations"] == []


async def test_two_processes_installing_or_updating_one_app_at_once_one_proceeds_the_other_conflicts(
    instances: Instances, testbed: Testbed, sandbox: Sandbox, tmp_path: Path
) -> None:
    first, server_id = await prepared(instances, testbed, sandbox, tmp_path)
    second = instances.start()
    name, port = sandbox.name("web"), free_port(testbed.host)
    answers = await asyncio.gather(*(tomo.call("install_app", server_id=server_id, app_id="testapps/webby",
                                               config={"name": name, "ports": {"main": port}}, wait_seconds=0)
                                     for tomo in (first, second)))
    [winner] = [answer for answer in answers if answer.envelope["success"]]
    [loser] = [answer for answer in answers if not answer.envelope["success"]]
    assert loser.error == "CONFLICT" and winner.data["job_id"] in loser.envelope["message"], loser.envelope
    job = await finished_job(first, winner.data["job_id"], 60)
    assert job["status"] == "succeeded", job
    [installation] = ok(await second.call("list_installed_apps"))["installations"]
    assert installation["name"] == name and installation["status"] == "running"

    answers = await asyncio.gather(*(tomo.call("update_app", installation_id=installation["id"], version="2",
                                               wait_seconds=0) for tomo in (first, second)))
    [winner] = [answer for answer in answers if answer.envelope["success"]]
    [loser] = [answer for answer in answers if not answer.envelope["success"]]
    assert loser.error == "CONFLICT" and winner.data["job_id"] in loser.envelope["message"], loser.envelope
    job = await finished_job(second, winner.data["job_id"], 60)
    assert job["status"] == "succeeded", job
    updated = ok(await first.call("get_installation", installation_id=installation["id"]))
    assert updated["app_version"] == "2" and updated["status"] == "running", updated
    assert updated["last_job"]["id"] == winner.data["job_id"]
    ok(await first.call("uninstall_app", installation_id=installation["id"], remove_data=True, confirm=True,
                          wait_seconds=60))
    sandbox.assert_nothing_left(name)
