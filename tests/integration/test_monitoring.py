"""Monitoring against the real testbed: a sample's figures equal what the server itself says, a busy container
shows its CPU, a stopped sshd gives down samples while another server keeps its interval.

Runs against ``scripts/testbed.sh up``; skips when it is not running (fails when ``TOMO_TESTBED=required``).
Every test gets a fresh Tomo (database in tmp_path); containers a test starts are removed afterwards.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncssh
import pytest
from tests.conftest import ToolCaller
from tests.testbed import IMAGE_BUSYBOX_V1, Testbed, docker_in_testbed, testbed_or_skip

pytestmark = pytest.mark.testbed


@pytest.fixture
def testbed() -> Testbed:
    return testbed_or_skip()


@pytest.fixture
def containers() -> Iterator[list[str]]:
    """Names of containers the test starts on the testbed; removed afterwards."""
    names: list[str] = []
    yield names
    for name in names:
        docker_in_testbed("rm", "--force", "--", name)


async def register(call: ToolCaller, testbed: Testbed, name: str = "tb", port: int | None = None) -> str:
    answer = await call("add_server", name=name, host=testbed.host, port=port or testbed.port,
                        username=testbed.user, auth_type="password", password=testbed.password)
    assert answer.envelope["success"], answer.envelope
    server_id = str(answer.data["server"]["id"])
    if port is None:
        assert (await call("test_connection", server_id=server_id)).envelope["success"]  # pins the host key
    return server_id


async def over_ssh(testbed: Testbed, command: str) -> str:
    async with asyncssh.connect(testbed.host, port=testbed.port, username=testbed.user,
                                client_keys=[str(testbed.key)], known_hosts=None) as conn:
        return str((await conn.run(command, check=True)).stdout)


def cpu_usage_ns(container_id: str) -> int:
    """The container's CPU time from its cgroup, read on this machine (the testbed shares its kernel)."""
    for path in (f"/sys/fs/cgroup/cpuacct/docker/{container_id}/cpuacct.usage",
                 f"/sys/fs/cgroup/system.slice/docker-{container_id}.scope/cpu.stat",
                 f"/sys/fs/cgroup/docker/{container_id}/cpu.stat"):
        if Path(path).exists():
            text = Path(path).read_text()
            return int(text) if path.endswith("usage") else int(text.split()[1]) * 1000
    pytest.fail(f"no cgroup CPU counter found for container {container_id}")


async def sample(call: ToolCaller, server_id: str) -> dict[str, Any]:
    answer = await call("collect_metrics", server_id=server_id)
    assert answer.envelope["success"], answer.envelope
    [found] = answer.data["samples"]
    return dict(found)


async def test_a_sample_agrees_with_server_info_df_and_proc(call: ToolCaller, testbed: Testbed) -> None:
    server_id = await register(call, testbed)
    answer = await call("get_server_info", server_id=server_id, refresh=True)
    assert answer.envelope["success"], answer.envelope
    info = answer.data["system_info"]
    found = await sample(call, server_id)
    proc = await over_ssh(testbed, "cat /proc/uptime /proc/loadavg; df -Pk /")
    assert found["status"] == "up", found
    assert (found["cpu_count"], found["memory_total"]) == (info["cpu_count"], info["memory_total"])
    lines = proc.splitlines()
    assert abs(found["uptime_s"] - float(lines[0].split()[0])) < 1.0
    assert abs(found["load_15"] - float(lines[1].split()[2])) < 0.1
    total, used = (int(word) * 1024 for word in lines[-1].split()[1:3])
    [root] = [disk for disk in found["disks"] if disk["path"] == "/"]
    assert root["total_bytes"] == total and abs(root["used_bytes"] - used) < 64 * 1024**2  # others write meanwhile


async def test_a_busy_container_shows_its_cpu_within_two_samples(call: ToolCaller, testbed: Testbed,
                                                                  containers: list[str]) -> None:
    server_id = await register(call, testbed)
    name = f"tomo-monitoring-busy-{uuid.uuid4().hex[:8]}"
    containers.append(name)
    docker_in_testbed("run", "--detach", "--name", name, IMAGE_BUSYBOX_V1, "sh", "-c",
                      "for i in 1 2 3; do (while :; do :; done) & done; while :; do :; done", check=True)
    container_id = docker_in_testbed("inspect", "--format", "{{.Id}}", "--", name, check=True).stdout.strip()
    await sample(call, server_id)
    before = cpu_usage_ns(container_id), time.monotonic()
    await asyncio.sleep(2)
    await sample(call, server_id)
    measured = (cpu_usage_ns(container_id) - before[0]) / (time.monotonic() - before[1]) / 1e7
    data = (await call("get_container_metrics", server_id=server_id)).data
    [busy] = [item for item in data["containers"] if item["name"] == name]
    assert abs(busy["cpu_percent"] - measured) < 15, (busy, measured)  # the kernel's own figure, read here
    assert busy["state"] == "running" and busy["cpu_percent"] > 50, (busy, measured)
    assert busy["memory_bytes"] > 0 and busy["pids"] >= 4


async def test_a_stopped_container_leaves_the_sample(call: ToolCaller, testbed: Testbed,
                                                     containers: list[str]) -> None:
    server_id = await register(call, testbed)
    name = f"tomo-monitoring-stop-{uuid.uuid4().hex[:8]}"
    containers.append(name)
    docker_in_testbed("run", "--detach", "--name", name, IMAGE_BUSYBOX_V1, check=True)
    await sample(call, server_id)
    names = {item["name"] for item in (await call("get_container_metrics", server_id=server_id)).data["containers"]}
    assert name in names
    docker_in_testbed("stop", "--time", "1", "--", name, check=True)
    await sample(call, server_id)
    names = {item["name"] for item in (await call("get_container_metrics", server_id=server_id)).data["containers"]}
    assert name not in names


async def test_an_unreachable_server_is_down_and_does_not_hold_up_another(call: ToolCaller, testbed: Testbed,
                                                                         tmp_path: Path) -> None:
    good = await register(call, testbed)
    closed = await register(call, testbed, name="closed", port=2299)  # nothing listens there
    answer = await call("collect_metrics")
    by_id = {item["server_id"]: item for item in answer.data["samples"]}
    assert by_id[good]["status"] == "up" and by_id[closed]["status"] == "down"
    assert by_id[closed]["error"]
    metrics = (await call("get_server_metrics", server_id=closed, period="1h")).data
    assert metrics["latest"]["status"] == "down" and metrics["series"]["up"]["max"][-1] == 0
    series = (await call("get_server_metrics", server_id=good, period="1h")).data["series"]
    # the scheduler may have sampled it once before test_connection pinned its host key: max, not avg
    assert series["up"]["max"][-1] == 1 and series["memory_used"]["avg"][-1] > 0
