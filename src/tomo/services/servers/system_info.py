"""What a server is, in one SSH round trip: fixed shell scripts and tolerant parsers for their output.

Two scripts: the system info that get_server_info and test_connection show, and the facts that
prepare_server decides with (user, sudo, package managers, Docker). Both are constants (no user data is
ever put into them) passed as one argv element to ``sh -c``. A missing tool leaves its part empty, and
the parsers turn whatever is missing into ``None`` or "unknown" instead of failing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime

from tomo.models.server import NOT_INSTALLED, DiskInfo, SystemInfo

SYSTEM_INFO_SCRIPT = r"""
s() { printf '\n@@%s\n' "$1"; }
s os-release; cat /etc/os-release 2>/dev/null || cat /usr/lib/os-release 2>/dev/null
s hostname; uname -n 2>/dev/null
s arch; uname -m 2>/dev/null
s kernel; uname -r 2>/dev/null
s cpus; getconf _NPROCESSORS_ONLN 2>/dev/null || grep -c '^processor' /proc/cpuinfo 2>/dev/null
s meminfo; grep '^MemTotal:' /proc/meminfo 2>/dev/null
s disk; df -Pk / 2>/dev/null
if command -v docker >/dev/null 2>&1; then
  s docker
  docker version --format '{{.Client.Version}}|{{.Server.Version}}' 2>/dev/null || docker --version 2>/dev/null
  s compose; docker compose version --short 2>/dev/null || docker-compose version --short 2>/dev/null
fi
s end
"""

#: Seconds the system-info script may take (docker may be slow to answer when its daemon is busy).
SYSTEM_INFO_TIMEOUT_S = 30.0

_SECTION = re.compile(r"^@@([a-z-]+)$")
_VERSION = re.compile(r"v?(\d+(?:\.\d+)+[^\s,]*)")


def system_info_argv() -> list[str]:
    """The one command that reads everything."""
    return ["sh", "-c", SYSTEM_INFO_SCRIPT]


def split_sections(output: str) -> dict[str, str]:
    """``@@name`` headed sections -> their text (stripped)."""
    sections: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in output.splitlines():
        match = _SECTION.match(line.strip())
        if match:
            current = sections.setdefault(match.group(1), [])
        elif current is not None:
            current.append(line)
    return {name: "\n".join(lines).strip() for name, lines in sections.items()}


def parse_os_release(text: str) -> dict[str, str]:
    """KEY=value lines of os-release, with shell-style quotes removed."""
    values: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, raw = line.strip().partition("=")
        if not sep or not key.isidentifier():
            continue
        value = raw.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        values[key] = value.replace('\\"', '"').replace("\\\\", "\\")
    return values


def parse_version(text: str) -> str | None:
    """The first version number in ``text`` ("Docker version 28.2.2, build x" -> "28.2.2")."""
    match = _VERSION.search(text)
    return match.group(1) if match else None


def parse_docker_versions(text: str) -> tuple[str | None, str | None]:
    """(client, server) from ``client|server`` (server empty when the daemon did not answer) or ``docker --version``."""
    lines = text.splitlines()
    if lines and "|" in lines[0]:
        client, _, server = lines[0].partition("|")
        return parse_version(client), parse_version(server)
    return parse_version(text), None


def parse_disk(df_output: str) -> DiskInfo:
    """``df -Pk /`` -> total and free bytes (columns read from the right: names may contain spaces)."""
    lines = [line for line in df_output.splitlines() if line.strip()]
    if len(lines) < 2:
        return DiskInfo()
    fields = lines[-1].split()
    try:
        total, free = int(fields[-5]) * 1024, int(fields[-3]) * 1024
    except (IndexError, ValueError):
        return DiskInfo()
    return DiskInfo(path=fields[-1], total_bytes=total, free_bytes=free)


def parse_memory(meminfo: str) -> int | None:
    """``MemTotal:  24684092 kB`` -> bytes."""
    match = re.search(r"MemTotal:\s*(\d+)\s*kB", meminfo)
    return int(match.group(1)) * 1024 if match else None


def _int_or_none(text: str) -> int | None:
    first = text.split()[0] if text.split() else ""
    return int(first) if first.isdigit() else None


def parse_system_info(output: str, collected_at: datetime) -> SystemInfo:
    """Build SystemInfo from the script's output; anything missing becomes None or "unknown"."""
    parts = split_sections(output)
    release = parse_os_release(parts.get("os-release", ""))
    os_name = release.get("PRETTY_NAME") or " ".join(filter(None, [release.get("NAME"), release.get("VERSION")]))
    client_version, server_version = parse_docker_versions(parts.get("docker", ""))
    return SystemInfo(
        os=os_name or "unknown",
        hostname=parts.get("hostname") or "unknown",
        architecture=parts.get("arch") or "unknown",
        kernel=parts.get("kernel") or "unknown",
        cpu_count=_int_or_none(parts.get("cpus", "")),
        memory_total=parse_memory(parts.get("meminfo", "")),
        disk=parse_disk(parts.get("disk", "")),
        docker_version=server_version or client_version or NOT_INSTALLED,
        docker_daemon_reachable=server_version is not None,
        compose_version=parse_version(parts.get("compose", "")) or NOT_INSTALLED,
        collected_at=collected_at,
    )


# -- facts for prepare_server ------------------------------------------------------------------------

FACTS_SCRIPT = r"""
printf 'uid=%s\n' "$(id -u)"
printf 'groups=%s\n' "$(id -Gn 2>/dev/null)"
printf 'arch=%s\n' "$(uname -m)"
for c in apt-get dnf yum apk pacman systemctl rc-service rc-update sudo usermod addgroup docker; do
  if command -v "$c" >/dev/null 2>&1; then printf 'has=%s\n' "$c"; fi
done
if [ "$(id -u)" != 0 ] && command -v sudo >/dev/null 2>&1 && sudo -n true >/dev/null 2>&1; then echo sudo=ok; fi
if command -v docker >/dev/null 2>&1; then
  v=$(docker --version 2>/dev/null) && printf 'docker_client=%s\n' "$v"
  v=$(docker version --format '{{.Server.Version}}' 2>/dev/null) && printf 'docker_server=%s\n' "$v"
  v=$(docker compose version --short 2>/dev/null) && printf 'compose=%s\n' "$v"
fi
df -Pk / 2>/dev/null | awk 'NR == 2 { print "disk_free_kb=" $(NF - 2) }'
echo '@@os-release'
cat /etc/os-release 2>/dev/null || cat /usr/lib/os-release 2>/dev/null
"""

FAMILY_BY_OS_ID = {
    "debian": "apt", "ubuntu": "apt", "raspbian": "apt", "linuxmint": "apt", "pop": "apt", "elementary": "apt",
    "fedora": "dnf", "rhel": "dnf", "centos": "dnf", "rocky": "dnf", "almalinux": "dnf", "amzn": "dnf", "ol": "dnf",
    "alpine": "apk", "arch": "pacman", "manjaro": "pacman", "endeavouros": "pacman",
}  # fmt: skip
_FAMILY_TOOL = {"apt": "apt-get", "dnf": "dnf", "apk": "apk", "pacman": "pacman"}


@dataclass
class Facts:
    """What the inspection found."""

    uid: int | None = None
    groups: set[str] = field(default_factory=set)
    arch: str = "unknown"
    commands: set[str] = field(default_factory=set)
    sudo_ok: bool = False
    docker_client: str | None = None
    docker_server: str | None = None
    compose: str | None = None
    disk_free: int | None = None
    os_release: dict[str, str] = field(default_factory=dict)

    @property
    def os_name(self) -> str:
        return self.os_release.get("PRETTY_NAME") or self.os_release.get("ID") or "unknown OS"

    @property
    def os_ids(self) -> list[str]:
        return [self.os_release.get("ID", ""), *self.os_release.get("ID_LIKE", "").split()]


def parse_facts(output: str) -> Facts:
    """Read the facts script's output."""
    head, _, release = output.partition("@@os-release")
    facts = Facts(os_release=parse_os_release(release))
    for line in head.splitlines():
        key, _, value = line.strip().partition("=")
        if key == "uid" and value.isdigit():
            facts.uid = int(value)
        elif key == "groups":
            facts.groups = set(value.split())
        elif key == "arch" and value:
            facts.arch = value
        elif key == "has":
            facts.commands.add(value)
        elif key == "sudo":
            facts.sudo_ok = value == "ok"
        elif key in ("docker_client", "docker_server", "compose"):
            setattr(facts, key, parse_version(value))
        elif key == "disk_free_kb" and value.isdigit():
            facts.disk_free = int(value) * 1024
    return facts


def detect_family(facts: Facts) -> tuple[str, str] | None:
    """(family, package tool) from os-release ID/ID_LIKE, else from the package manager found."""
    for os_id in facts.os_ids:
        family = FAMILY_BY_OS_ID.get(os_id)
        if family is not None:
            tool = _family_tool(family, facts.commands)
            if tool is not None:
                return family, tool
    for family in ("apt", "dnf", "apk", "pacman"):
        tool = _family_tool(family, facts.commands)
        if tool is not None:
            return family, tool
    return None


def _family_tool(family: str, commands: set[str]) -> str | None:
    if family == "dnf":
        return "dnf" if "dnf" in commands else "yum" if "yum" in commands else None
    tool = _FAMILY_TOOL[family]
    return tool if tool in commands else None
