"""Parsers for the docker CLI's output: ``--format '{{json .}}'`` lines, Status strings, labels, log lines.

One parser per output, each returning a model of ``models/``. What the strings look like was checked
against a real engine (20.10, CLI 28): a Status is "Up 5 seconds (healthy)", "Up 5 seconds (unhealthy)",
"Up 5 seconds (health: starting)", "Exited (3) 6 seconds ago" or "Restarting (2) Less than a second ago";
`docker logs --timestamps` starts each line with RFC 3339 time in UTC and nine fraction digits.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any

from tomo.errors import CommandFailed
from tomo.lib.docker.commands import PROJECT_LABEL, SERVICE_LABEL
from tomo.models.docker import (
    ContainerDetail,
    ContainerStats,
    ContainerSummary,
    DiskUsage,
    DockerInfo,
    ImageSummary,
    NetworkSummary,
    PruneReport,
    VolumeSummary,
)
from tomo.models.installation import ServiceState

_SIZE = re.compile(r"^\s*([0-9.]+)\s*([kKMGTP]?i?B)\s*$")
_UNITS = {"B": 1, "kB": 1000, "KB": 1000, "MB": 1000**2, "GB": 1000**3, "TB": 1000**4,
          "KiB": 1024, "MiB": 1024**2, "GiB": 1024**3, "TiB": 1024**4, "PiB": 1024**5}  # fmt: skip
_HEALTH = re.compile(r"\((?:health: )?(healthy|unhealthy|starting)\)")
_EXITED = re.compile(r"^Exited \((-?\d+)\)")
_STAMP = re.compile(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)(?: |$)")
_UNDATED = (-(1 << 62), 0)
_RECLAIMED = re.compile(r"^Total reclaimed space:\s*(\S+)", re.MULTILINE)
_SECTION = re.compile(r"^Deleted (Containers|Networks|Volumes|Images|build cache objects):\s*$", re.IGNORECASE)


# ---- JSON ----------------------------------------------------------------------------------------------


def json_lines(text: str, *, lenient: bool = False) -> list[dict[str, Any]]:
    """Parse one JSON object per line; a JSON array is accepted too.

    Unreadable output is CommandFailed; with ``lenient``, lines that are not a JSON object are skipped
    (`docker inspect` of several containers prints the ones it found when one has just gone).
    """
    stripped = text.strip()
    if not stripped:
        return []
    if stripped.startswith("[") and not lenient:
        rows: list[dict[str, Any]] = _loads(stripped, list)
        return rows
    if lenient:
        return [row for line in stripped.splitlines() if (row := _object_or_none(line)) is not None]
    return [_loads(line, dict) for line in stripped.splitlines() if line.strip()]


def _loads(text: str, expected: type) -> Any:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CommandFailed(f"Docker printed output Tomo cannot read: {text[:120]!r}") from exc
    if not isinstance(value, expected):
        raise CommandFailed(f"Docker printed unexpected JSON ({type(value).__name__}).")
    return value


def _object_or_none(line: str) -> dict[str, Any] | None:
    if not line.startswith("{"):
        return None
    try:
        value = json.loads(line)
    except json.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None


# ---- labels and Status strings -------------------------------------------------------------------------


def labels(raw: str) -> dict[str, str]:
    """The Labels field of a `docker ps` or `volume ls` row ('k=v,k2=v2') as a dict.

    Docker joins the pairs with commas without escaping the values, so a piece without '=' belongs to
    the value before it: 'a=1,2,b=x' is {'a': '1,2', 'b': 'x'}.
    """
    found: dict[str, str] = {}
    key = None
    for piece in raw.split(","):
        if "=" in piece:
            key, value = piece.split("=", 1)
            found[key] = value
        elif key is not None:
            found[key] += "," + piece
    return found


def health(status: str) -> str | None:
    """'Up 3 minutes (healthy)' -> 'healthy'; also 'unhealthy', 'starting'; None without a healthcheck."""
    match = _HEALTH.search(status)
    return match.group(1) if match else None


def exit_code(status: str) -> int | None:
    """'Exited (137) 5 seconds ago' -> 137; None for a container that has not exited."""
    match = _EXITED.match(status)
    return int(match.group(1)) if match else None


# ---- containers ----------------------------------------------------------------------------------------


def container(row: dict[str, Any]) -> ContainerSummary:
    """A `docker ps` row as a compact summary."""
    found = labels(str(row.get("Labels", "")))
    status = str(row.get("Status", ""))
    return ContainerSummary(
        id=str(row.get("ID", ""))[:12], name=str(row.get("Names", "")), image=str(row.get("Image", "")),
        state=str(row.get("State", "")).lower(), status=status, health=health(status),
        ports=str(row.get("Ports", "")), project=found.get(PROJECT_LABEL),
        service=found.get(SERVICE_LABEL), created=row.get("CreatedAt"),
    )  # fmt: skip


def projects(text: str) -> dict[str, list[ServiceState]]:
    """`docker ps` JSON lines -> the containers' states grouped by compose project, sorted by service."""
    grouped: dict[str, list[ServiceState]] = {}
    for row in json_lines(text, lenient=True):
        summary = container(row)
        state = ServiceState(service=summary.service or "", container=summary.name, image=summary.image,
                             state=summary.state, health=summary.health, exit_code=exit_code(summary.status))
        grouped.setdefault(summary.project or "", []).append(state)
    return {name: sorted(states, key=lambda s: s.service) for name, states in grouped.items()}


def inspected_states(text: str) -> list[ServiceState]:
    """`docker container inspect` JSON lines -> service states with restart counts, sorted by service."""
    states = [_inspected_state(doc) for doc in json_lines(text, lenient=True)]
    return sorted(states, key=lambda s: (s.service, s.container))


def _inspected_state(doc: dict[str, Any]) -> ServiceState:
    state, config = doc.get("State") or {}, doc.get("Config") or {}
    return ServiceState(
        service=str((config.get("Labels") or {}).get(SERVICE_LABEL, "")),
        container=str(doc.get("Name", "")).lstrip("/"), image=str(config.get("Image", "")),
        state=str(state.get("Status", "")).lower(), health=(state.get("Health") or {}).get("Status") or None,
        restarts=int(doc.get("RestartCount") or 0), exit_code=state.get("ExitCode"),
    )  # fmt: skip


def container_detail(doc: dict[str, Any]) -> ContainerDetail:
    """A `docker container inspect` document reduced to what a person needs (env values dropped)."""
    state, config = doc.get("State") or {}, doc.get("Config") or {}
    found = config.get("Labels") or {}
    network = doc.get("NetworkSettings") or {}
    return ContainerDetail(
        id=str(doc.get("Id", ""))[:12], name=str(doc.get("Name", "")).lstrip("/"),
        image=str(config.get("Image", "")), state=str(state.get("Status", "")),
        health=(state.get("Health") or {}).get("Status"), exit_code=state.get("ExitCode"),
        restart_count=int(doc.get("RestartCount") or 0),
        restart_policy=((doc.get("HostConfig") or {}).get("RestartPolicy") or {}).get("Name") or None,
        created=doc.get("Created"), started_at=state.get("StartedAt"),
        ports=_ports(network.get("Ports") or {}), mounts=[_mount(m) for m in doc.get("Mounts") or []],
        networks={name: str(net.get("IPAddress") or "") for name, net in (network.get("Networks") or {}).items()},
        project=found.get(PROJECT_LABEL), service=found.get(SERVICE_LABEL),
        env_names=[str(item).split("=", 1)[0] for item in config.get("Env") or []],
    )  # fmt: skip


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


# ---- logs ----------------------------------------------------------------------------------------------


def merge_logs(stdout: str, stderr: str, tail: int) -> tuple[list[str], bool]:
    """`docker logs --timestamps` stdout and stderr interleaved by time; the last ``tail`` lines, and
    whether older ones were left out. Lines of equal time keep their order (stdout's first)."""
    lines = [line for line in (*stdout.splitlines(), *stderr.splitlines()) if line.strip()]
    lines.sort(key=log_time)
    kept = lines[-tail:] if tail > 0 else []
    return kept, len(kept) < len(lines)


def log_time(line: str) -> tuple[int, int]:
    """The time a log line starts with, as (seconds since the epoch, nanoseconds).

    Reads nine fraction digits as Docker prints them, fewer (RFC 3339 may trim zeros) and any UTC offset;
    a line without a time (the first one, cut by an output bound) sorts before every other.
    """
    match = _STAMP.match(line)
    if match is None:
        return _UNDATED
    base, fraction, zone = match.groups()
    moment = datetime.fromisoformat(base + ("+00:00" if zone == "Z" else zone))
    return int(moment.timestamp()), int((fraction or "").ljust(9, "0"))


# ---- stats, images, volumes, networks, the engine ------------------------------------------------------


def size_to_bytes(text: str) -> int | None:
    """'1.5GiB' -> 1610612736; None when unreadable."""
    match = _SIZE.match(text)
    if not match or match.group(2) not in _UNITS:
        return None
    return int(float(match.group(1)) * _UNITS[match.group(2)])


def _percent(text: Any) -> float | None:
    try:
        return float(str(text).strip().rstrip("%"))
    except ValueError:
        return None


def _int(value: Any) -> int | None:
    text = str(value).strip()
    return int(text) if text.isdigit() else None


def container_stats(row: dict[str, Any]) -> ContainerStats:
    """A `docker stats` row with numbers parsed."""
    usage, _, limit = str(row.get("MemUsage", "")).partition("/")
    return ContainerStats(
        id=str(row.get("ID", ""))[:12], name=str(row.get("Name", "")), cpu_percent=_percent(row.get("CPUPerc")),
        memory_usage_bytes=size_to_bytes(usage), memory_limit_bytes=size_to_bytes(limit),
        memory_percent=_percent(row.get("MemPerc")), net_io=str(row.get("NetIO", "")),
        block_io=str(row.get("BlockIO", "")), pids=_int(row.get("PIDs", "")),
    )  # fmt: skip


def image(row: dict[str, Any]) -> ImageSummary:
    """A `docker image ls` row."""
    size = str(row.get("Size", ""))
    return ImageSummary(id=str(row.get("ID", "")), repository=str(row.get("Repository", "")),
                        tag=str(row.get("Tag", "")), size=size, size_bytes=size_to_bytes(size),
                        created=row.get("CreatedAt"))  # fmt: skip


def volume(row: dict[str, Any]) -> VolumeSummary:
    """A `docker volume ls` row, with the compose project that created the volume."""
    return VolumeSummary(name=str(row.get("Name", "")), driver=str(row.get("Driver", "")),
                         project=labels(str(row.get("Labels", ""))).get(PROJECT_LABEL))  # fmt: skip


def network(row: dict[str, Any]) -> NetworkSummary:
    """A `docker network ls` row."""
    return NetworkSummary(id=str(row.get("ID", "")), name=str(row.get("Name", "")), driver=str(row.get("Driver", "")),
                          scope=str(row.get("Scope", "")), internal=str(row.get("Internal", "")).lower() == "true")


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
    )  # fmt: skip


def _disk_usage(row: dict[str, Any]) -> DiskUsage:
    size, reclaimable = str(row.get("Size", "")), str(row.get("Reclaimable", ""))
    return DiskUsage(
        kind=str(row.get("Type", "")), total=_int(row.get("TotalCount")), active=_int(row.get("Active")),
        size=size, size_bytes=size_to_bytes(size), reclaimable=reclaimable,
        reclaimable_bytes=size_to_bytes(reclaimable.split("(")[0]),
    )  # fmt: skip


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
    return PruneReport(what=what, deleted=deleted, reclaimed=reclaimed, reclaimed_bytes=size_to_bytes(reclaimed))
