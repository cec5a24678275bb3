"""Many Tomo processes, one truth: real processes on one data directory (SQLite) or one PostgreSQL database.

- An install started through one `tomo serve` keeps running, and succeeds, while a second `tomo serve` starts;
  the second shows the job running with its progress (testbed: a real install of an app healthy after 8 s).
- A settings change or a disabled user made through one `tomo serve --transport http` applies in another
  within 2 s (testbed: execute_command needs a registered server).
- Three processes share one scheduler: a one-second test task runs once a second across them; the leader is
  killed with SIGKILL halfway and another takes over within the lease timeout, with no double run.

The in-process version of these rules is tests/unit/services/instances/test_instances.py.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
from mcp import Client, StdioServerParameters
from tests.appkit import Sandbox, free_port, make_catalog_repo, ok, setup_tomo
from tests.conftest import Answer, ToolCaller
from tests.httpkit import (
    ACCEPT,
    TOMO,
    create_admin,
    create_token,
    envelope_of,
    server_env,
    start_http,
    stop,
    tool_call,
)
from tests.instancekit import TASK, Run, read_runs
from tests.pgkit import fresh_database
from tests.testbed import Testbed

from tomo.database.engine import Database
from tomo.database.repositories.instances import InstanceRepository
from tomo.lib.config import TomoConfig
from tomo.main import build_app

REPO_ROOT = Path(__file__).resolve().parents[2]
INSTANCE_SCRIPT = REPO_ROOT / "tests" / "instancekit.py"
LEASE_S = 3  # instance_lease_s for the scheduler test (its minimum): the leader's lease lasts 2 s
RUN_S = 20.0  # how long the three processes run; the leader is killed halfway
INTERVAL_S = 1.0  # the test task's interval (tests/instancekit.py)
LATE_S = 0.75  # how late a run may start on a loaded 2-core machine (a doubled or missing run is a whole interval)
SPREAD_S = 2.0  # a change made through one process applies in every other within this
ADMIN_PASSWORD = "harbour lights at midnight"
USER_PASSWORD = "seven lanterns over quiet water"


@pytest.fixture(params=["sqlite", "postgresql"])
async def database_url(request: pytest.FixtureRequest) -> AsyncIterator[str | None]:
    """The database every process shares: the SQLite file of the data directory, or a fresh PostgreSQL one."""
    if request.param == "sqlite":
        yield None
        return
    async with fresh_database() as url:
        yield url


def env_for(data_dir: Path, database_url: str | None, **extra: str) -> dict[str, str]:
    """The environment of a `tomo` process on the shared data directory (and database)."""
    return server_env(data_dir, **({"TOMO_DATABASE_URL": database_url} if database_url else {}), **extra)


async def poll(what: str, check: Any, seconds: float) -> float:
    """Call the async ``check`` every 50 ms until it returns True; returns the seconds it took."""
    started = time.monotonic()
    while not await check():
        assert time.monotonic() - started < seconds, f"{what}: not within {seconds} s"
        await asyncio.sleep(0.05)
    return time.monotonic() - started


# -- an install survives another process starting (stdio) ------------------------------------------------------


class StdioCaller(ToolCaller):
    """Calls tools of a `tomo serve` process through the official mcp client (tests/conftest.py's ToolCaller
    does the same in memory with FastMCP's)."""

    async def __call__(self, tool: str, /, **arguments: Any) -> Answer:
        result = await self.client.call_tool(tool, arguments)
        assert result.structured_content is not None, result
        return Answer(result.structured_content, result.is_error)


async def job_when(call: ToolCaller, job_id: str, done: Any, seconds: float) -> dict[str, Any]:
    """get_job until ``done(job)``, failing if the job ends first or time runs out."""
    deadline = time.monotonic() + seconds
    while True:
        job: dict[str, Any] = ok(await call("get_job", job_id=job_id))
        if done(job):
            return job
        assert job["status"] in ("pending", "running") and time.monotonic() < deadline, job
        await asyncio.sleep(0.2)


def composing(job: dict[str, Any]) -> bool:
    return any(s["name"].startswith("start containers") and s["status"] == "running" for s in job["steps"])


@pytest.mark.testbed
async def test_an_install_keeps_running_while_another_process_starts(
    database_url: str | None, tmp_path: Path, testbed: Testbed, sandbox: Sandbox
) -> None:
    params = StdioServerParameters(command=TOMO, args=["serve"], env=env_for(tmp_path / "data", database_url))
    async with Client(params) as client_a:
        a = StdioCaller(client_a)
        server_id = await setup_tomo(a, testbed, sandbox, make_catalog_repo(tmp_path / "catalog"))
        name = sandbox.name("slow")  # healthy 8 s after its container starts
        started = ok(await a("install_app", server_id=server_id, app_id="testapps/slowpoke",
                             config={"name": name, "ports": {"main": free_port(testbed.host)}}, wait_seconds=0))
        job_id = started["job_id"]
        await job_when(a, job_id, composing, 60)
        async with Client(params) as client_b:  # B's start used to mark A's job interrupted
            b = StdioCaller(client_b)
            seen = ok(await b("get_job", job_id=job_id))
            assert seen["status"] == "running" and seen["progress"] > 0 and composing(seen), seen
            live = ok(await b("health_check", detailed=True))["instances"]["live"]
            assert len(live) == 2, live
            finished = await job_when(b, job_id, lambda job: job["status"] not in ("pending", "running"), 120)
        assert finished["status"] == "succeeded", finished
        assert not any("recover" in step["name"] for step in finished["steps"]), finished["steps"]
        listed = ok(await a("list_installed_apps", server_id=server_id))["installations"]
        assert [(i["name"], i["status"]) for i in listed] == [(name, "running")], listed


# -- settings and users reach another process within 2 s (HTTP) ------------------------------------------------


async def http_call(base: str, token: str | None, tool: str, /, **arguments: Any) -> tuple[int, dict[str, Any] | None]:
    """One tools/call over plain HTTP (anonymous without a token): the status code and, if 200, the envelope."""
    headers = {"accept": ACCEPT, **({"authorization": f"Bearer {token}"} if token else {})}
    async with httpx2.AsyncClient(timeout=60) as http:
        response = await http.post(f"{base}/mcp", json=tool_call(tool, **arguments), headers=headers)
    return response.status_code, envelope_of(response) if response.status_code == 200 else None


async def answered(base: str, token: str | None, tool: str, /, **arguments: Any) -> dict[str, Any]:
    status, envelope = await http_call(base, token, tool, **arguments)
    assert status == 200 and envelope is not None, status
    return envelope


@pytest.mark.testbed
async def test_settings_and_user_changes_through_one_http_process_apply_in_another_within_2_s(
    database_url: str | None, tmp_path: Path, testbed: Testbed
) -> None:
    env = env_for(tmp_path / "data", database_url, TOMO_JWT_SECRET="instances-test-secret-0123456789abcdef")
    create_admin(env, "root", ADMIN_PASSWORD)
    root = create_token(env, "root", "it")
    with (tmp_path / "servers.log").open("wb") as log:
        proc_a, a = start_http(env, log)
        try:
            proc_b, b = start_http(env, log)
            try:
                await spread_settings_and_users(a, b, root, testbed)
            finally:
                stop(proc_b)
        finally:
            stop(proc_a)


async def spread_settings_and_users(a: str, b: str, root: str, testbed: Testbed) -> None:
    added = await answered(a, root, "add_server", name="testbed", host=testbed.host, port=testbed.port,
                           username=testbed.user, auth_type="key", private_key=testbed.key.read_text())
    server_id = added["data"]["server"]["id"]
    assert (await answered(a, root, "test_connection", server_id=server_id))["success"]  # A pins the host key

    async def b_runs_commands() -> bool:
        answer = await answered(b, root, "execute_command", server_id=server_id, command="echo hello", confirm=True)
        if answer["success"]:
            assert answer["data"]["stdout_tail"].strip() == "hello", answer
            return True
        assert answer["error"] == "FEATURE_DISABLED", answer
        return False

    async def b_refuses_commands() -> bool:
        return not await b_runs_commands()

    assert await b_refuses_commands()
    assert (await answered(a, root, "update_settings", settings={"allow_execute_command": True}))["success"]
    took_on = await poll("B accepts execute_command", b_runs_commands, SPREAD_S)

    # A pins another server's host key while B runs a command: B reloads its servers, and its command goes on
    command = asyncio.create_task(answered(b, root, "execute_command", server_id=server_id,
                                           command="sleep 2.5; echo still-here", confirm=True))
    other = await answered(a, root, "add_server", name="testbed-2201", host=testbed.host, port=testbed.extra_ports[0],
                           username=testbed.user, auth_type="key", private_key=testbed.key.read_text())
    assert (await answered(a, root, "test_connection", server_id=other["data"]["server"]["id"]))["success"]
    finished = await command
    assert finished["success"] and finished["data"]["stdout_tail"].strip() == "still-here", finished
    assert (await answered(a, root, "update_settings", settings={"allow_execute_command": False}))["success"]
    took_off = await poll("B refuses execute_command", b_refuses_commands, SPREAD_S)

    user = (await answered(a, root, "create_user", username="dana", password=USER_PASSWORD, role="admin"))
    user_id = user["data"]["user"]["id"]
    login = await answered(b, None, "login", username="dana", password=USER_PASSWORD)
    token = login["data"]["token"]
    assert (await answered(b, token, "list_users"))["success"]

    async def b_denies_admin_tools() -> bool:
        answer = await answered(b, token, "list_users")
        return not answer["success"] and answer["error"] == "PERMISSION_DENIED"

    async def b_refuses_the_user() -> bool:
        return (await http_call(b, token, "get_current_user"))[0] == 401

    assert (await answered(a, root, "update_user", user_id=user_id, role="viewer"))["success"]
    took_demoted = await poll("B applies the demotion", b_denies_admin_tools, SPREAD_S)
    assert (await answered(a, root, "update_user", user_id=user_id, active=False))["success"]
    took_disabled = await poll("B refuses the disabled user", b_refuses_the_user, SPREAD_S)
    print(f"\nB followed A: execute_command on {took_on:.2f} s, off {took_off:.2f} s; "  # noqa: T201
          f"user demoted {took_demoted:.2f} s, disabled {took_disabled:.2f} s")


# -- one scheduler across three processes -------------------------------------------------------------------


async def prepare(config: TomoConfig, settings: dict[str, Any]) -> None:
    """Migrate the shared database and store settings, as an admin would before starting the processes."""
    app = build_app(config)
    try:
        await app.database.migrate()
        await app.services["settings_service"].load()
        await app.services["settings_service"].update(settings)
    finally:
        await app.shutdown()


async def scheduler_state(config: TomoConfig) -> tuple[str | None, dict[str, Any]]:
    """The scheduler lease's holder and the test task's row, read straight from the database."""
    database = Database(config.resolved_database_url)
    try:
        repo = InstanceRepository(database)
        lease = await repo.lease("scheduler")
        task = next(row for row in await repo.tasks() if row["name"] == TASK)
    finally:
        await database.dispose()
    return (lease["holder"] if lease else None), task


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[bytes]]]:
    """Processes a test starts; any still running at the end are killed."""
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for proc in started:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)


def start_instances(count: int, config: TomoConfig, runs_file: Path, log: Path,
                    processes: list[subprocess.Popen[bytes]]) -> dict[str, subprocess.Popen[bytes]]:
    """Start ``count`` tests/instancekit.py processes; returns them by instance id once all have started."""
    argv = [sys.executable, str(INSTANCE_SCRIPT), str(config.data_dir), str(runs_file)]
    if config.database_url:
        argv.append(config.database_url)
    with log.open("ab") as out:
        for _ in range(count):
            processes.append(subprocess.Popen(argv, cwd=REPO_ROOT, stdout=out, stderr=out,
                                              env={**os.environ, "TOMO_LOG_LEVEL": "WARNING"}))
    deadline = time.monotonic() + 60
    ready: dict[str, subprocess.Popen[bytes]] = {}
    while len(ready) < count:
        for proc in processes:
            marker = config.data_dir / f"ready-{proc.pid}"
            if marker.exists() and marker.read_text():
                ready[marker.read_text()] = proc
            assert proc.poll() is None, log.read_text()[-3000:]
        assert time.monotonic() < deadline, log.read_text()[-3000:]
        time.sleep(0.1)
    return ready


def gaps(runs: list[Run]) -> list[float]:
    return [round(b.at - a.at, 3) for a, b in zip(runs, runs[1:], strict=False)]


def assert_once_a_second(runs: list[Run], since: float, until: float) -> None:
    """One run per due time from ``since`` to ``until``: run k starts within LATE_S of due time anchor + k.

    A doubled run, or a missing one, shifts every later run a whole interval off that grid. (Consecutive gaps
    alone would not do: a run that starts late is followed by one on time, as the schedule keeps its anchor.)
    """
    offsets = [run.at - k * INTERVAL_S for k, run in enumerate(runs)]
    assert max(offsets) - min(offsets) <= LATE_S, gaps(runs)
    expected = (until - since) / INTERVAL_S
    assert expected - 1 <= len(runs) <= expected + 1, (len(runs), expected, gaps(runs))


async def test_one_scheduler_across_three_processes_outlives_its_leader(
    database_url: str | None, tmp_path: Path, processes: list[subprocess.Popen[bytes]]
) -> None:
    config = TomoConfig(data_dir=tmp_path / "data", database_url=database_url)
    await prepare(config, {"instance_lease_s": LEASE_S})
    runs_file, log = tmp_path / "runs.txt", tmp_path / "instances.log"
    by_id = start_instances(3, config, runs_file, log, processes)
    started = time.monotonic()
    await asyncio.sleep(RUN_S / 2)

    leader, _ = await scheduler_state(config)
    assert leader in by_id, (leader, list(by_id))
    by_id[leader].send_signal(signal.SIGKILL)
    killed = time.monotonic()
    by_id[leader].wait(timeout=10)
    await asyncio.sleep(RUN_S / 2)
    for proc in by_id.values():
        if proc.poll() is None:
            proc.terminate()  # a clean shutdown: releases the lease, deregisters
    ended = time.monotonic()
    for proc in by_id.values():
        proc.wait(timeout=30)
    _, task = await scheduler_state(config)

    runs = read_runs(runs_file)
    before = [run for run in runs if run.at <= killed]
    after = [run for run in runs if run.at > killed]
    steady = [run for run in before[1:] if run.at >= started]  # the very first run may start late (below)
    assert {run.instance for run in before} == {leader}, "another instance ran the task while the leader lived"
    assert_once_a_second(steady, started, killed)
    assert after, "no instance took over"
    assert {run.instance for run in after} == {after[0].instance} != {leader}, "not one successor"
    takeover = after[0].at - killed
    missed = after[0].at - (before[-1].at + INTERVAL_S)  # how late the due time the kill left unserved ran
    print(f"\ntakeover {takeover:.2f} s after the kill; the due time it missed ran {missed:.2f} s late; "  # noqa: T201
          f"gaps between runs: {gaps(runs)}")
    assert takeover <= LEASE_S + LATE_S, takeover
    assert missed <= LEASE_S, missed
    assert_once_a_second(after, after[0].at, ended)
    # The very first run may start late (it is due when the first process creates the task's row, and runs once
    # a leader holds the lease); the next keeps the schedule. From then on, no two runs closer than an interval.
    assert min(gaps(runs[1:])) >= INTERVAL_S - LATE_S, "two runs for one due time"
    assert task["runs"] in (len(runs), len(runs) + 1), (task, len(runs))  # + a run the kill may have cut short
