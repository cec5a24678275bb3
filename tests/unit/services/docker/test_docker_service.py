"""DockerService with a fake SSH runner: the exact argv sent, the parsing, and the error translation.

Sample outputs were captured from the testbed's engine (Docker 20.10, CLI 28).
"""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from tests.fakes import RecordingRunner, failed, ok

from tomo.errors import CommandFailed, ConflictError, DockerNotInstalled, NotFoundError
from tomo.lib.ssh import CommandResult
from tomo.services.docker.docker import LIST_LIMIT, LOG_LINE_CHARS, DockerService

SERVER = "srv-1"

INSPECT = {
    "Id": "f1a32905417d8a5c1f0781f5bb7a4b36318386fded75526dfb8b31fcb8b320ef",
    "Created": "2026-11-25T13:53:17.956771141Z", "Name": "/tomo-dsvc-probe", "RestartCount": 3,
    "State": {"Status": "running", "Running": True, "ExitCode": 0, "StartedAt": "2026-11-25T13:53:18.2468318Z",
              "Health": {"Status": "healthy"}},
    "HostConfig": {"RestartPolicy": {"Name": "unless-stopped", "MaximumRetryCount": 0}},
    "Mounts": [
        {"Type": "volume", "Name": "tomo-dsvc-vol", "Source": "/var/lib/docker/volumes/tomo-dsvc-vol/_data",
         "Destination": "/data", "Driver": "local", "Mode": "z", "RW": True},
        {"Type": "bind", "Source": "/tmp", "Destination": "/host-tmp", "Mode": "ro", "RW": False},
    ],
    "Config": {"Image": "tomo-test/busybox:1", "Env": ["DB_PASSWORD=hunter2", "TZ=UTC", "PATH=/bin"],
               "Labels": {"com.docker.compose.project": "probe", "com.docker.compose.service": "web",
                          "org.opencontainers.image.version": "1"}},
    "NetworkSettings": {
        "Ports": {"80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "18097"},  # noqa: S104 - sample output
                             {"HostIp": "::", "HostPort": "18097"}],
                  "443/tcp": None},
        "Networks": {"bridge": {"IPAddress": "172.17.0.2"}},
    },
}
PS_ROW = {"CreatedAt": "2026-11-25 13:41:20 +0000 UTC", "ID": "ab3fecbf6b8854c72f", "Image": "tomo-test/busybox:1",
          "Labels": "com.docker.compose.project=probe,com.docker.compose.service=web", "Names": "web",
          "Ports": "80/tcp", "State": "running", "Status": "Up 1 second (healthy)"}
IMAGE_ROW = {"Containers": "N/A", "CreatedAt": "2026-11-25 13:26:15 +0000 UTC", "ID": "e326974c93da",
             "Repository": "tomo-test/busybox", "Size": "1.98MB", "Tag": "2"}
VOLUME_ROW = {"Driver": "local", "Labels": "com.docker.compose.project=immich,com.docker.compose.volume=db",
              "Mountpoint": "/var/lib/docker/volumes/immich_db/_data", "Name": "immich_db", "Scope": "local"}
NETWORK_ROW = {"CreatedAt": "2026-11-25 13:29:35 +0000 UTC", "Driver": "bridge", "ID": "e6fbaad6e33b",
               "Internal": "false", "Labels": "", "Name": "bridge", "Scope": "local"}
INFO = {"ServerVersion": "20.10.24+dfsg1", "ContainersRunning": 2, "ContainersStopped": 1, "ContainersPaused": 0,
        "Images": 21, "OperatingSystem": "Debian GNU/Linux 12 (bookworm)", "Architecture": "x86_64",
        "DockerRootDir": "/var/lib/docker",
        "ClientInfo": {"Version": "28.2.2", "Plugins": [{"Name": "compose", "Version": "v5.6.1"}]}}
DF = [
    {"Active": "1", "Reclaimable": "5.953MB (100%)", "Size": "5.953MB", "TotalCount": "3", "Type": "Images"},
    {"Active": "0", "Reclaimable": "0B", "Size": "0B", "TotalCount": "0", "Type": "Local Volumes"},
]
SYSTEM_PRUNE = """Deleted Containers:
4a7f7eebae0f63178aff7eb0aa39cd3f0627a203ab2df258c1a00b456cf20063
f98f9c2aa1eaf727e4ec9c0283bc7d4aa4762fbdba7f26191f26c97f64090360

Deleted Networks:
tomo_default

Deleted Images:
untagged: nginx:1.25
deleted: sha256:aaaa
deleted: sha256:bbbb

Total reclaimed space: 187.3MB
"""
NO_CONTAINER = "Error response from daemon: No such container: ghost"


def lines(*rows: dict[str, object]) -> str:
    return "".join(json.dumps(row) + "\n" for row in rows)


def service(handler: Callable[[list[str]], CommandResult]) -> tuple[DockerService, RecordingRunner]:
    runner = RecordingRunner(handler)
    return DockerService(runner), runner


async def test_list_containers_asks_ps_for_json_and_sorts_by_name() -> None:
    docker, runner = service(lambda argv: ok(lines({**PS_ROW, "Names": "zeta"}, PS_ROW)))
    listing = await docker.list_containers(SERVER, all_containers=True)
    assert runner.calls[0].server_id == SERVER
    assert runner.calls[0].argv == ["docker", "ps", "--no-trunc", "--format", "{{json .}}", "--all"]
    assert [c.name for c in listing.items] == ["web", "zeta"]
    assert (listing.items[0].project, listing.items[0].health) == ("probe", "healthy")


async def test_lists_stop_at_the_limit_and_say_how_many_there_were() -> None:
    rows = [{**PS_ROW, "Names": f"c{i:04d}"} for i in range(LIST_LIMIT + 50)]
    docker, _ = service(lambda argv: ok(lines(*rows)))
    listing = await docker.list_containers(SERVER)
    assert (len(listing.items), listing.total, listing.truncated) == (LIST_LIMIT, LIST_LIMIT + 50, True)


async def test_inspect_container_returns_env_names_never_values() -> None:
    docker, runner = service(lambda argv: ok(json.dumps(INSPECT) + "\n"))
    detail = await docker.inspect_container(SERVER, "tomo-dsvc-probe")
    assert runner.calls[0].argv == ["docker", "container", "inspect", "--format", "{{json .}}", "--",
                                    "tomo-dsvc-probe"]
    assert detail.env_names == ["DB_PASSWORD", "TZ", "PATH"]
    assert "hunter2" not in detail.model_dump_json()


async def test_inspect_container_is_compact() -> None:
    docker, _ = service(lambda argv: ok(json.dumps(INSPECT)))
    detail = await docker.inspect_container(SERVER, "tomo-dsvc-probe")
    assert (detail.id, detail.name, detail.state, detail.health) == ("f1a32905417d", "tomo-dsvc-probe",
                                                                     "running", "healthy")
    assert (detail.restart_count, detail.restart_policy) == (3, "unless-stopped")
    assert detail.ports == ["0.0.0.0:18097->80/tcp", "443/tcp"]
    assert detail.mounts == ["tomo-dsvc-vol → /data", "/tmp → /host-tmp (ro)"]
    assert detail.networks == {"bridge": "172.17.0.2"}
    assert (detail.project, detail.service) == ("probe", "web")


async def test_missing_container_is_not_found_and_points_to_list_containers() -> None:
    docker, _ = service(lambda argv: failed(NO_CONTAINER))
    with pytest.raises(NotFoundError, match="list_containers") as caught:
        await docker.inspect_container(SERVER, "ghost")
    assert caught.value.code == "NOT_FOUND"
    assert "'ghost'" in caught.value.message


async def test_missing_docker_is_docker_not_installed_and_points_to_prepare_server() -> None:
    docker, _ = service(lambda argv: failed("bash: docker: command not found", exit_status=127))
    with pytest.raises(DockerNotInstalled, match="prepare_server"):
        await docker.list_images(SERVER)


async def test_docker_socket_permission_denied_names_group_docker() -> None:
    denied = ("permission denied while trying to connect to the Docker daemon socket at "
              "unix:///var/run/docker.sock: Get \"http://%2Fvar%2Frun%2Fdocker.sock/v1.24/containers/json\": "
              "dial unix /var/run/docker.sock: connect: permission denied")
    docker, _ = service(lambda argv: failed(denied))
    with pytest.raises(CommandFailed, match="group docker") as caught:
        await docker.list_containers(SERVER)
    assert caught.value.details["reason"] == "docker_permission_denied"


async def test_stopped_daemon_says_to_start_it() -> None:
    docker, _ = service(lambda argv: failed("Cannot connect to the Docker daemon at unix:///var/run/docker.sock. "
                                            "Is the docker daemon running?"))
    with pytest.raises(CommandFailed, match="daemon is not running"):
        await docker.list_volumes(SERVER)


async def test_other_failures_carry_a_bounded_redacted_stderr_tail() -> None:
    noise = "x" * 2000 + " Bearer abcdefghijklmnop"
    docker, _ = service(lambda argv: failed(noise))
    with pytest.raises(CommandFailed) as caught:
        await docker.list_networks(SERVER)
    assert len(caught.value.message) < 600
    assert "abcdefghijklmnop" not in caught.value.message
    assert caught.value.details == {"exit_status": 1}
    assert caught.value.message.startswith("`docker network ls` failed on server srv-1 (exit 1): ...x")


async def test_container_logs_interleave_streams_by_timestamp() -> None:
    out = "2026-11-25T13:53:18.828047024Z out1\n2026-11-25T13:53:18.828444036Z out2\n"
    err = "2026-11-25T13:53:18.828325990Z err1\n"
    docker, runner = service(lambda argv: ok(out, err))
    logs = await docker.container_logs(SERVER, "web", 100, "10m")
    assert runner.calls[0].argv == ["docker", "logs", "--tail", "100", "--timestamps", "--since", "10m", "--", "web"]
    assert [line.split(" ", 1)[1] for line in logs["lines"]] == ["out1", "err1", "out2"]
    assert (logs["line_count"], logs["truncated"]) == (3, False)


async def test_container_logs_mask_secrets_and_cut_long_lines() -> None:
    out = "2026-11-25T13:00:00.000000001Z auth: Bearer s3cr3t-t0ken-value\n2026-11-25T13:00:00.000000002Z " + (
        "y" * (LOG_LINE_CHARS * 3)) + "\n"
    docker, _ = service(lambda argv: ok(out))
    logs = await docker.container_logs(SERVER, "web", 100, None)
    assert "s3cr3t" not in logs["lines"][0]
    assert len(logs["lines"][1]) < LOG_LINE_CHARS + 20


async def test_container_logs_mask_the_secrets_of_the_installation_owning_the_container() -> None:
    out = ("2026-11-25T13:00:00.000000001Z token=abc-123-plain pw=hunter2-long\n"
           "2026-11-25T13:00:00.000000002Z " + "z" * (LOG_LINE_CHARS - 5) + "hunter2-long\n")
    docker, runner = service(lambda argv: ok("probe\n") if "inspect" in argv else ok(out))
    asked: list[tuple[str, str]] = []

    async def secrets_of(server: str, project: str) -> set[str]:
        asked.append((server, project))
        return {"hunter2-long", "abc-123-plain", "ab"}

    docker.register_secret_source(secrets_of)
    logs = await docker.container_logs(SERVER, "web", 100, None)
    assert asked == [(SERVER, "probe")]
    assert logs["lines"][0].endswith("token=*** pw=***")
    assert "hunte" not in logs["lines"][1]  # masked before the line is cut
    inspect = next(call.argv for call in runner.calls if "inspect" in call.argv)
    assert inspect[-2:] == ["--", "web"] and "com.docker.compose.project" in inspect[-3]


async def test_container_logs_of_a_container_of_no_project_ask_no_secrets() -> None:
    docker, _ = service(lambda argv: ok("\n") if "inspect" in argv else ok("2026-11-25T13:00:00.1Z x hunter2\n"))
    asked: list[str] = []

    async def secrets_of(server: str, project: str) -> set[str]:
        asked.append(project)
        return {"hunter2"}

    docker.register_secret_source(secrets_of)
    assert (await docker.container_logs(SERVER, "web", 100, None))["lines"][0].endswith("x hunter2")
    assert asked == []


async def test_container_logs_of_a_missing_container_is_not_found() -> None:
    docker, _ = service(lambda argv: failed(NO_CONTAINER))
    with pytest.raises(NotFoundError, match="list_containers"):
        await docker.container_logs(SERVER, "ghost", 100, None)


async def test_stop_container_stops_then_reports_the_new_state() -> None:
    exited = {**INSPECT, "State": {"Status": "exited", "ExitCode": 137}}
    docker, runner = service(lambda argv: ok(json.dumps(exited)) if "inspect" in argv else ok("web\n"))
    detail = await docker.container_action(SERVER, "web", "stop")
    assert [call.argv for call in runner.calls] == [
        ["docker", "stop", "--", "web"],
        ["docker", "container", "inspect", "--format", "{{json .}}", "--", "web"],
    ]
    assert runner.calls[0].timeout is not None and runner.calls[0].timeout >= 60
    assert (detail.state, detail.exit_code) == ("exited", 137)


async def test_remove_running_container_without_force_is_a_conflict() -> None:
    docker, _ = service(lambda argv: failed("Error response from daemon: You cannot remove a running container "
                                            "f1a3. Stop the container before attempting removal or force remove"))
    with pytest.raises(ConflictError, match="force=true"):
        await docker.remove_container(SERVER, "web", force=False)


async def test_remove_container_with_force_passes_force_before_the_name() -> None:
    docker, runner = service(lambda argv: ok("web\n"))
    await docker.remove_container(SERVER, "web", force=True)
    assert runner.calls[0].argv == ["docker", "rm", "--force", "--", "web"]


async def test_stats_images_volumes_networks_are_parsed() -> None:
    stats = {"BlockIO": "0B / 0B", "CPUPerc": "1.50%", "ID": "726d9a3f9747", "MemPerc": "0.00%",
             "MemUsage": "528KiB / 23.54GiB", "Name": "web", "NetIO": "988B / 0B", "PIDs": "1"}
    answers = {"stats": stats, "image": IMAGE_ROW, "volume": VOLUME_ROW, "network": NETWORK_ROW}
    docker, runner = service(lambda argv: ok(lines(answers[argv[1]])))
    assert (await docker.container_stats(SERVER)).items[0].cpu_percent == 1.5
    image = (await docker.list_images(SERVER)).items[0]
    assert (image.repository, image.tag, image.size_bytes) == ("tomo-test/busybox", "2", 1_980_000)
    assert (await docker.list_volumes(SERVER)).items[0].project == "immich"
    assert (await docker.list_networks(SERVER)).items[0].internal is False
    assert runner.calls[1].argv == ["docker", "image", "ls", "--format", "{{json .}}"]


async def test_pull_image_has_a_long_timeout_and_returns_the_output_tail() -> None:
    output = "".join(f"layer{i}: Pull complete\n" for i in range(40)) + (
        "Digest: sha256:abc\nStatus: Downloaded newer image for nginx:1.27\n")
    docker, runner = service(lambda argv: ok(output))
    tail = await docker.pull_image(SERVER, "nginx:1.27")
    assert runner.calls[0].argv == ["docker", "pull", "--", "nginx:1.27"]
    assert runner.calls[0].timeout is not None and runner.calls[0].timeout >= 600
    assert tail[-1] == "Status: Downloaded newer image for nginx:1.27"
    assert len(tail) <= 20


async def test_remove_image_in_use_is_a_conflict_and_missing_is_not_found() -> None:
    in_use = ("Error response from daemon: conflict: unable to remove repository reference \"nginx:1.25\" "
              "(must force) - container 4a7f is using its referenced image 605c77e624dd")
    docker, _ = service(lambda argv: failed(in_use))
    with pytest.raises(ConflictError, match="remove that container first"):
        await docker.remove_image(SERVER, "nginx:1.25")
    docker, _ = service(lambda argv: failed("Error response from daemon: No such image: nope:1"))
    with pytest.raises(NotFoundError, match="list_images"):
        await docker.remove_image(SERVER, "nope:1")


async def test_prune_all_counts_what_was_deleted_and_reclaimed() -> None:
    docker, runner = service(lambda argv: ok(SYSTEM_PRUNE))
    report = await docker.prune(SERVER, "all")
    assert runner.calls[0].argv == ["docker", "system", "prune", "--force", "--all", "--volumes"]
    assert report.deleted == {"containers": 2, "networks": 1, "images": 2}
    assert (report.reclaimed, report.reclaimed_bytes) == ("187.3MB", 187_300_000)


async def test_prune_volumes_drops_all_flag_on_engines_before_api_1_42() -> None:
    def handler(argv: list[str]) -> CommandResult:
        if "--all" in argv:
            return failed('"--all" requires API version 1.42, but the Docker daemon API version is 1.41')
        return ok("Deleted Volumes:\nold_data\n\nTotal reclaimed space: 1.2GB\n")

    docker, runner = service(handler)
    report = await docker.prune(SERVER, "volumes")
    assert [call.argv for call in runner.calls] == [
        ["docker", "volume", "prune", "--force", "--all"], ["docker", "volume", "prune", "--force"]]
    assert (report.deleted, report.reclaimed) == ({"volumes": 1}, "1.2GB")


async def test_docker_info_combines_versions_counts_and_disk_usage() -> None:
    docker, runner = service(lambda argv: ok(json.dumps(INFO)) if argv[1] == "info" else ok(lines(*DF)))
    info = await docker.docker_info(SERVER)
    assert sorted(call.argv[1] for call in runner.calls) == ["info", "system"]
    assert (info.server_version, info.client_version, info.compose_version) == ("20.10.24+dfsg1", "28.2.2",
                                                                                "v5.6.1")
    assert (info.containers_running, info.containers_stopped, info.images) == (2, 1, 3)
    images = info.disk_usage[0]
    assert (images.kind, images.total, images.active, images.reclaimable_bytes) == ("Images", 3, 1, 5_953_000)


async def test_docker_info_without_a_daemon_says_so() -> None:
    down = "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?"

    def handler(argv: list[str]) -> CommandResult:
        if argv[1] == "info":  # docker info prints empty fields and exits 0 without a daemon
            return CommandResult(0, json.dumps({"ServerVersion": ""}), down, 5.0)
        return ok(lines(*DF))

    docker, _ = service(handler)
    with pytest.raises(CommandFailed, match="daemon is not running"):
        await docker.docker_info(SERVER)
