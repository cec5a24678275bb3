"""The testbed itself works: SSH logins (password and keys), Docker in the namespace, the extra sshd ports.

These tests run against the real servers of ``scripts/testbed.sh up``; they skip when it is not running
(fail when ``TOMO_TESTBED=required``).
"""

from __future__ import annotations

import socket
import time
import urllib.request
import uuid
from pathlib import Path

import asyncssh
import pytest
from tests.testbed import IMAGE_BUSYBOX_V1, Testbed, docker_in_testbed, testbed_or_skip

pytestmark = pytest.mark.testbed


@pytest.fixture
def testbed() -> Testbed:
    return testbed_or_skip()


async def _run(testbed: Testbed, command: str, **auth: object) -> asyncssh.SSHCompletedProcess:
    async with asyncssh.connect(testbed.host, testbed.port, username=testbed.user, known_hosts=None, **auth) as conn:
        return await conn.run(command, check=True, timeout=30)


async def test_password_login_and_docker_over_ssh(testbed: Testbed) -> None:
    result = await _run(
        testbed,
        "id -un; id -Gn; docker version --format '{{.Server.Version}}'",
        password=testbed.password,
        client_keys=None,
        preferred_auth="password",
    )
    user, groups, server_version = str(result.stdout).split("\n")[:3]
    assert user == testbed.user
    assert "docker" in groups.split()
    assert server_version  # the namespace dockerd answers for the logged-in user


@pytest.mark.parametrize("which", ["key", "key_ecdsa", "key_rsa"])
async def test_key_login(testbed: Testbed, which: str) -> None:
    path: Path = getattr(testbed, which)
    passphrase = None if which == "key" else testbed.key_passphrase
    key = asyncssh.read_private_key(path, passphrase)
    result = await _run(testbed, "echo key-login-ok", client_keys=[key], password=None, preferred_auth="publickey")
    assert str(result.stdout).strip() == "key-login-ok"


def test_published_port_reachable_on_namespace_address(testbed: Testbed) -> None:
    name = f"tomo-testbed-test-{uuid.uuid4().hex[:8]}"
    try:
        docker_in_testbed("run", "-d", "--name", name, "-p", "80", IMAGE_BUSYBOX_V1, check=True)
        mapping = docker_in_testbed("port", name, "80/tcp", check=True).stdout.splitlines()[0]
        port = int(mapping.rsplit(":", 1)[1])
        url = f"http://{testbed.host}:{port}/"
        deadline = time.monotonic() + 15
        while True:
            try:
                with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - http to the testbed
                    body = response.read().decode()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        assert "version 1" in body
    finally:
        docker_in_testbed("rm", "-f", name)


def test_extra_sshd_ports_and_second_server_accept_tcp(testbed: Testbed) -> None:
    assert len(testbed.extra_ports) == 12
    targets = [(testbed.host, port) for port in testbed.extra_ports] + [(testbed.host2, 22)]
    for host, port in targets:
        with socket.create_connection((host, port), timeout=5) as sock:
            sock.settimeout(5)
            banner = sock.recv(64)
        assert banner.startswith(b"SSH-2.0-"), (host, port, banner)
