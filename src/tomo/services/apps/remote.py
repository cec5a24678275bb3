"""Remote operations on one app's Compose project: every command an argv list run through a RemoteRunner.

Names and paths reaching these commands are built by Tomo from validated values (``ProjectName``, the
checked apps_root); :func:`inside` refuses any path that is not strictly under the apps folder, so a
removal can never reach outside it.
"""

from __future__ import annotations

import asyncio
import posixpath
from collections.abc import Sequence
from typing import TYPE_CHECKING

import structlog

from tomo.errors import CommandFailed, ValidationError
from tomo.lib.docker import commands, parse
from tomo.lib.ssh.command import CommandResult
from tomo.lib.ssh.runner import RemoteRunner
from tomo.models.installation import ServiceState
from tomo.services.apps.checks import ServerFacts, facts_argv, parse_facts
from tomo.services.apps.render import ENV_FILE, ProjectPaths

if TYPE_CHECKING:
    from tomo.lib.ssh import OnOutput

log = structlog.get_logger("tomo.apps")

FACTS_TIMEOUT_S = 30.0
QUICK_TIMEOUT_S = 30.0
DOWN_TIMEOUT_S = 180.0
LOG_LINE_CHARS = 2000
PROJECT_FILE_MAX_BYTES = 1_000_000
HELPER_MOUNT = "/tomo-target"
PID_PREFIX = "tomo-pid "
_ANNOUNCE_PID = 'echo "tomo-pid $$"; exec "$@"'
_STOP_UP = ('cmd=$(tr "\\000" " " 2>/dev/null < "/proc/$1/cmdline") || exit 0; '
            'case " $cmd" in *" compose --project-name $2 "*) kill -TERM "$1";; esac')


def inside(path: str, apps_root: str) -> str:
    """``path`` normalised, if it lies strictly inside ``apps_root``; ValidationError otherwise."""
    normal = posixpath.normpath(path)
    root = posixpath.normpath(apps_root)
    if not normal.startswith(root.rstrip("/") + "/") or ".." in normal.split("/"):
        raise ValidationError(f"Refusing to touch {path!r}: it is not inside the apps folder {apps_root!r}")
    return normal


class AppRemote:
    """The remote side of installing, running and removing one app."""

    def __init__(self, runner: RemoteRunner) -> None:
        self.runner = runner

    async def facts(self, server_id: str, paths: ProjectPaths) -> ServerFacts:
        """Architecture, ids, time zone, listening ports, containers, free disk, the project folder."""
        result = await self.runner.run(
            server_id, facts_argv(paths.apps_root, paths.project_dir, paths.name), timeout=FACTS_TIMEOUT_S
        )
        return parse_facts(result.stdout)

    async def upload(self, server_id: str, paths: ProjectPaths, compose_text: str, env_text: str) -> None:
        """``<project>/data/`` created, compose.yaml and .env (0600) written over SFTP."""
        await self.runner.makedirs(server_id, inside(paths.data_dir, paths.apps_root), 0o755)
        await asyncio.gather(
            self.runner.put_file(server_id, paths.file("compose.yaml"), compose_text.encode(), mode=0o644),
            self.runner.put_file(server_id, paths.file(ENV_FILE), env_text.encode(), mode=0o600),
        )

    async def up(
        self, server_id: str, paths: ProjectPaths, wait_timeout: int, timeout: float, on_output: OnOutput
    ) -> CommandResult:
        """`docker compose up --detach --wait`, streaming its output.

        The first line is ``tomo-pid <pid>`` (see :data:`PID_PREFIX`): the process id of Compose, so a
        rollback can stop an `up` that outlived its SSH session.
        """
        argv = ["sh", "-c", _ANNOUNCE_PID, "tomo-up", *commands.compose_up(paths.name, paths.project_dir, wait_timeout)]
        return await self.runner.stream(server_id, argv, on_output, timeout=timeout)

    async def stop_up(self, server_id: str, pid: int, name: str) -> None:
        """Send SIGTERM to the `compose up` of project ``name`` that Tomo started as ``pid``, if that process still
        runs it (a recovery comes late: the pid may have ended, or been reused by another process)."""
        argv = ["sh", "-c", _STOP_UP, "tomo-stop-up", str(int(pid)), name]
        await self.runner.run(server_id, argv, timeout=QUICK_TIMEOUT_S)

    async def pull(self, server_id: str, paths: ProjectPaths, timeout: float, on_output: OnOutput) -> CommandResult:
        """`docker compose pull` (a failed pull of one image does not stop the others)."""
        argv = commands.compose_pull(paths.name, paths.project_dir)
        return await self.runner.stream(server_id, argv, on_output, timeout=timeout)

    async def compose_action(self, server_id: str, paths: ProjectPaths, action: str, timeout: float) -> None:
        """`docker compose start|stop|restart` (CommandFailed with Compose's message when it fails)."""
        await self.runner.run(server_id, commands.compose_action(paths.name, paths.project_dir, action),
                              timeout=timeout, check=True)

    async def states(self, server_id: str, name: str, timeout: float = QUICK_TIMEOUT_S) -> list[ServiceState]:
        """Each container of the project with state, health and restart count."""
        ps = await self.runner.run(server_id, commands.ps(all_containers=True, project=name), timeout=timeout,
                                   check=True)
        containers = [state.container for state in parse.projects(ps.stdout).get(name, [])]
        if not containers:
            return []
        result = await self.runner.run(server_id, commands.inspect("container", *containers), timeout=timeout)
        return parse.inspected_states(result.stdout)

    async def all_projects(self, server_id: str, timeout: float) -> dict[str, list[ServiceState]]:
        """Containers of every Compose project on the server, by project (one `docker ps`)."""
        result = await self.runner.run(server_id, commands.ps(all_containers=True, compose_only=True),
                                       timeout=timeout, check=True)
        return parse.projects(result.stdout)

    async def logs(
        self, server_id: str, states: list[ServiceState], tail: int, since: str | None = None
    ) -> dict[str, list[str]]:
        """The last ``tail`` lines of each container (stdout and stderr interleaved by time), by service."""

        async def one(state: ServiceState) -> tuple[str, list[str]]:
            argv = commands.logs(state.container, tail, since)
            result = await self.runner.run(server_id, argv, timeout=QUICK_TIMEOUT_S, max_output=256 * 1024)
            lines, _ = parse.merge_logs(result.stdout, result.stderr, tail)
            return state.service or state.container, [line[:LOG_LINE_CHARS] for line in lines]

        return dict(await asyncio.gather(*(one(state) for state in states)))

    async def volumes(self, server_id: str, name: str) -> set[str]:
        """Named volumes labelled as belonging to the project."""
        result = await self.runner.run(server_id, commands.volume_names(name), timeout=QUICK_TIMEOUT_S, check=True)
        return {line.strip() for line in result.stdout.splitlines() if line.strip()}

    async def down(self, server_id: str, paths: ProjectPaths) -> None:
        """Stop and remove the project's containers and networks (works without the compose file too)."""
        await self.runner.run(server_id, commands.compose_down(paths.name, paths.project_dir),
                              timeout=DOWN_TIMEOUT_S, check=True)

    async def remove_volumes(self, server_id: str, names: Sequence[str]) -> None:
        """Remove named volumes (after `down`, nothing uses them)."""
        if names:
            await self.runner.run(server_id, commands.remove_volumes(sorted(names)), timeout=QUICK_TIMEOUT_S,
                                  check=True)

    async def remove_files(self, server_id: str, paths: ProjectPaths, names: Sequence[str]) -> None:
        """Remove files of the project folder (missing ones are fine)."""
        files = [inside(paths.file(name), paths.apps_root) for name in names]
        await self.runner.run(server_id, ["rm", "-f", "--", *files], timeout=QUICK_TIMEOUT_S, check=True)

    async def remove_dir_if_empty(self, server_id: str, paths: ProjectPaths) -> None:
        """Remove the project folder when nothing is left in it."""
        await self.runner.run(server_id, ["rmdir", "--", inside(paths.project_dir, paths.apps_root)],
                              timeout=QUICK_TIMEOUT_S)

    async def copy(self, server_id: str, paths: ProjectPaths, source: str, target: str) -> None:
        """Copy one file of the project folder to another name, keeping its mode."""
        argv = ["cp", "-p", "--", inside(paths.file(source), paths.apps_root),
                inside(paths.file(target), paths.apps_root)]
        await self.runner.run(server_id, argv, timeout=QUICK_TIMEOUT_S, check=True)

    async def read_text(self, server_id: str, paths: ProjectPaths, name: str) -> str:
        """One file of the project folder (compose.yaml, say), read over SFTP, at most 1 MB."""
        data = await self.runner.get_file(server_id, inside(paths.file(name), paths.apps_root),
                                          max_bytes=PROJECT_FILE_MAX_BYTES, timeout=QUICK_TIMEOUT_S)
        return data.decode("utf-8", errors="replace")

    async def exists(self, server_id: str, path: str) -> bool:
        result = await self.runner.run(server_id, ["test", "-e", path], timeout=QUICK_TIMEOUT_S)
        return result.exit_status == 0

    async def remove_tree(self, server_id: str, paths: ProjectPaths, target: str, helper_image: str | None) -> str:
        """Delete a folder inside the project, even files containers made as root; returns how.

        Tries as the SSH user, then `sudo -n`, then a throwaway container (:func:`commands.run_once`: no
        network, no capability) that mounts only that folder and empties it as root, after which the SSH
        user removes what is left (the folder itself, and folders root made in the user's folders). Raises
        CommandFailed when the folder is still there.
        """
        path = inside(target, paths.apps_root)
        rm = ["rm", "-rf", "--", path]
        await self.runner.run(server_id, rm, timeout=DOWN_TIMEOUT_S)
        if not await self.exists(server_id, path):
            return "rm"
        sudo = await self.runner.run(server_id, ["sudo", "-n", *rm], timeout=DOWN_TIMEOUT_S)
        if sudo.exit_status == 0 and not await self.exists(server_id, path):
            return "sudo"
        if helper_image:
            # rm empties the mount point, then fails to remove it (it is busy): the SSH user does that.
            argv = commands.run_once(helper_image, ["-rf", "--", HELPER_MOUNT], user="0:0", entrypoint="rm",
                                     volume=f"{path}:{HELPER_MOUNT}")
            await self.runner.run(server_id, argv, timeout=DOWN_TIMEOUT_S)
            await self.runner.run(server_id, rm, timeout=DOWN_TIMEOUT_S)
            if not await self.exists(server_id, path):
                return "container"
        raise CommandFailed(
            f"Could not delete {path} on the server (files made by the app's containers belong to root and "
            "neither sudo nor a helper container could remove them); remove it by hand."
        )
