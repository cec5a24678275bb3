"""Jobs survive a crash as 'interrupted'; steps and errors are persisted."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from fastmcp import Client
from tests.toolpkg import ECHO_MODULE, make_tool_package

from tomo.lib.config import TomoConfig
from tomo.main import build_app

CRASHING_PROCESS = '''
import asyncio, os, sys
sys.path.insert(0, {pkgs!r})
from fastmcp import Client
from tomo.lib.config import TomoConfig
from tomo.main import build_app

async def main():
    app = build_app(TomoConfig(data_dir={data!r}), tool_packages=("tomo.tools", {package!r}))
    async with Client(app.mcp) as client:
        result = await client.call_tool("echo_sleep_job", {{"seconds": 5, "wait_seconds": 1}})
        print(result.structured_content["data"]["job_id"], flush=True)
        os._exit(1)  # simulate a crash: no shutdown, the job is still running

asyncio.run(main())
'''


async def test_job_running_at_crash_is_interrupted_after_restart(tmp_path: Path) -> None:
    package = make_tool_package(tmp_path / "pkgs", {"echo": ECHO_MODULE})
    data = tmp_path / "data"
    script = CRASHING_PROCESS.format(pkgs=str(tmp_path / "pkgs"), data=str(data), package=package)
    env = {**os.environ, "FASTMCP_LOG_ENABLED": "false"}
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(script)], capture_output=True, text=True,
                          timeout=60, env=env)
    assert proc.returncode == 1, proc.stderr
    job_id = proc.stdout.strip().splitlines()[-1]

    app = build_app(TomoConfig(data_dir=data), tool_packages=("tomo.tools", package))
    async with Client(app.mcp) as client:
        result = await client.call_tool("get_job", {"job_id": job_id})
    job = result.structured_content["data"]
    assert job["status"] == "interrupted"
    assert job["error"]["code"] == "JOB_INTERRUPTED"
    assert job["steps"][0]["name"] == "sleeping"
    assert job["progress"] > 0


async def test_list_jobs_filters_by_status(tmp_path: Path) -> None:
    package = make_tool_package(tmp_path / "pkgs", {"echo": ECHO_MODULE})
    app = build_app(TomoConfig(data_dir=tmp_path / "data"), tool_packages=("tomo.tools", package))
    async with Client(app.mcp) as client:
        await client.call_tool("echo_sleep_job", {"seconds": 0.05})
        await client.call_tool("echo_sleep_job", {"seconds": 0.05, "fail": True}, raise_on_error=False)
        failed = await client.call_tool("list_jobs", {"status": "failed"})
        everything = await client.call_tool("list_jobs", {})
    assert [j["status"] for j in failed.structured_content["data"]["jobs"]] == ["failed"]
    assert len(everything.structured_content["data"]["jobs"]) == 2
    assert "steps" not in everything.structured_content["data"]["jobs"][0]


async def test_cancel_finished_job_is_a_conflict(tmp_path: Path) -> None:
    package = make_tool_package(tmp_path / "pkgs", {"echo": ECHO_MODULE})
    app = build_app(TomoConfig(data_dir=tmp_path / "data"), tool_packages=("tomo.tools", package))
    async with Client(app.mcp) as client:
        done = await client.call_tool("echo_sleep_job", {"seconds": 0.01})
        job_id = done.structured_content["data"]["job_id"]
        again = await client.call_tool("cancel_job", {"job_id": job_id}, raise_on_error=False)
    assert again.structured_content["error"] == "CONFLICT"


async def test_concurrent_starts_on_one_resource_admit_exactly_one(tmp_path: Path) -> None:
    import asyncio

    from tomo.errors import ConflictError

    app = build_app(TomoConfig(data_dir=tmp_path / "data"))
    await app.startup()
    jobs = app.services["job_service"]

    async def runner(ctx: object) -> dict[str, object]:
        await asyncio.sleep(0.2)
        return {}

    results = await asyncio.gather(
        *(jobs.start("t", "race", runner, resource="installation:same") for _ in range(5)), return_exceptions=True
    )
    assert sum(isinstance(r, str) for r in results) == 1
    assert sum(isinstance(r, ConflictError) for r in results) == 4
    winner = next(r for r in results if isinstance(r, str))
    assert (await jobs.wait(winner, 5)).status.value == "succeeded"
    assert isinstance(await jobs.start("t", "after", runner, resource="installation:same"), str)
    await app.shutdown()
