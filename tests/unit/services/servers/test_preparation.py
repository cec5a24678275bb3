"""prepare_server's decisions, against a fake server that answers the recording runner's commands.

The fake keeps state (packages installed, service running, group members, folders), so a second run
sees what the first one did: that is how "running it twice changes nothing" is checked here. The install
path of each distribution family is asserted command by command.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import pytest
from tests.fakes import RecordingRunner

from tomo.errors import CommandFailed, JobFailed
from tomo.lib.ssh import CommandResult
from tomo.services.servers.preparation import WRITABLE_DIR_TEST, Preparer
from tomo.services.servers.system_info import FACTS_SCRIPT

USER = "admin"
APPS = "/opt/tomo/apps"
SUDO = ["sudo", "-n"]
APT = ["env", "DEBIAN_FRONTEND=noninteractive", "apt-get"]
FACTS = ["sh", "-c", FACTS_SCRIPT]
APPS_WRITABLE = ["sh", "-c", WRITABLE_DIR_TEST, "sh", APPS]
DOCKER_PROBE = ["docker", "version", "--format", "{{.Server.Version}}"]
COMPOSE_PROBE = ["docker", "compose", "version", "--short"]

#: What each package provides once installed.
PROVIDES = {"docker.io": "docker", "docker": "docker", "moby-engine": "docker", "docker-compose-plugin": "compose",
            "docker-compose-v2": "compose", "docker-compose": "compose", "docker-cli-compose": "compose"}  # fmt: skip


@dataclass
class FakeServer:
    """A Linux box as far as the preparer can tell, driven by argv lists."""

    os_release: str
    tools: set[str]
    uid: int = 1000
    sudo: bool = True
    arch: str = "x86_64"
    disk_free_kb: int = 50 * 1024 * 1024
    available: set[str] = field(default_factory=set)
    installed: set[str] = field(default_factory=set)
    running: bool = False
    groups: set[str] = field(default_factory=lambda: {USER})
    pending_groups: set[str] = field(default_factory=set)
    dirs: dict[str, str] = field(default_factory=lambda: {"/opt": "root", "/tmp": "*"})
    runner: RecordingRunner = field(init=False)

    def __post_init__(self) -> None:
        self.runner = RecordingRunner(self.run)

    @property
    def calls(self) -> list[list[str]]:
        """Every argv sent, in order."""
        return self.runner.argvs()

    def has(self, component: str) -> bool:
        return any(PROVIDES[p] == component for p in self.installed)

    def run(self, argv: list[str]) -> CommandResult:
        as_root = self.uid == 0
        if list(argv[:2]) == SUDO:
            if not self.sudo:
                return _result(1, err="sudo: a password is required")
            argv, as_root = argv[2:], True
        return self.answer(list(argv), as_root)

    def answer(self, argv: list[str], root: bool) -> CommandResult:  # noqa: C901 - a little shell, by design
        if argv == FACTS:
            return _result(0, self.facts())
        if argv[:3] == APT and argv[3] == "update" or argv[:2] == ["pacman", "-Sy"]:
            return _result(0) if root else _result(100, err="Permission denied")
        if _is_install(argv):
            return self.install(argv[-1], root)
        if argv == COMPOSE_PROBE:
            missing = _result(1, err="'compose' is not a docker command")
            return _result(0, "2.24.0\n") if self.has("compose") else missing
        if argv == DOCKER_PROBE:
            reachable = self.has("docker") and self.running and (root or "docker" in self.groups)
            return _result(0, "24.0.7\n") if reachable else _result(1, err="Cannot connect to the Docker daemon")
        if argv in (["systemctl", "enable", "--now", "docker"], ["rc-service", "docker", "start"]):
            self.running = self.running or root
            return _result(0 if root else 1)
        if argv == ["rc-update", "add", "docker", "default"]:
            return _result(0 if root else 1)
        if argv in (["usermod", "-aG", "docker", USER], ["addgroup", USER, "docker"]) and root:
            self.pending_groups.add("docker")
            return _result(0)
        if argv[:3] == ["sh", "-c", WRITABLE_DIR_TEST]:
            owner = self.dirs.get(argv[4])
            return _result(0 if owner is not None and (root or owner in (USER, "*")) else 1)
        if argv[:3] == ["mkdir", "-p", "--"]:
            path = argv[3]
            parent_owner = self.dirs.get(path.rsplit("/", 1)[0], self.dirs.get("/" + path.split("/")[1]))
            if not root and parent_owner not in (USER, "*"):
                return _result(1, err="mkdir: Permission denied")
            self.dirs.setdefault(argv[3], "root" if root else USER)
            return _result(0)
        if argv[:2] == ["chown", "--"] and root:
            self.dirs[argv[3]] = argv[2]
            return _result(0)
        raise AssertionError(f"unexpected command {argv}")

    def install(self, package: str, root: bool) -> CommandResult:
        if not root:
            return _result(100, err="Permission denied")
        if package not in self.available:
            return _result(100, err=f"E: Unable to locate package {package}")
        self.installed.add(package)
        return _result(0)

    def reconnect(self) -> None:
        """A new SSH login sees the new groups."""
        self.groups |= self.pending_groups

    def facts(self) -> str:
        lines = [f"uid={self.uid}", f"groups={' '.join(sorted(self.groups))}", f"arch={self.arch}",
                 *(f"has={tool}" for tool in sorted(self.tools))]  # fmt: skip
        if self.uid != 0 and self.sudo:
            lines.append("sudo=ok")
        if self.has("docker"):
            lines.append("docker_client=Docker version 24.0.7, build afdd53b")
            if self.running and "docker" in self.groups:
                lines.append("docker_server=24.0.7")
            if self.has("compose"):
                lines.append("compose=2.24.0")
        lines.append(f"disk_free_kb={self.disk_free_kb}")
        return "\n".join(lines) + "\n@@os-release\n" + self.os_release + "\n"


def _is_install(argv: list[str]) -> bool:
    return (argv[:4] == [*APT, "install"] or argv[1:2] == ["install"] or argv[:2] == ["apk", "add"]
            or argv[:2] == ["pacman", "-S"])  # fmt: skip


def _result(status: int, out: str = "", err: str = "") -> CommandResult:
    return CommandResult(exit_status=status, stdout=out, stderr=err, duration_ms=1.0)


class FakeSteps:
    """Records steps like a JobContext does: (name, outcome, detail)."""

    def __init__(self) -> None:
        self.steps: list[tuple[str, str, str | None]] = []
        self.progress_values: list[float] = []

    @asynccontextmanager
    async def step(self, name: str) -> AsyncIterator[Any]:
        record = SimpleNamespace(detail=None)
        try:
            yield record
        except BaseException:
            self.steps.append((name, "failed", record.detail))
            raise
        self.steps.append((name, "ok", record.detail))

    async def skip(self, name: str, detail: str) -> None:
        self.steps.append((name, "skipped", detail))

    async def progress(self, percent: float, message: str | None = None) -> None:
        self.progress_values.append(percent)

    def outcome(self) -> dict[str, str]:
        return {name: outcome for name, outcome, _ in self.steps}


async def prepare(server: FakeServer, apps_root: str = APPS) -> tuple[dict[str, Any], FakeSteps]:
    steps = FakeSteps()
    server.runner.calls.clear()

    async def reconnect() -> None:
        server.reconnect()

    preparer = Preparer(server.runner, "srv-1", steps, server_name="nas", username=USER, apps_root=apps_root,
                        on_groups_changed=reconnect)  # fmt: skip
    try:
        return await preparer.prepare(), steps
    finally:
        assert all(call.server_id == "srv-1" and call.timeout and call.timeout > 0 for call in server.runner.calls)


def debian(**changes: Any) -> FakeServer:
    fields: dict[str, Any] = {
        "os_release": 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian',
        "tools": {"apt-get", "systemctl", "sudo", "usermod"},
        "available": {"docker.io", "docker-compose-v2"},
    }
    return FakeServer(**{**fields, **changes})


# -- the install path of each family --------------------------------------------------------------


async def test_apt_installs_docker_io_then_falls_back_to_compose_v2() -> None:
    server = debian()
    report, steps = await prepare(server)
    assert server.calls == [
        FACTS,
        [*SUDO, *APT, "update", "-q"],
        [*SUDO, *APT, "install", "-y", "-q", "docker.io"],
        COMPOSE_PROBE,
        [*SUDO, *APT, "install", "-y", "-q", "docker-compose-plugin"],
        [*SUDO, *APT, "install", "-y", "-q", "docker-compose-v2"],
        COMPOSE_PROBE,
        [*SUDO, *DOCKER_PROBE],
        [*SUDO, "systemctl", "enable", "--now", "docker"],
        [*SUDO, *DOCKER_PROBE],
        [*SUDO, "usermod", "-aG", "docker", USER],
        APPS_WRITABLE,
        ["mkdir", "-p", "--", APPS],
        [*SUDO, "mkdir", "-p", "--", APPS],
        [*SUDO, "chown", "--", USER, APPS],
    ]
    assert report["changed"] and len(report["changes"]) == 5
    assert set(steps.outcome().values()) == {"ok"} and steps.progress_values[-1] < 100


async def test_dnf_tries_docker_then_moby_engine_and_the_compose_plugin() -> None:
    server = FakeServer(os_release='ID=fedora\nPRETTY_NAME="Fedora Linux 41"', tools={"dnf", "systemctl", "usermod"},
                        uid=0, available={"moby-engine", "docker-compose-plugin"})  # fmt: skip
    await prepare(server)
    assert server.calls == [
        FACTS,
        ["dnf", "install", "-y", "docker"],
        ["dnf", "install", "-y", "moby-engine"],
        COMPOSE_PROBE,
        ["dnf", "install", "-y", "docker-compose-plugin"],
        COMPOSE_PROBE,
        DOCKER_PROBE,
        ["systemctl", "enable", "--now", "docker"],
        DOCKER_PROBE,
        APPS_WRITABLE,
        ["mkdir", "-p", "--", APPS],
    ]


async def test_yum_is_used_when_dnf_is_missing() -> None:
    server = FakeServer(os_release='ID="centos"\nID_LIKE="rhel fedora"', tools={"yum", "systemctl"}, uid=0,
                        available={"docker", "docker-compose"})  # fmt: skip
    await prepare(server)
    assert [c for c in server.calls if "install" in c] == [["yum", "install", "-y", "docker"],
                                                           ["yum", "install", "-y", "docker-compose-plugin"],
                                                           ["yum", "install", "-y", "docker-compose"]]  # fmt: skip


async def test_apk_installs_docker_and_cli_compose_and_uses_openrc() -> None:
    server = FakeServer(os_release="ID=alpine\nPRETTY_NAME=\"Alpine Linux v3.20\"",
                        tools={"apk", "rc-service", "rc-update", "sudo", "addgroup"},
                        available={"docker", "docker-cli-compose"})  # fmt: skip
    await prepare(server)
    assert server.calls == [
        FACTS,
        [*SUDO, "apk", "add", "--no-cache", "docker"],
        COMPOSE_PROBE,
        [*SUDO, "apk", "add", "--no-cache", "docker-cli-compose"],
        COMPOSE_PROBE,
        [*SUDO, *DOCKER_PROBE],
        [*SUDO, "rc-update", "add", "docker", "default"],
        [*SUDO, "rc-service", "docker", "start"],
        [*SUDO, *DOCKER_PROBE],
        [*SUDO, "addgroup", USER, "docker"],
        APPS_WRITABLE,
        ["mkdir", "-p", "--", APPS],
        [*SUDO, "mkdir", "-p", "--", APPS],
        [*SUDO, "chown", "--", USER, APPS],
    ]


async def test_pacman_refreshes_once_and_installs_docker_and_compose() -> None:
    server = FakeServer(os_release="ID=endeavouros\nID_LIKE=arch", tools={"pacman", "systemctl"}, uid=0,
                        available={"docker", "docker-compose"})  # fmt: skip
    await prepare(server)
    assert server.calls[:6] == [
        FACTS,
        ["pacman", "-Sy", "--noconfirm"],
        ["pacman", "-S", "--noconfirm", "--needed", "docker"],
        COMPOSE_PROBE,
        ["pacman", "-S", "--noconfirm", "--needed", "docker-compose"],
        COMPOSE_PROBE,
    ]


# -- idempotence ----------------------------------------------------------------------------------


async def test_second_run_changes_nothing() -> None:
    server = debian()
    await prepare(server)
    report, steps = await prepare(server)
    assert report == {"changed": False, "changes": [], "apps_root": APPS, "os": "Debian GNU/Linux 12 (bookworm)",
                      "architecture": "x86_64"}  # fmt: skip
    assert server.calls == [FACTS, APPS_WRITABLE]
    assert steps.outcome() == {
        "Inspect the server": "ok", "Check the architecture": "ok", "Check free disk space": "ok",
        "Install Docker": "skipped", "Install Docker Compose": "skipped", "Start the Docker service": "skipped",
        "Give the SSH user access to Docker": "skipped", f"Create {APPS}": "skipped",
    }  # fmt: skip


async def test_prepared_server_reports_what_is_present() -> None:
    server = debian(installed={"docker.io", "docker-compose-plugin"}, running=True, groups={USER, "docker"},
                    dirs={"/opt": "root", APPS: USER})  # fmt: skip
    _, steps = await prepare(server)
    details = {name: detail for name, _, detail in steps.steps}
    assert details["Install Docker"] == "Docker 24.0.7 is already installed"
    assert details["Install Docker Compose"] == "Docker Compose 2.24.0 is already installed"
    assert details["Start the Docker service"] == "the Docker engine 24.0.7 is running"


async def test_apps_root_in_a_writable_place_is_created_without_root() -> None:
    server = debian(installed={"docker.io", "docker-compose-plugin"}, running=True, groups={USER, "docker"},
                    sudo=False)  # fmt: skip
    report, _ = await prepare(server, apps_root="/tmp/apps")
    assert server.calls[-2:] == [["sh", "-c", WRITABLE_DIR_TEST, "sh", "/tmp/apps"], ["mkdir", "-p", "--", "/tmp/apps"]]
    assert report["changes"] == ["created /tmp/apps"]


# -- failures that stop the job -------------------------------------------------------------------


async def test_sudo_with_password_gives_a_clear_error_before_any_change() -> None:
    server = debian(sudo=False)
    with pytest.raises(CommandFailed) as caught:
        await prepare(server)
    message = caught.value.message
    assert "sudo asks for a password" in message and "NOPASSWD" in message and "prepare_server again" in message
    assert caught.value.details["reason"] == "sudo_password_required"
    assert server.calls == [FACTS] and server.installed == set()


async def test_unsupported_architecture_fails_the_job() -> None:
    with pytest.raises(JobFailed, match="'mips' architecture"):
        await prepare(debian(arch="mips"))


async def test_too_little_disk_for_an_install_fails_the_job() -> None:
    server = debian(disk_free_kb=512 * 1024)
    with pytest.raises(JobFailed, match="0.5 GiB free"):
        await prepare(server)
    assert server.calls == [FACTS]


async def test_unknown_package_manager_fails_with_advice() -> None:
    server = FakeServer(os_release="ID=gentoo", tools={"emerge", "sudo"})
    with pytest.raises(JobFailed, match="apt, dnf/yum, apk and pacman"):
        await prepare(server)


async def test_no_compose_package_fails_after_trying_each() -> None:
    server = debian(available={"docker.io"})
    with pytest.raises(JobFailed) as caught:
        await prepare(server)
    assert "docker-compose-plugin (E: Unable to locate" in caught.value.message
    assert "docker-compose-v2 (E: Unable to locate" in caught.value.message


async def test_user_values_travel_as_single_arguments() -> None:
    odd_root = "/srv/a-b_c.d/apps"
    server = debian(installed={"docker.io", "docker-compose-plugin"}, running=True, dirs={"/srv": "root"})
    await prepare(server, apps_root=odd_root)
    assert [*SUDO, "usermod", "-aG", "docker", USER] in server.calls
    assert [*SUDO, "chown", "--", USER, odd_root] in server.calls
    assert all(odd_root not in item or item == odd_root for call in server.calls for item in call)
