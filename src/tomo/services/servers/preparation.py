"""prepare_server: make a server ready for apps (Docker engine, Compose v2, apps_root), idempotently.

A job of recorded steps. The first step reads the facts in one round trip (a constant script);
each later step either finds its work already done (a *skipped* step saying what is there) or does it
with the distribution's own packages (apt, dnf/yum, apk, pacman), as root or through ``sudo -n``.
Running it twice changes nothing the second time. Every command is an argv list; the only values
from outside Tomo that reach one (the SSH username and the apps_root setting) are validated first and
travel as single arguments.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol

from tomo.errors import CommandFailed, JobFailed
from tomo.lib.docker import commands
from tomo.lib.ssh.command import CommandResult
from tomo.lib.ssh.runner import RemoteRunner
from tomo.models.common import JobStarted
from tomo.models.server import NOT_INSTALLED, SystemInfo, check_apps_root
from tomo.services.jobs.jobs import JobService
from tomo.services.servers.servers import ServerService
from tomo.services.servers.ssh import SSHService
from tomo.services.servers.system_info import FACTS_SCRIPT, Facts, detect_family, parse_facts, parse_version
from tomo.services.settings.settings import SettingsService

#: Whether "$1" is a directory the SSH user can write to (the path is an argument, never part of the script).
WRITABLE_DIR_TEST = 'test -d "$1" && test -w "$1"'

SUPPORTED_ARCHITECTURES = frozenset({"x86_64", "amd64", "aarch64", "arm64", "armv7l", "armv6l", "ppc64le", "s390x"})
MIN_FREE_BYTES_TO_INSTALL = 2 * 1024**3
INSTALL_TIMEOUT_S = 1800.0
QUICK_TIMEOUT_S = 60.0

def install_command(family: str, tool: str, package: str) -> list[str]:
    """The argv (without the root prefix) that installs one package."""
    if family == "apt":
        return ["env", "DEBIAN_FRONTEND=noninteractive", "apt-get", "install", "-y", "-q", package]
    if family == "dnf":
        return [tool, "install", "-y", package]
    if family == "apk":
        return ["apk", "add", "--no-cache", package]
    return ["pacman", "-S", "--noconfirm", "--needed", package]


#: Packages to try, in order, per family and component (the first that installs wins).
PACKAGES: dict[str, dict[str, tuple[str, ...]]] = {
    "apt": {"docker": ("docker.io",), "compose": ("docker-compose-plugin", "docker-compose-v2")},
    "dnf": {"docker": ("docker", "moby-engine"), "compose": ("docker-compose-plugin", "docker-compose")},
    "apk": {"docker": ("docker",), "compose": ("docker-cli-compose",)},
    "pacman": {"docker": ("docker",), "compose": ("docker-compose",)},
}

#: Refreshing the package index once before the first install.
REFRESH: dict[str, list[str]] = {
    "apt": ["env", "DEBIAN_FRONTEND=noninteractive", "apt-get", "update", "-q"],
    "pacman": ["pacman", "-Sy", "--noconfirm"],
}


class StepRecorder(Protocol):
    """The part of a JobContext the preparer uses."""

    def step(self, name: str) -> AbstractAsyncContextManager[Any]: ...

    async def skip(self, name: str, detail: str) -> None: ...

    async def progress(self, percent: float, message: str | None = None) -> None: ...


class Preparer:
    """One run of prepare_server against one server."""

    def __init__(
        self,
        runner: RemoteRunner,
        server_id: str,
        steps: StepRecorder,
        *,
        server_name: str,
        username: str,
        apps_root: str,
        on_groups_changed: Callable[[], Awaitable[None]],
    ) -> None:
        self.runner = runner
        self.server_id = server_id
        self.steps = steps
        self.server_name = server_name
        self.username = username
        self.apps_root = apps_root
        self.on_groups_changed = on_groups_changed
        self.facts = Facts()
        self.changes: list[str] = []
        self._refreshed = False

    async def prepare(self) -> dict[str, Any]:
        """Run every step; returns what changed."""
        plan = [self.inspect, self.check_architecture, self.check_disk, self.install_docker, self.install_compose,
                self.start_docker, self.grant_docker_access, self.create_apps_root]  # fmt: skip
        for index, stage in enumerate(plan):
            await stage()
            await self.steps.progress(100 * (index + 1) / (len(plan) + 1))
        return {"changed": bool(self.changes), "changes": self.changes, "apps_root": self.apps_root,
                "os": self.facts.os_name, "architecture": self.facts.arch}  # fmt: skip

    async def run(self, argv: Sequence[str], timeout: float) -> CommandResult:  # noqa: ASYNC109
        """Run one command on the server being prepared (a failure is the caller's to read)."""
        return await self.runner.run(self.server_id, argv, timeout=timeout)

    async def inspect(self) -> None:
        async with self.steps.step("Inspect the server") as step:
            result = await self.run(["sh", "-c", FACTS_SCRIPT], QUICK_TIMEOUT_S)
            self.facts = facts = parse_facts(result.stdout)
            family = detect_family(facts)
            sudo = "sudo without password" if facts.sudo_ok else "no passwordless sudo"
            who = "root" if facts.uid == 0 else f"{self.username} ({sudo})"
            step.detail = f"{facts.os_name}, {facts.arch}, packages: {family[0] if family else 'unknown'}, as {who}"

    async def check_architecture(self) -> None:
        async with self.steps.step("Check the architecture") as step:
            if self.facts.arch not in SUPPORTED_ARCHITECTURES:
                raise JobFailed(
                    f"Docker has no packages for the '{self.facts.arch}' architecture of '{self.server_name}'; "
                    f"supported: {', '.join(sorted(SUPPORTED_ARCHITECTURES))}."
                )
            step.detail = f"{self.facts.arch} is supported"

    async def check_disk(self) -> None:
        async with self.steps.step("Check free disk space") as step:
            free = self.facts.disk_free
            if free is None:
                step.detail = "free space on / unknown"
                return
            step.detail = f"{free / 1024**3:.1f} GiB free on /"
            if free < MIN_FREE_BYTES_TO_INSTALL and self._needs_install():
                raise JobFailed(
                    f"Only {free / 1024**3:.1f} GiB free on / of '{self.server_name}'; installing Docker needs at "
                    f"least {MIN_FREE_BYTES_TO_INSTALL // 1024**3} GiB. Free some space, then run prepare_server "
                    "again."
                )

    def _needs_install(self) -> bool:
        return self.facts.docker_client is None or self.facts.compose is None

    async def install_docker(self) -> None:
        name = "Install Docker"
        if self.facts.docker_client is not None:
            await self.steps.skip(name, f"Docker {self.facts.docker_client} is already installed")
            return
        async with self.steps.step(name) as step:
            package = await self._install("docker")
            self.facts.docker_client = package
            step.detail = f"installed {package}"
            self.changes.append(f"installed {package}")
            self.facts.compose = await self._compose_version()

    async def install_compose(self) -> None:
        name = "Install Docker Compose"
        if self.facts.compose is not None:
            await self.steps.skip(name, f"Docker Compose {self.facts.compose} is already installed")
            return
        async with self.steps.step(name) as step:
            package = await self._install("compose")
            self.facts.compose = await self._compose_version()
            if self.facts.compose is None:
                raise JobFailed(f"{package} was installed but 'docker compose version' still fails on "
                                f"'{self.server_name}'; check the package, then run prepare_server again.")
            step.detail = f"installed {package} (Compose {self.facts.compose})"
            self.changes.append(f"installed {package}")

    async def _install(self, component: str) -> str:
        family_tool = detect_family(self.facts)
        if family_tool is None:
            raise JobFailed(
                f"Cannot tell which package manager '{self.server_name}' uses ({self.facts.os_name}); Tomo knows "
                "apt, dnf/yum, apk and pacman. Install Docker and the Compose plugin by hand, then run "
                "prepare_server again."
            )
        family, tool = family_tool
        root = self._root(f"installing {component} packages")
        if family in REFRESH and not self._refreshed:
            await self._checked([*root, *REFRESH[family]], INSTALL_TIMEOUT_S)
            self._refreshed = True
        tried: list[str] = []
        for package in PACKAGES[family][component]:
            result = await self.run([*root, *install_command(family, tool, package)], INSTALL_TIMEOUT_S)
            if result.ok:
                return package
            tried.append(f"{package} ({_last_line(result)})")
        raise JobFailed(
            f"Could not install {component} on '{self.server_name}' with {tool}: tried {'; '.join(tried)}. "
            "Install Docker's packages by hand (https://docs.docker.com/engine/install/), then run "
            "prepare_server again."
        )

    async def _compose_version(self) -> str | None:
        result = await self.run(commands.compose_version(), QUICK_TIMEOUT_S)
        return parse_version(result.stdout) if result.ok else None

    async def start_docker(self) -> None:
        name = "Start the Docker service"
        if self.facts.docker_server is not None:
            await self.steps.skip(name, f"the Docker engine {self.facts.docker_server} is running")
            return
        root = self._root("checking and starting the Docker service")
        if await self._engine_answers(root):
            await self.steps.skip(name, "the Docker engine is running")
            return
        async with self.steps.step(name) as step:
            for argv in self._service_commands():
                await self._checked([*root, *argv], QUICK_TIMEOUT_S * 2)
            if not await self._engine_answers(root):
                raise JobFailed(f"The Docker service on '{self.server_name}' was started but does not answer; "
                                "check `journalctl -u docker` (or /var/log/docker.log) on the server.")
            step.detail = "enabled and started the docker service"
            self.changes.append("started the docker service")

    def _service_commands(self) -> list[list[str]]:
        if "systemctl" in self.facts.commands:
            return [["systemctl", "enable", "--now", "docker"]]
        if "rc-service" in self.facts.commands:
            return [["rc-update", "add", "docker", "default"], ["rc-service", "docker", "start"]]
        raise JobFailed(f"'{self.server_name}' has neither systemctl nor rc-service to start Docker with; start "
                        "dockerd yourself, then run prepare_server again.")

    async def _engine_answers(self, root: list[str]) -> bool:
        result = await self.run([*root, *commands.server_version()], QUICK_TIMEOUT_S)
        return result.ok and parse_version(result.stdout) is not None

    async def grant_docker_access(self) -> None:
        name = "Give the SSH user access to Docker"
        if self.facts.uid == 0:
            await self.steps.skip(name, "connected as root")
            return
        if "docker" in self.facts.groups:
            await self.steps.skip(name, f"{self.username} is already in group docker")
            return
        root = self._root(f"adding {self.username} to group docker")
        async with self.steps.step(name) as step:
            if "usermod" in self.facts.commands:
                await self._checked([*root, "usermod", "-aG", "docker", self.username], QUICK_TIMEOUT_S)
            else:
                await self._checked([*root, "addgroup", self.username, "docker"], QUICK_TIMEOUT_S)
            await self.on_groups_changed()
            step.detail = f"added {self.username} to group docker"
            self.changes.append(step.detail)

    async def create_apps_root(self) -> None:
        name = f"Create {self.apps_root}"
        if (await self.run(["sh", "-c", WRITABLE_DIR_TEST, "sh", self.apps_root], QUICK_TIMEOUT_S)).ok:
            await self.steps.skip(name, f"{self.apps_root} exists and {self.username} can write to it")
            return
        async with self.steps.step(name) as step:
            if (await self.run(["mkdir", "-p", "--", self.apps_root], QUICK_TIMEOUT_S)).ok:
                step.detail = f"created {self.apps_root}"
            else:
                root = self._root(f"creating {self.apps_root}")
                await self._checked([*root, "mkdir", "-p", "--", self.apps_root], QUICK_TIMEOUT_S)
                await self._checked([*root, "chown", "--", self.username, self.apps_root], QUICK_TIMEOUT_S)
                step.detail = f"created {self.apps_root} owned by {self.username}"
            self.changes.append(step.detail)

    def _root(self, purpose: str) -> list[str]:
        """The prefix that runs a command as root, or a clear error when there is none."""
        if self.facts.uid == 0:
            return []
        if self.facts.sudo_ok:
            return ["sudo", "-n"]
        raise CommandFailed(
            f"Preparing '{self.server_name}' needs root for {purpose}, but '{self.username}' is not root and sudo "
            f"asks for a password (`sudo -n true` failed). Allow passwordless sudo for this user (e.g. the line "
            f"'{self.username} ALL=(ALL) NOPASSWD: ALL' in /etc/sudoers.d/tomo), or do this step by hand; "
            "then run prepare_server again.",
            details={"reason": "sudo_password_required", "user": self.username},
        )

    async def _checked(self, argv: list[str], timeout: float) -> CommandResult:  # noqa: ASYNC109
        result = await self.run(argv, timeout)
        if not result.ok:
            raise CommandFailed(
                f"'{' '.join(argv[:4])}...' failed on '{self.server_name}' (exit {result.exit_status}): "
                f"{_last_line(result)}",
                details={"exit_status": result.exit_status, "stderr_tail": result.stderr[-600:]},
            )
        return result


def _last_line(result: CommandResult) -> str:
    lines = (result.stderr.strip() or result.stdout.strip()).splitlines()
    return lines[-1][:300] if lines else f"exit status {result.exit_status}"


def check_ready(server_name: str, username: str, info: SystemInfo) -> None:
    """Fail unless the SSH user reaches the Docker engine and Compose works."""
    if not info.docker_daemon_reachable:
        raise JobFailed(f"'{username}' still cannot reach the Docker engine on '{server_name}'; check that "
                        "dockerd runs and that the user is in group docker, then run prepare_server again.")
    if info.compose_version == NOT_INSTALLED:
        raise JobFailed(f"'docker compose' does not work for '{username}' on '{server_name}'; install the Compose "
                        "v2 plugin, then run prepare_server again.")


class PreparationService:
    """Starts prepare_server jobs."""

    def __init__(
        self,
        server_service: ServerService,
        ssh_service: SSHService,
        job_service: JobService,
        settings_service: SettingsService,
    ) -> None:
        self.servers = server_service
        self.ssh = ssh_service
        self.jobs = job_service
        self.settings = settings_service

    async def start(self, ref: str) -> JobStarted:
        """Check the server and the apps_root setting, then start the job."""
        server = await self.servers.get(ref)
        apps_root = check_apps_root(self.settings.get("apps_root"))

        async def runner(ctx: Any) -> dict[str, Any]:
            preparer = Preparer(self.ssh, server.id, ctx, server_name=server.name, username=server.username,
                                apps_root=apps_root, on_groups_changed=lambda: self.ssh.forget(server.id))
            report = await preparer.prepare()
            async with ctx.step("Verify Docker and Compose") as step:
                info = await self.servers.refresh_system_info(server.id)
                step.detail = f"Docker {info.docker_version}, Compose {info.compose_version}"
                check_ready(server.name, server.username, info)
            done = f"changed: {'; '.join(report['changes'])}" if report["changes"] else "nothing needed changing"
            await ctx.progress(100, f"Server '{server.name}' is ready for apps ({done}).")
            return {"server_id": server.id, **report, "docker_version": info.docker_version,
                    "compose_version": info.compose_version}  # fmt: skip

        job_id = await self.jobs.start("prepare_server", f"Prepare server '{server.name}'", runner,
                                       server_id=server.id, resource=f"server:{server.id}:prepare",
                                       params={"server_id": server.id, "apps_root": apps_root})  # fmt: skip
        return JobStarted(job_id, f"Preparing server '{server.name}'.")
