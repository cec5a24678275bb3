"""Helpers for the app deployment tests: a test catalog in a git repository, a private apps folder on the
testbed server, free ports, and a record of every Compose project a test may create (removed at the end).
"""

from __future__ import annotations

import json
import os
import pwd
import random
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tests.conftest import Answer, ToolCaller
from tests.testbed import Testbed, docker_in_testbed

FIXTURE_CATALOG = Path(__file__).parent / "fixtures" / "catalog-apps"
REPO_NAME = "testapps"


def facts_output(*, entries: list[str] | None = None, volumes: Sequence[str] = (), listening: Sequence[int] = (22,),
                 machine: str = "x86_64", free_kb: int = 50_000_000, containers: Sequence[dict[str, Any]] = ()) -> str:
    tcp = "  sl  local_address rem_address   st\n" + "".join(
        f"   0: 00000000:{port:04X} 00000000:0000 0A 00000000:00000000\n" for port in listening)
    project = "" if entries is None else "exists\n" + "".join(f"{entry}\n" for entry in entries)
    return (f"\n@@arch\n{machine}\n@@ids\n1001\n1001\n@@tz\n/usr/share/zoneinfo/Europe/Paris\n@@tcp\n{tcp}@@udp\n"
            f"@@df\nFilesystem 1024-blocks Used Available Capacity Mounted on\n/dev/sda1 1 1 {free_kb} 1% /\n"
            f"@@project\n{project}@@compose\n2.29.1\n@@volumes\n" + "".join(f"{v}\n" for v in volumes)
            + "@@docker\n" + "".join(json.dumps(c) + "\n" for c in containers) + "@@end\n")


def git(repo: Path, *args: str) -> None:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@t"}
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, env=env, timeout=60)


def make_catalog_repo(root: Path) -> Path:
    """The fixture catalog committed to a fresh git repository (branch main)."""
    shutil.copytree(FIXTURE_CATALOG, root)
    git(root, "init", "--quiet", "--initial-branch=main")
    git(root, "add", "--all")
    git(root, "commit", "--quiet", "--message", "test catalog")
    return root


def commit_change(repo: Path, app: str, old: str, new: str) -> None:
    """Edit an app's compose.yaml in the catalog repository and commit it."""
    path = repo / "apps" / app / "compose.yaml"
    text = path.read_text()
    assert old in text, (app, old)
    path.write_text(text.replace(old, new))
    git(repo, "commit", "--quiet", "--all", "--message", f"change {app}")


def ok(answer: Answer) -> Any:
    assert answer.envelope["success"], answer.envelope
    assert not answer.is_error
    return answer.data


class Sandbox:
    """An apps folder owned by the SSH user, plus the Compose project names a test used."""

    def __init__(self, testbed: Testbed, user_name: str | None = None) -> None:
        self.testbed = testbed
        self.user = user_name or testbed.user
        self.prefix = f"it{uuid.uuid4().hex[:8]}"
        self.apps_root = Path(f"/tmp/tomo-apps-{self.prefix}")
        self.apps_root.mkdir(mode=0o755)
        user = pwd.getpwnam(self.user)
        os.chown(self.apps_root, user.pw_uid, user.pw_gid)
        self.projects: set[str] = set()

    def name(self, suffix: str) -> str:
        name = f"{self.prefix}-{suffix}"
        self.projects.add(name)
        return name

    def containers(self, project: str) -> list[str]:
        out = docker_in_testbed("ps", "--all", "--quiet", "--filter", f"label=com.docker.compose.project={project}")
        return out.stdout.split()

    def volumes(self, project: str) -> list[str]:
        out = docker_in_testbed("volume", "ls", "--quiet", "--filter", f"label=com.docker.compose.project={project}")
        return out.stdout.split()

    def networks(self, project: str) -> list[str]:
        out = docker_in_testbed("network", "ls", "--quiet", "--filter", f"label=com.docker.compose.project={project}")
        return out.stdout.split()

    def project_dir(self, project: str) -> Path:
        return self.apps_root / project

    def assert_nothing_left(self, project: str) -> None:
        assert self.containers(project) == [], docker_in_testbed("ps", "-a").stdout
        assert self.volumes(project) == []
        assert self.networks(project) == []
        assert not self.project_dir(project).exists(), list(self.project_dir(project).rglob("*"))

    def cleanup(self) -> None:
        for project in self.projects:
            ids = self.containers(project)
            if ids:
                docker_in_testbed("rm", "--force", "--volumes", *ids)
            for volume in self.volumes(project):
                docker_in_testbed("volume", "rm", "--force", volume)
            for network in self.networks(project):
                docker_in_testbed("network", "rm", network)
        shutil.rmtree(self.apps_root, ignore_errors=True)


def port_is_free(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) != 0


def free_port(host: str) -> int:
    """A TCP port nothing listens on at ``host`` (and that no container publishes)."""
    published = docker_in_testbed("ps", "--format", "{{.Ports}}").stdout
    for _ in range(200):
        port = random.randint(20000, 29999)
        if f":{port}->" not in published and port_is_free(host, port):
            return port
    raise AssertionError("no free port found")


def http_get(host: str, port: int, path: str = "/", timeout: float = 3.0) -> tuple[int, str]:
    """A tiny HTTP GET from this machine: (status, body)."""
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.sendall(f"GET {path} HTTP/1.0\r\nHost: {host}\r\n\r\n".encode())
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.decode("latin-1").partition("\r\n\r\n")
    return int(head.split()[1]), body


def wait_until(predicate: Any, seconds: float = 20.0, interval: float = 0.2) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(interval)


async def setup_tomo(call: ToolCaller, testbed: Testbed, sandbox: Sandbox, catalog: Path) -> str:
    """Register the testbed server, point apps_root at the sandbox, add and sync the test catalog."""
    ok(await call("update_settings", settings={"apps_root": str(sandbox.apps_root)}))
    login: dict[str, str] = (
        {"auth_type": "key", "private_key": testbed.key.read_text()} if sandbox.user == testbed.user
        else {"auth_type": "password", "password": testbed.password}
    )
    server = ok(await call("add_server", name=f"{sandbox.prefix}-srv", host=testbed.host, port=testbed.port,
                           username=sandbox.user, **login))["server"]
    ok(await call("test_connection", server_id=server["id"]))
    repo = ok(await call("add_repo", name=REPO_NAME, url=str(catalog)))["repo"]
    ok(await call("sync_repo", repo_id=repo["id"], wait_seconds=120))
    return str(server["id"])
