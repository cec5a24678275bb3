"""cancel_job needs the role of the tool that started the job; list_jobs takes a server id or name, and pages."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from fastmcp import Client
from tests.authkit import act_as
from tests.conftest import ToolCaller
from tests.toolpkg import make_tool_package

from tomo.lib.config import TomoConfig
from tomo.main import TomoApp, build_app
from tomo.models.principal import Principal, Role
from tomo.services.jobs.jobs import JobContext, JobService

#: Two job tools whose jobs are named after them, as Tomo's job tools name theirs.
JOB_MODULE = '''
from tomo.lib.mcp.tooling import tomo_tool
from tomo.models.common import JobStarted
from tomo.models.principal import Role


async def _sleep(ctx):
    import asyncio

    async with ctx.step("sleeping"):
        await asyncio.sleep(30)


class SleepTools:
    def __init__(self, job_service):
        self.jobs = job_service

    @tomo_tool(role=Role.OPERATOR, job=True)
    async def nap_as_operator(self) -> JobStarted:
        """Start a job that sleeps for 30 seconds (operators may start it)."""
        return JobStarted(await self.jobs.start("nap_as_operator", "Operator nap", _sleep), "napping")

    @tomo_tool(role=Role.ADMIN, job=True)
    async def nap_as_admin(self) -> JobStarted:
        """Start a job that sleeps for 30 seconds (admins only)."""
        return JobStarted(await self.jobs.start("nap_as_admin", "Admin nap", _sleep), "napping")
'''

OPERATOR = Principal(username="otto", role=Role.OPERATOR, transport="http")
ADMIN = Principal(username="ada", role=Role.ADMIN, transport="http")


@pytest.fixture
def app(tmp_path: Path) -> TomoApp:
    package = make_tool_package(tmp_path / "pkgs", {"sleep": JOB_MODULE})
    return build_app(TomoConfig(data_dir=tmp_path / "data"), tool_packages=("tomo.tools", package))


@pytest.fixture
async def call(app: TomoApp) -> AsyncIterator[ToolCaller]:
    async with Client(app.mcp) as client:
        yield ToolCaller(client)


async def started(call: ToolCaller, tool: str) -> str:
    answer = await call(tool, wait_seconds=0)
    assert answer.envelope["success"], answer.envelope
    return str(answer.data["job_id"])


async def test_an_operator_cancels_an_operator_job(app: TomoApp, call: ToolCaller) -> None:
    act_as(app, OPERATOR)
    job_id = await started(call, "nap_as_operator")
    assert (await call("cancel_job", job_id=job_id)).data["status"] == "cancelled"


async def test_an_operator_cannot_cancel_a_job_an_admin_tool_started(app: TomoApp, call: ToolCaller) -> None:
    act_as(app, ADMIN)
    job_id = await started(call, "nap_as_admin")
    act_as(app, OPERATOR)
    refused = await call("cancel_job", job_id=job_id)
    assert refused.error == "PERMISSION_DENIED"
    assert "nap_as_admin, which needs the admin role" in refused.envelope["message"]
    assert (await call("get_job", job_id=job_id)).data["status"] == "running"
    act_as(app, ADMIN)
    assert (await call("cancel_job", job_id=job_id)).data["status"] == "cancelled"


async def test_an_operator_cannot_cancel_a_marketplace_sync(app: TomoApp, call: ToolCaller) -> None:
    """sync_repo (admin) names its job marketplace_sync, which is no tool's name: only an admin may cancel it."""
    jobs: JobService = app.services["job_service"]

    async def syncing(ctx: JobContext) -> dict[str, Any]:
        await asyncio.sleep(30)
        return {}

    job_id = await jobs.start("marketplace_sync", "Sync repository casaos", syncing)
    act_as(app, OPERATOR)
    refused = await call("cancel_job", job_id=job_id)
    assert refused.error == "PERMISSION_DENIED" and "admin role" in refused.envelope["message"]
    assert (await call("get_job", job_id=job_id)).data["status"] == "running"
    act_as(app, ADMIN)
    assert (await call("cancel_job", job_id=job_id)).data["status"] == "cancelled"


async def _server_jobs(app: TomoApp, call: ToolCaller, count: int) -> str:
    added = await call("add_server", name="nas", host="192.168.1.10", username="admin", auth_type="password",
                       password="correct-horse-battery-staple-42")
    server_id = str(added.data["server"]["id"])
    jobs: JobService = app.services["job_service"]

    async def quick(ctx: JobContext) -> dict[str, Any]:
        return {}

    for index in range(count):
        await jobs.wait(await jobs.start("probe", f"Probe {index}", quick, server_id=server_id), 5)
    await jobs.wait(await jobs.start("probe", "Elsewhere", quick), 5)
    return server_id


async def test_list_jobs_takes_a_server_name(app: TomoApp, call: ToolCaller) -> None:
    server_id = await _server_jobs(app, call, 2)
    by_name = await call("list_jobs", server_id="NAS")
    by_id = await call("list_jobs", server_id=server_id)
    assert [job["title"] for job in by_name.data["jobs"]] == ["Probe 1", "Probe 0"] == [
        job["title"] for job in by_id.data["jobs"]]
    assert (await call("list_jobs")).data["total"] == 3
    unknown = await call("list_jobs", server_id="nope")
    assert unknown.error == "SERVER_NOT_FOUND" and "list_servers" in unknown.envelope["message"]


async def test_list_jobs_keeps_the_jobs_of_a_deleted_server(app: TomoApp, call: ToolCaller) -> None:
    server_id = await _server_jobs(app, call, 1)
    await call("delete_server", server_id="nas", confirm=True)
    assert [job["title"] for job in (await call("list_jobs", server_id=server_id)).data["jobs"]] == ["Probe 0"]


async def test_list_jobs_pages_with_total_and_next_offset(app: TomoApp, call: ToolCaller) -> None:
    await _server_jobs(app, call, 4)
    first = await call("list_jobs", limit=2)
    assert [job["title"] for job in first.data["jobs"]] == ["Elsewhere", "Probe 3"]
    assert (first.data["total"], first.data["has_more"], first.data["next_offset"]) == (5, True, 2)
    assert "offset=2" in first.envelope["message"]
    last = await call("list_jobs", limit=2, offset=4)
    assert [job["title"] for job in last.data["jobs"]] == ["Probe 0"]
    assert (last.data["has_more"], last.data["next_offset"]) == (False, None)
    beyond = await call("list_jobs", limit=2, offset=9)
    assert beyond.data["jobs"] == [] and beyond.data["total"] == 5 and "smaller offset" in beyond.envelope["message"]
