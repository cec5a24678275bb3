"""Raw Docker on a registered server: containers, logs, stats, images, volumes, networks, pull, prune, info.

Each call is one docker CLI argument list (:mod:`tomo.lib.docker.commands`) run on the server by id through
the SSH service, with JSON output parsed (:mod:`tomo.lib.docker.parse`). A failed command is translated once,
in :func:`docker_error`, into a domain error that says what to call next. Everything returned is compact and
bounded: lists stop at ``LIST_LIMIT`` items, logs at ``LOG_MAX_CHARS``, and container environments are reduced
to variable names (their values hold secrets). Logs of a container that belongs to an app installation (by its
Compose project) have that installation's secret values masked, whoever reads them: the apps service tells which
values through :meth:`DockerService.register_secret_source`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any, Literal

from tomo.errors import (
    CommandFailed,
    ConflictError,
    DockerNotInstalled,
    NotFoundError,
    TomoError,
)
from tomo.lib.docker import commands, parse
from tomo.lib.redaction import MASK, redact_text
from tomo.lib.ssh import CommandResult
from tomo.lib.ssh.runner import RemoteRunner
from tomo.models.docker import Bounded, ContainerDetail, ContainerSummary, DockerInfo, PruneReport

PruneTarget = Literal["images", "containers", "volumes", "all"]
#: (server id or name, compose project) -> the secret values of the installation of that project on that server.
SecretSource = Callable[[str, str], Awaitable[set[str]]]
ContainerAction = Literal["start", "stop", "restart"]

LIST_LIMIT = 200
LOG_LINE_CHARS = 2000
LOG_MAX_CHARS = 200_000
PULL_TIMEOUT_S = 900.0
PRUNE_TIMEOUT_S = 600.0
STOP_TIMEOUT_S = 120.0
OUTPUT_TAIL_LINES = 15
_STDERR_CHARS = 400
_MIN_SECRET_CHARS = 3
_PULL_HINT = (". Check the image name and tag (e.g. on the registry's web page), that the server reaches the "
              "registry, and for a private registry that the server is logged in to it.")


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


def masker(secrets: Iterable[str]) -> Callable[[str], str]:
    """Replaces each known secret value (the longest first) with ``***``; values under 3 characters are left."""
    values = sorted({value for value in secrets if len(value) >= _MIN_SECRET_CHARS}, key=len, reverse=True)

    def mask(text: str) -> str:
        for value in values:
            if value in text:
                text = text.replace(value, MASK)
        return text

    return mask


def bounded_log_lines(
    result: CommandResult, tail: int, mask: Callable[[str], str] = str
) -> tuple[list[str], bool]:
    """The last ``tail`` lines of both streams by time, known secrets (``mask``) and secret-looking strings
    masked, long lines cut, within LOG_MAX_CHARS."""
    lines, truncated = parse.merge_logs(result.stdout, result.stderr, tail)
    kept: list[str] = []
    size = 0
    for line in reversed(lines):
        line = mask(line)
        line = redact_text(line if len(line) <= LOG_LINE_CHARS else line[:LOG_LINE_CHARS] + " [...]")
        size += len(line) + 1
        if size > LOG_MAX_CHARS:
            truncated = True
            break
        kept.append(line)
    return kept[::-1], truncated or result.truncated


class DockerService:
    """The docker CLI on registered servers, one command per call, errors translated for the model."""

    def __init__(self, ssh_service: RemoteRunner) -> None:
        self.ssh = ssh_service
        self._secret_sources: list[SecretSource] = []

    def register_secret_source(self, source: SecretSource) -> None:
        """Learn where the secrets of a Compose project's installation come from (the apps service)."""
        self._secret_sources.append(source)

    async def _project_secrets(self, server_id: str, container: str) -> set[str]:
        """The secret values of the installation whose Compose project ``container`` belongs to (none: empty)."""
        if not self._secret_sources:
            return set()
        result = await self.ssh.run(server_id, commands.container_project(container), check=False)
        project = result.stdout.strip() if result.ok else ""
        if not project or project == "<no value>":
            return set()
        found = await asyncio.gather(*(source(server_id, project) for source in self._secret_sources))
        return set().union(*found)

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
        return parse.container_detail(rows[0])

    async def _rows_for(self, server_id: str, argv: list[str], subject: str) -> list[dict[str, Any]]:
        result = await self.ssh.run(server_id, argv, check=False)
        rows = parse.json_lines(result.stdout) if result.ok else []
        if not rows:
            raise docker_error(server_id, argv, result, subject)
        return rows

    async def container_logs(self, server_id: str, container: str, tail: int, since: str | None) -> dict[str, Any]:
        argv = commands.logs(container, tail, since=since)
        result, secrets = await asyncio.gather(self.ssh.run(server_id, argv, check=False),
                                               self._project_secrets(server_id, container))
        if not result.ok:
            raise docker_error(server_id, argv, result, container)
        lines, truncated = bounded_log_lines(result, tail, masker(secrets))
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
        return _bounded([parse.image(row) for row in rows])

    async def list_volumes(self, server_id: str) -> Bounded:
        rows = await self._rows(server_id, commands.list_objects("volume"))
        return _bounded(sorted(map(parse.volume, rows), key=lambda v: v.name))

    async def list_networks(self, server_id: str) -> Bounded:
        rows = await self._rows(server_id, commands.list_objects("network"))
        return _bounded(sorted(map(parse.network, rows), key=lambda n: n.name))

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
        return parse.prune_report(what, result.stdout)

    async def docker_info(self, server_id: str) -> DockerInfo:
        info_result, df_output = await asyncio.gather(
            self.ssh.run(server_id, commands.info(), check=False),
            self._run(server_id, commands.system_df(), timeout=PRUNE_TIMEOUT_S),
        )
        info = parse.json_lines(info_result.stdout)[:1] if info_result.ok else []
        if not info or not info[0].get("ServerVersion"):
            raise docker_error(server_id, commands.info(), info_result)
        return parse.docker_info(info[0], parse.json_lines(df_output))

