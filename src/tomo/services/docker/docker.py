"""Raw Docker on a registered server: containers, logs, stats, images, volumes, networks, pull, prune, info.

Each call is one docker CLI argument list (:mod:`tomo.lib.docker.commands`) run on the server by id through
the SSH service, with JSON output parsed (:mod:`tomo.lib.docker.parse`). A failed command is translated once,
in :func:`docker_error`, into a domain error that says what to call next. Everything returned is compact and
bounded: lists stop at ``LIST_LIMIT`` items, logs at ``LOG_MAX_CHARS``, and container environments are reduced
to variable names (their values hold secrets).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence
from typing import Any, Literal, Protocol

from tomo.errors import (
    CommandFailed,
    ConflictError,
    DockerNotInstalled,
    NotFoundError,
    TomoError,
)
from tomo.lib.docker import commands, parse
from tomo.lib.redaction import redact_text
from tomo.lib.ssh import CommandResult
from tomo.models.docker import (
    Bounded,
    ContainerDetail,
    ContainerSummary,
    DiskUsage,
    DockerInfo,
    ImageSummary,
    NetworkSummary,
    PruneReport,
    VolumeSummary,
)

PruneTarget = Literal["images", "containers", "volumes", "all"]
ContainerAction = Literal["start", "stop", "restart"]

LIST_LIMIT = 200
LOG_LINE_CHARS = 2000
LOG_MAX_CHARS = 200_000
PULL_TIMEOUT_S = 900.0
PRUNE_TIMEOUT_S = 600.0
STOP_TIMEOUT_S = 120.0
OUTPUT_TAIL_LINES = 15
_STDERR_CHARS = 400
_PULL_HINT = (". Check the image name and tag (e.g. on the registry's web page), that the server reaches the "
              "registry, and for a private registry that the server is logged in to it.")
_RECLAIMED = re.compile(r"^Total reclaimed space:\s*(\S+)", re.MULTILINE)
_SECTION = re.compile(r"^Deleted (Containers|Networks|Volumes|Images|build cache objects):\s*$", re.IGNORECASE)


class CommandRunner(Protocol):
    """Runs an argv on a registered server (the SSH service)."""

    async def run(
        self,
        server_id: str,
        argv: Sequence[str],
        *,
        timeout: float | None = None,
        check: bool = False,
    ) -> CommandResult: ...


def docker_error(
    server_id: str, argv: Sequence[str], result: CommandResult, subject: str = "", hint: str = ""
) -> TomoError:
    """The domain error for a failed docker command; ``subject`` names the container or image involved."""
    text = (result.stderr.strip() or result.stdout.strip())
    low = text.lower()
    where = f"on server {server_id}"
    if result.exit_status == 127 or "docker: not found" in low or "docker: command not found" in low:
        return DockerNotInstalled(f"Docker is not installed {where}: run prepare_server to install Docker and Compose.")
    if "permission denied" in low and "docker daemon socket" in low:
        return CommandFailed(
            f"The SSH user {where} may not use Docker (permission denied on the Docker socket): add it to group "
            "docker (`sudo usermod -aG docker <user>`) or run prepare_server; the change applies to new SSH "
            "logins, so call test_connection before retrying.", details={"reason": "docker_permission_denied"})
    if "cannot connect to the docker daemon" in low:
        return CommandFailed(f"Docker is installed {where} but its daemon is not running: start it "
                             "(`sudo systemctl start docker`) or run prepare_server.",
                             details={"reason": "docker_daemon_down"})
    if "no such container" in low:
        return NotFoundError(f"Container '{subject}' not found {where}: call list_containers with all=true to "
                             "see every container's name and id.", details={"container": subject})
    if "no such image" in low:
        return NotFoundError(f"Image '{subject}' not found {where}: call list_images to see the images it has.",
                             details={"image": subject})
    return _conflict(where, low, subject) or CommandFailed(
        f"`{_verb(argv)}` failed {where} (exit {result.exit_status}): {_tail(text)}{hint}",
        details={"exit_status": result.exit_status})


def _conflict(where: str, low: str, subject: str) -> TomoError | None:
    if "cannot remove a running container" in low or "stop the container before" in low:
        return ConflictError(f"Container '{subject}' is running {where}: call stop_container first, or "
                             "remove_container with force=true to stop and remove it at once.")
    if "image is being used" in low or "unable to remove repository reference" in low:
        return ConflictError(f"Image '{subject}' is used by a container {where}: remove that container first "
                             "(list_containers with all=true shows which).")
    return None


def _verb(argv: Sequence[str]) -> str:
    words = [argv[0]]
    for arg in argv[1:3]:
        if arg.startswith("-"):
            break
        words.append(arg)
    return " ".join(words)


def _tail(text: str) -> str:
    text = redact_text(" ".join(text.split()))
    return text if len(text) <= _STDERR_CHARS else "..." + text[-_STDERR_CHARS:]


def _bounded(items: Sequence[Any]) -> Bounded:
    return Bounded(items=list(items[:LIST_LIMIT]), total=len(items), truncated=len(items) > LIST_LIMIT)


def container_detail(row: dict[str, Any]) -> ContainerDetail:
    """A `docker container inspect` document reduced to what a person needs (env values dropped)."""
    state, config = row.get("State") or {}, row.get("Config") or {}
    labels = config.get("Labels") or {}
    network = row.get("NetworkSettings") or {}
    return ContainerDetail(
        id=str(row.get("Id", ""))[:12], name=str(row.get("Name", "")).lstrip("/"),
        image=str(config.get("Image", "")), state=str(state.get("Status", "")),
        health=(state.get("Health") or {}).get("Status"), exit_code=state.get("ExitCode"),
        restart_count=int(row.get("RestartCount") or 0),
        restart_policy=((row.get("HostConfig") or {}).get("RestartPolicy") or {}).get("Name") or None,
        created=row.get("Created"), started_at=state.get("StartedAt"),
        ports=_ports(network.get("Ports") or {}), mounts=[_mount(m) for m in row.get("Mounts") or []],
        networks={name: str(net.get("IPAddress") or "") for name, net in (network.get("Networks") or {}).items()},
        project=labels.get("com.docker.compose.project"), service=labels.get("com.docker.compose.service"),
        env_names=[str(item).split("=", 1)[0] for item in config.get("Env") or []],
    )


def _ports(ports: dict[str, Any]) -> list[str]:
    shown: list[str] = []
    for container_port, bindings in ports.items():
        if not bindings:
            shown.append(container_port)
        for binding in bindings or []:
            text = f"{binding.get('HostIp') or '0.0.0.0'}:{binding.get('HostPort')}->{container_port}"  # noqa: S104
            if not any(item.endswith(f":{binding.get('HostPort')}->{container_port}") for item in shown):
                shown.append(text)
    return shown


def _mount(mount: dict[str, Any]) -> str:
    source = mount.get("Name") if mount.get("Type") == "volume" else mount.get("Source")
    return f"{source} → {mount.get('Destination')}{'' if mount.get('RW', True) else ' (ro)'}"


def docker_info(info: dict[str, Any], df_rows: list[dict[str, Any]]) -> DockerInfo:
    """`docker info` and `docker system df` combined (images counted as `df` does: intermediate layers left out)."""
    client = info.get("ClientInfo") or {}
    compose: dict[str, Any] = next((p for p in client.get("Plugins") or [] if p.get("Name") == "compose"), {})
    usage = [_disk_usage(row) for row in df_rows]
    images = next((row.total for row in usage if row.kind == "Images" and row.total is not None), None)
    return DockerInfo(
        server_version=str(info.get("ServerVersion")), client_version=client.get("Version"),
        compose_version=compose.get("Version"), containers_running=int(info.get("ContainersRunning") or 0),
        containers_stopped=int(info.get("ContainersStopped") or 0),
        containers_paused=int(info.get("ContainersPaused") or 0),
        images=images if images is not None else int(info.get("Images") or 0),
        operating_system=info.get("OperatingSystem"), architecture=info.get("Architecture"),
        root_dir=info.get("DockerRootDir"), disk_usage=usage,
    )


def _disk_usage(row: dict[str, Any]) -> DiskUsage:
    size, reclaimable = str(row.get("Size", "")), str(row.get("Reclaimable", ""))
    return DiskUsage(
        kind=str(row.get("Type", "")), total=_int(row.get("TotalCount")), active=_int(row.get("Active")),
        size=size, size_bytes=parse.size_to_bytes(size), reclaimable=reclaimable,
        reclaimable_bytes=parse.size_to_bytes(reclaimable.split("(")[0]),
    )


def _int(value: Any) -> int | None:
    text = str(value).strip()
    return int(text) if text.isdigit() else None


def prune_report(what: str, output: str) -> PruneReport:
    """Count what each `Deleted ...:` section of a prune's output lists, and the space reclaimed."""
    deleted: dict[str, int] = {}
    section: str | None = None
    for line in output.splitlines():
        header = _SECTION.match(line.strip())
        if header:
            section = header.group(1).lower().replace("build cache objects", "build_cache")
            deleted.setdefault(section, 0)
        elif section and line.strip() and not line.strip().lower().startswith(("untagged:", "total reclaimed")):
            deleted[section] += 1
    match = _RECLAIMED.search(output)
    reclaimed = match.group(1) if match else "0B"
    return PruneReport(what=what, deleted=deleted, reclaimed=reclaimed, reclaimed_bytes=parse.size_to_bytes(reclaimed))


def merge_logs(result: CommandResult, tail: int) -> tuple[list[str], bool]:
    """Interleave stdout and stderr by their timestamps; keep the last ``tail`` lines within the size bounds."""
    lines = [*result.stdout.splitlines(), *result.stderr.splitlines()]
    lines.sort(key=lambda line: line.split(" ", 1)[0])
    truncated = len(lines) > tail
    kept: list[str] = []
    size = 0
    for line in reversed(lines[-tail:]):
        line = redact_text(line if len(line) <= LOG_LINE_CHARS else line[:LOG_LINE_CHARS] + " [...]")
        size += len(line) + 1
        if size > LOG_MAX_CHARS:
            truncated = True
            break
        kept.append(line)
    return kept[::-1], truncated or result.truncated


class DockerService:
    """The docker CLI on registered servers, one command per call, errors translated for the model."""

    def __init__(self, ssh_service: CommandRunner) -> None:
        self.ssh = ssh_service

    async def _run(
        self, server_id: str, argv: list[str], subject: str = "", timeout: float | None = None, hint: str = ""
    ) -> str:
        result = await self.ssh.run(server_id, argv, timeout=timeout, check=False)
        if not result.ok:
            raise docker_error(server_id, argv, result, subject, hint)
        return result.stdout

    async def _rows(self, server_id: str, argv: list[str]) -> list[dict[str, Any]]:
        return parse.json_lines(await self._run(server_id, argv))

    async def list_containers(self, server_id: str, all_containers: bool = False) -> Bounded:
        rows = await self._rows(server_id, commands.ps(all_containers=all_containers))
        items: list[ContainerSummary] = sorted((parse.container(r) for r in rows), key=lambda c: c.name)
        return _bounded(items)

    async def inspect_container(self, server_id: str, container: str) -> ContainerDetail:
        rows = await self._rows_for(server_id, commands.inspect("container", container), container)
        return container_detail(rows[0])

    async def _rows_for(self, server_id: str, argv: list[str], subject: str) -> list[dict[str, Any]]:
        result = await self.ssh.run(server_id, argv, check=False)
        rows = parse.json_lines(result.stdout) if result.ok else []
        if not rows:
            raise docker_error(server_id, argv, result, subject)
        return rows

    async def container_logs(self, server_id: str, container: str, tail: int, since: str | None) -> dict[str, Any]:
        argv = commands.logs(container, tail, since=since)
        result = await self.ssh.run(server_id, argv, check=False)
        if not result.ok:
            raise docker_error(server_id, argv, result, container)
        lines, truncated = merge_logs(result, tail)
        return {"container": container, "lines": lines, "line_count": len(lines), "truncated": truncated}

    async def container_stats(self, server_id: str) -> Bounded:
        rows = await self._rows(server_id, commands.stats())
        return _bounded(sorted((parse.container_stats(r) for r in rows), key=lambda s: s.name))

    async def container_action(self, server_id: str, container: str, action: ContainerAction) -> ContainerDetail:
        timeout = None if action == "start" else STOP_TIMEOUT_S
        await self._run(server_id, commands.container_action(action, container), container, timeout)
        return await self.inspect_container(server_id, container)

    async def remove_container(self, server_id: str, container: str, force: bool) -> None:
        await self._run(server_id, commands.container_action("rm", container, force=force), container,
                        STOP_TIMEOUT_S)

    async def list_images(self, server_id: str) -> Bounded:
        rows = await self._rows(server_id, commands.list_objects("image"))
        return _bounded([_image(row) for row in rows])

    async def list_volumes(self, server_id: str) -> Bounded:
        rows = await self._rows(server_id, commands.list_objects("volume"))
        volumes = [VolumeSummary(name=str(r.get("Name", "")), driver=str(r.get("Driver", "")),
                                 project=_label(r, "com.docker.compose.project")) for r in rows]
        return _bounded(sorted(volumes, key=lambda v: v.name))

    async def list_networks(self, server_id: str) -> Bounded:
        rows = await self._rows(server_id, commands.list_objects("network"))
        networks = [NetworkSummary(id=str(r.get("ID", "")), name=str(r.get("Name", "")),
                                   driver=str(r.get("Driver", "")), scope=str(r.get("Scope", "")),
                                   internal=str(r.get("Internal", "")).lower() == "true") for r in rows]
        return _bounded(sorted(networks, key=lambda n: n.name))

    async def pull_image(self, server_id: str, image: str) -> list[str]:
        """Pull; returns the last lines of docker's output (status and digest)."""
        output = await self._run(server_id, commands.pull(image), image, PULL_TIMEOUT_S, _PULL_HINT)
        return [line for line in output.splitlines() if line.strip()][-OUTPUT_TAIL_LINES:]

    async def remove_image(self, server_id: str, image: str) -> list[str]:
        """Remove one image reference; returns docker's Untagged/Deleted lines."""
        output = await self._run(server_id, commands.remove_image(image), image)
        return [line for line in output.splitlines() if line.strip()][-OUTPUT_TAIL_LINES:]

    async def prune(self, server_id: str, what: PruneTarget) -> PruneReport:
        argv = commands.prune(what)
        result = await self.ssh.run(server_id, argv, timeout=PRUNE_TIMEOUT_S, check=False)
        if what == "volumes" and not result.ok and "requires api version" in result.stderr.lower():
            # Engines before API 1.42 lack `volume prune --all`; there a plain prune removes every unused volume.
            argv = [arg for arg in argv if arg != "--all"]
            result = await self.ssh.run(server_id, argv, timeout=PRUNE_TIMEOUT_S, check=False)
        if not result.ok:
            raise docker_error(server_id, argv, result)
        return prune_report(what, result.stdout)

    async def docker_info(self, server_id: str) -> DockerInfo:
        info_result, df_output = await asyncio.gather(
            self.ssh.run(server_id, commands.info(), check=False),
            self._run(server_id, commands.system_df(), timeout=PRUNE_TIMEOUT_S),
        )
        info = parse.json_lines(info_result.stdout)[:1] if info_result.ok else []
        if not info or not info[0].get("ServerVersion"):
            raise docker_error(server_id, commands.info(), info_result)
        return docker_info(info[0], parse.json_lines(df_output))


def _image(row: dict[str, Any]) -> ImageSummary:
    size = str(row.get("Size", ""))
    return ImageSummary(id=str(row.get("ID", "")), repository=str(row.get("Repository", "")),
                        tag=str(row.get("Tag", "")), size=size, size_bytes=parse.size_to_bytes(size),
                        created=row.get("CreatedAt"))


def _label(row: dict[str, Any], key: str) -> str | None:
    pairs = (item.split("=", 1) for item in str(row.get("Labels", "")).split(",") if "=" in item)
    return dict(pairs).get(key)

