"""The raw docker tools against the testbed's real sshd and dockerd, through the MCP protocol.

The testbed server is registered with add_server in each test's app. Every container, volume, network, image
tag and image a test creates carries a unique name and is removed by a finalizer (the Docker engine is shared
with the other integration tests, so nothing here prunes for real or touches objects it did not create).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator, Sequence

import pytest
from tests.conftest import Answer, ToolCaller
from tests.testbed import IMAGE_BUSYBOX_V1, Testbed, docker_in_testbed, testbed_or_skip

pytestmark = pytest.mark.testbed

# Nothing listens on port 1 of the server's loopback, so a pull from there is refused at once; no real
# registry is ever contacted (the testbed has none).
UNREACHABLE_REGISTRY = "127.0.0.1:1"


class Created:
    """Docker objects a test made, removed in reverse order at the end."""

    def __init__(self) -> None:
        self.prefix = f"tomo-dtools-{uuid.uuid4().hex[:10]}"
        self._cleanups: list[tuple[str, ...]] = []

    def name(self, suffix: str) -> str:
        return f"{self.prefix}-{suffix}"

    def container(self, suffix: str, *run_args: str, image: str = IMAGE_BUSYBOX_V1, start: bool = True,
                  command: Sequence[str] = ()) -> str:
        name = self.name(suffix)
        self._cleanups.append(("rm", "--force", "--volumes", name))
        verb = ("run", "--detach") if start else ("create",)
        docker_in_testbed(*verb, "--name", name, *run_args, image, *command, check=True)
        return name

    def volume(self, suffix: str) -> str:
        name = self.name(suffix)
        self._cleanups.append(("volume", "rm", "--force", name))
        docker_in_testbed("volume", "create", name, check=True)
        return name

    def network(self, suffix: str) -> str:
        name = self.name(suffix)
        self._cleanups.append(("network", "rm", name))
        docker_in_testbed("network", "create", name, check=True)
        return name

    def image(self, suffix: str) -> str:
        """A new single-tag image (its own id), committed from a container of the local busybox image."""
        tag = f"tomo-test/{self.name(suffix)}:1"
        self._cleanups.append(("image", "rm", "--force", tag))
        source = self.container(f"{suffix}-source", start=False)
        docker_in_testbed("commit", "--change", f"LABEL tomo.test={self.prefix}", source, tag, check=True)
        docker_in_testbed("rm", source, check=True)
        return tag

    def remove_all(self) -> None:
        for args in reversed(self._cleanups):
            docker_in_testbed(*args)


@pytest.fixture
def testbed() -> Testbed:
    return testbed_or_skip()


@pytest.fixture
def created(testbed: Testbed) -> Iterator[Created]:
    objects = Created()
    yield objects
    objects.remove_all()


@pytest.fixture
async def server_id(call: ToolCaller, testbed: Testbed, created: Created) -> str:
    answer = await call("add_server", name=created.name("server"), host=testbed.host, port=testbed.port,
                        username=testbed.user, auth_type="password", password=testbed.password)
    assert answer.envelope["success"], answer.envelope
    ident = str(answer.data["server"]["id"])
    connected = await call("test_connection", server_id=ident)
    assert connected.envelope["success"], connected.envelope
    return ident


def state_of(container: str) -> str:
    out = docker_in_testbed("container", "inspect", "--format", "{{.State.Status}}", container)
    return out.stdout.strip() or "gone"


def wait_for_log(container: str, text: str, seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while text not in docker_in_testbed("logs", container).stderr:
        assert time.monotonic() < deadline, f"{container} never printed {text!r}"
        time.sleep(0.1)


def ok(answer: Answer) -> dict[str, object]:
    assert answer.envelope["success"], answer.envelope
    assert not answer.is_error
    data: dict[str, object] = answer.data
    return data


# -- containers -----------------------------------------------------------------------------------


async def test_list_containers_shows_running_and_all_adds_stopped(
    call: ToolCaller, server_id: str, created: Created
) -> None:
    running = created.container("web")
    stopped = created.container("idle", start=False)
    names = {c["name"]: c for c in ok(await call("list_containers", server_id=server_id))["containers"]}
    assert names[running]["state"] == "running" and stopped not in names
    every = {c["name"]: c for c in ok(await call("list_containers", server_id=server_id, all=True))["containers"]}
    assert every[stopped]["state"] == "created"


async def test_inspect_container_shows_env_names_never_values(
    call: ToolCaller, server_id: str, created: Created
) -> None:
    volume = created.volume("data")
    name = created.container("probe", "-e", "DB_PASSWORD=hunter2-not-shown", "-p", "80",
                             "-v", f"{volume}:/data", "-l", "com.docker.compose.project=dtools")
    answer = await call("inspect_container", server_id=server_id, container=name)
    detail = ok(answer)
    assert "DB_PASSWORD" in detail["env_names"]
    assert "hunter2" not in json.dumps(answer.envelope)
    assert detail["mounts"] == [f"{volume} → /data"]
    assert any(port.endswith("->80/tcp") for port in detail["ports"])
    assert (detail["state"], detail["project"]) == ("running", "dtools")


async def test_missing_container_is_not_found_and_names_list_containers(call: ToolCaller, server_id: str) -> None:
    answer = await call("inspect_container", server_id=server_id, container="tomo-dtools-no-such-container")
    assert answer.is_error and answer.error == "NOT_FOUND"
    assert "list_containers" in answer.envelope["message"]


async def test_container_logs_returns_the_bounded_tail_of_both_streams(
    call: ToolCaller, server_id: str, created: Created
) -> None:
    script = "for i in $(seq 1 50); do echo line$i; done; sleep 0.5; echo oops >&2; exec sleep 3600"
    name = created.container("logs", command=("/bin/sh", "-c", script))
    wait_for_log(name, "oops")
    logs = ok(await call("container_logs", server_id=server_id, container=name, tail=5))
    texts = [line.split(" ", 1)[1] for line in logs["lines"]]
    assert texts == ["line47", "line48", "line49", "line50", "oops"]
    assert (logs["line_count"], logs["truncated"]) == (5, False)


async def test_stop_start_restart_change_what_docker_reports(
    call: ToolCaller, server_id: str, created: Created
) -> None:
    name = created.container("cycle")
    assert ok(await call("stop_container", server_id=server_id, container=name))["state"] == "exited"
    assert state_of(name) == "exited"
    assert ok(await call("start_container", server_id=server_id, container=name))["state"] == "running"
    assert state_of(name) == "running"
    assert ok(await call("restart_container", server_id=server_id, container=name))["state"] == "running"


async def test_remove_container_needs_confirm_and_force_for_a_running_one(
    call: ToolCaller, server_id: str, created: Created
) -> None:
    name = created.container("doomed")
    refused = await call("remove_container", server_id=server_id, container=name)
    assert refused.error == "CONFIRMATION_REQUIRED" and state_of(name) == "running"
    running = await call("remove_container", server_id=server_id, container=name, confirm=True)
    assert running.error == "CONFLICT" and "force=true" in running.envelope["message"]
    ok(await call("remove_container", server_id=server_id, container=name, force=True, confirm=True))
    assert state_of(name) == "gone"


async def test_container_stats_sample_running_containers(call: ToolCaller, server_id: str, created: Created) -> None:
    name = created.container("busy")
    stats = {s["name"]: s for s in ok(await call("container_stats", server_id=server_id))["stats"]}
    assert stats[name]["memory_usage_bytes"] > 0


# -- images, volumes, networks ---------------------------------------------------------------------


async def test_list_images_volumes_networks_show_what_exists(
    call: ToolCaller, server_id: str, created: Created
) -> None:
    volume, network = created.volume("vol"), created.network("net")
    images = ok(await call("list_images", server_id=server_id))["images"]
    assert any((i["repository"], i["tag"]) == ("tomo-test/busybox", "1") for i in images)
    assert volume in {v["name"] for v in ok(await call("list_volumes", server_id=server_id))["volumes"]}
    assert network in {n["name"] for n in ok(await call("list_networks", server_id=server_id))["networks"]}


async def test_remove_image_needs_confirm_refuses_an_image_in_use_then_removes(
    call: ToolCaller, server_id: str, created: Created
) -> None:
    tag = created.image("img")
    user = created.container("img-user", image=tag, start=False)
    assert (await call("remove_image", server_id=server_id, image=tag)).error == "CONFIRMATION_REQUIRED"
    in_use = await call("remove_image", server_id=server_id, image=tag, confirm=True)
    assert in_use.error == "CONFLICT", in_use.envelope
    docker_in_testbed("rm", user, check=True)
    ok(await call("remove_image", server_id=server_id, image=tag, confirm=True))
    assert docker_in_testbed("image", "inspect", tag).returncode != 0
    assert docker_in_testbed("image", "inspect", IMAGE_BUSYBOX_V1).returncode == 0


async def test_remove_missing_image_is_not_found(call: ToolCaller, server_id: str) -> None:
    answer = await call("remove_image", server_id=server_id, image="tomo-test/no-such-image:9", confirm=True)
    assert answer.error == "NOT_FOUND" and "list_images" in answer.envelope["message"]


async def test_pull_image_from_an_unreachable_registry_fails_cleanly(call: ToolCaller, server_id: str) -> None:
    answer = await call("pull_image", server_id=server_id, image=f"{UNREACHABLE_REGISTRY}/{IMAGE_BUSYBOX_V1}")
    assert answer.is_error and answer.error == "COMMAND_FAILED", answer.envelope
    assert "connection refused" in answer.envelope["message"]
    assert "image name and tag" in answer.envelope["message"]


async def test_prune_docker_without_confirm_changes_nothing(
    call: ToolCaller, server_id: str, created: Created
) -> None:
    stopped = created.container("keep", start=False)
    answer = await call("prune_docker", server_id=server_id, what="containers")
    assert answer.error == "CONFIRMATION_REQUIRED"
    assert state_of(stopped) == "created"


# -- engine ----------------------------------------------------------------------------------------


async def test_get_docker_info_reports_versions_counts_and_disk_usage(call: ToolCaller, server_id: str) -> None:
    info = ok(await call("get_docker_info", server_id=server_id))
    expected = docker_in_testbed("version", "--format", "{{.Server.Version}}", check=True).stdout.strip()
    assert info["server_version"] == expected
    assert str(info["compose_version"]).startswith("v")
    assert {row["kind"] for row in info["disk_usage"]} >= {"Images", "Containers", "Local Volumes"}
