"""Access to the integration testbed started by ``scripts/testbed.sh up``.

The testbed is a real "remote homelab server" on this machine: OpenSSH servers and a Docker engine living in
their own network namespaces (``tomo-remote`` at 10.231.0.2, ``tomo-remote2`` at 10.231.1.2). Fixtures call
:func:`testbed_or_skip` and get a :class:`Testbed` describing how to reach it.

Settings come from the ``TOMO_TESTBED_*`` environment variables (``eval "$(scripts/testbed.sh env)"``);
any that are missing are taken from the output of ``scripts/testbed.sh env`` (needs no root, starts nothing).

Tests fail instead of skipping when ``TOMO_TESTBED=required`` (set by ``.ci/run``).
"""

from __future__ import annotations

import functools
import os
import shlex
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

REPO_ROOT = Path(__file__).resolve().parent.parent
TESTBED_SCRIPT = REPO_ROOT / "scripts" / "testbed.sh"

_ENV_NAMES = (
    "TOMO_TESTBED_HOST",
    "TOMO_TESTBED_HOST2",
    "TOMO_TESTBED_PORT",
    "TOMO_TESTBED_EXTRA_PORTS",
    "TOMO_TESTBED_USER",
    "TOMO_TESTBED_PASSWORD",
    "TOMO_TESTBED_KEY",
    "TOMO_TESTBED_KEY_ECDSA",
    "TOMO_TESTBED_KEY_RSA",
    "TOMO_TESTBED_KEY_PASSPHRASE",
    "TOMO_TESTBED_NOSUDO_USER",
    "TOMO_TESTBED_DIR",
    "DOCKER_HOST",
)

# Local images built by the testbed (no registry is reachable; tests must never pull).
IMAGE_BUSYBOX_V1 = "tomo-test/busybox:1"  # busybox httpd on port 80 serving /www ("version 1")
IMAGE_BUSYBOX_V2 = "tomo-test/busybox:2"  # the same, index.html says "version 2" (for updates)
IMAGE_FAILING = "tomo-test/failing:1"  # exits 1 immediately (for failure paths)


@dataclass(frozen=True)
class Testbed:
    """How to reach the testbed servers.

    ``host``/``port``: the main sshd (password and key auth for ``user``); ``extra_ports``: 12 more sshd
    instances on ``host`` (fan-out tests, shared host key); ``host2``: a second server (its own namespace and
    sshd on port 22; it has no Docker engine of its own, see ``scripts/testbed.sh``). ``key`` has no
    passphrase; ``key_ecdsa`` and ``key_rsa`` are protected by ``key_passphrase``. ``nosudo_user`` logs in
    with ``password`` too, is in group docker, and cannot sudo. ``docker_host`` is the namespace dockerd.
    """

    __test__ = False  # not a test class, despite the name

    host: str
    host2: str
    port: int
    extra_ports: tuple[int, ...]
    user: str
    password: str
    key: Path
    key_ecdsa: Path
    key_rsa: Path
    key_passphrase: str
    nosudo_user: str
    dir: Path
    docker_host: str


def _parse_ports(spec: str) -> tuple[int, ...]:
    ports: list[int] = []
    for part in spec.replace(",", " ").split():
        first, _, last = part.partition("-")
        ports.extend(range(int(first), int(last or first) + 1))
    return tuple(ports)


def _script_env() -> dict[str, str]:
    """The variables printed by ``scripts/testbed.sh env`` (lines ``export NAME=value``)."""
    out = subprocess.run(
        ["bash", str(TESTBED_SCRIPT), "env"], capture_output=True, text=True, check=True, timeout=30
    ).stdout
    values: dict[str, str] = {}
    for line in out.splitlines():
        words = shlex.split(line)
        if len(words) == 2 and words[0] == "export" and "=" in words[1]:
            name, _, value = words[1].partition("=")
            values[name] = value
    return values


@functools.cache
def load_testbed() -> Testbed:
    """The testbed settings: environment variables first, ``scripts/testbed.sh env`` for the rest."""
    values = {name: os.environ[name] for name in _ENV_NAMES if os.environ.get(name)}
    if len(values) < len(_ENV_NAMES):
        values = {**_script_env(), **values}
    return Testbed(
        host=values["TOMO_TESTBED_HOST"],
        host2=values["TOMO_TESTBED_HOST2"],
        port=int(values["TOMO_TESTBED_PORT"]),
        extra_ports=_parse_ports(values["TOMO_TESTBED_EXTRA_PORTS"]),
        user=values["TOMO_TESTBED_USER"],
        password=values["TOMO_TESTBED_PASSWORD"],
        key=Path(values["TOMO_TESTBED_KEY"]),
        key_ecdsa=Path(values["TOMO_TESTBED_KEY_ECDSA"]),
        key_rsa=Path(values["TOMO_TESTBED_KEY_RSA"]),
        key_passphrase=values["TOMO_TESTBED_KEY_PASSPHRASE"],
        nosudo_user=values["TOMO_TESTBED_NOSUDO_USER"],
        dir=Path(values["TOMO_TESTBED_DIR"]),
        docker_host=values["DOCKER_HOST"],
    )


def ssh_server_answers(host: str, port: int, timeout: float = 2.0) -> bool:
    """An SSH server greets on ``host:port`` (connect and banner, each within ``timeout``).

    A bare TCP connect is not proof: on the CI machines the default gateway accepts every outgoing TCP
    connection, so with the testbed down a connect to 10.231.0.2:22 still succeeds (and then hangs).
    """
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.settimeout(timeout)
            return sock.recv(8).startswith(b"SSH-")
    except OSError:
        return False


_unavailable_reason: str | None = None  # remembered so a missing testbed costs the timeout only once


def testbed_or_skip() -> Testbed:
    """The testbed, or skip the test if it is not running (fail instead when ``TOMO_TESTBED=required``)."""
    global _unavailable_reason
    if _unavailable_reason is not None:
        _unavailable(_unavailable_reason)
    try:
        testbed = load_testbed()
    except (OSError, subprocess.SubprocessError, KeyError, ValueError) as exc:
        _unavailable_reason = f"cannot read the testbed settings ({exc!r})"
        _unavailable(_unavailable_reason)
    if not ssh_server_answers(testbed.host, testbed.port, timeout=2.0):
        _unavailable_reason = f"no SSH server answers on {testbed.host}:{testbed.port}"
        _unavailable(_unavailable_reason)
    return testbed


testbed_or_skip.__test__ = False  # type: ignore[attr-defined]  # imported into test modules: not a test


def _unavailable(reason: str) -> NoReturn:
    import pytest  # imported lazily: this module is also usable outside pytest

    if os.environ.get("TOMO_TESTBED") == "required":
        pytest.fail(
            f"testbed required (TOMO_TESTBED=required) but not available: {reason}. "
            "Start it with `scripts/testbed.sh up` as root; "
            "see `scripts/testbed.sh status` and the logs in .testbed/logs/.",
            pytrace=False,
        )
    pytest.skip(
        f"testbed not available: {reason}. Run `scripts/testbed.sh up` as root to start it "
        "(set TOMO_TESTBED=required to make this a failure)."
    )


def docker_in_testbed(*args: str, check: bool = False, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run the docker CLI against the testbed's Docker engine, e.g. ``docker_in_testbed("ps", "-a")``.

    Output is captured as text. With ``check=True`` a non-zero exit raises ``CalledProcessError``.
    """
    env = {**os.environ, "DOCKER_HOST": load_testbed().docker_host}
    return subprocess.run(["docker", *args], env=env, capture_output=True, text=True, check=check, timeout=timeout)


def remote_path_exists(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` exists on the testbed "remote" servers.

    The namespaces only separate the network: the sshd servers, their users and the Docker engine share this
    machine's filesystem, so a file written over SSH on 10.231.0.2 (or 10.231.1.2) is checked locally.
    """
    return Path(path).exists()
