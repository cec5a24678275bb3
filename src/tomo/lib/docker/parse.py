"""Parsers for the docker CLI's JSON output (``--format '{{json .}}'`` lines, or one JSON document)."""

from __future__ import annotations

import json
import re
from typing import Any

from tomo.errors import CommandFailed
from tomo.models.docker import ComposeService, ContainerStats, ContainerSummary

_SIZE = re.compile(r"^\s*([0-9.]+)\s*([kKMGTP]?i?B)\s*$")
_UNITS = {"B": 1, "kB": 1000, "KB": 1000, "MB": 1000**2, "GB": 1000**3, "TB": 1000**4,
          "KiB": 1024, "MiB": 1024**2, "GiB": 1024**3, "TiB": 1024**4, "PiB": 1024**5}


def json_lines(text: str) -> list[dict[str, Any]]:
    """Parse one JSON object per line; a JSON array (compose v2 prints one) is accepted too."""
    stripped = text.strip()
    if not stripped:
        return []
    if stripped.startswith("["):
        rows: list[dict[str, Any]] = _loads(stripped, list)
        return rows
    return [_loads(line, dict) for line in stripped.splitlines() if line.strip()]


def _loads(text: str, expected: type) -> Any:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CommandFailed(f"Docker printed output Tomo cannot read: {text[:120]!r}") from exc
    if not isinstance(value, expected):
        raise CommandFailed(f"Docker printed unexpected JSON ({type(value).__name__}).")
    return value


def _labels(raw: str) -> dict[str, str]:
    pairs = (item.split("=", 1) for item in raw.split(",") if "=" in item)
    return {key: value for key, value in pairs}


def _health(status: str) -> str | None:
    for word in ("healthy", "unhealthy", "starting"):
        if f"({word})" in status or f"(health: {word})" in status:
            return word
    return None


def container(row: dict[str, Any]) -> ContainerSummary:
    """A `docker ps` row as a compact summary."""
    labels = _labels(str(row.get("Labels", "")))
    status = str(row.get("Status", ""))
    return ContainerSummary(
        id=str(row.get("ID", ""))[:12], name=str(row.get("Names", "")), image=str(row.get("Image", "")),
        state=str(row.get("State", "")).lower(), status=status, health=_health(status),
        ports=str(row.get("Ports", "")), project=labels.get("com.docker.compose.project"),
        service=labels.get("com.docker.compose.service"), created=row.get("CreatedAt"),
    )


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


def container_stats(row: dict[str, Any]) -> ContainerStats:
    """A `docker stats` row with numbers parsed."""
    usage, _, limit = str(row.get("MemUsage", "")).partition("/")
    pids = str(row.get("PIDs", ""))
    return ContainerStats(
        id=str(row.get("ID", ""))[:12], name=str(row.get("Name", "")), cpu_percent=_percent(row.get("CPUPerc")),
        memory_usage_bytes=size_to_bytes(usage), memory_limit_bytes=size_to_bytes(limit),
        memory_percent=_percent(row.get("MemPerc")), net_io=str(row.get("NetIO", "")),
        block_io=str(row.get("BlockIO", "")), pids=int(pids) if pids.isdigit() else None,
    )


def compose_service(row: dict[str, Any]) -> ComposeService:
    """A `docker compose ps --format json` row."""
    health = str(row.get("Health") or "") or None
    exit_code = row.get("ExitCode")
    return ComposeService(
        service=str(row.get("Service", "")), name=str(row.get("Name", "")), image=str(row.get("Image", "")),
        state=str(row.get("State", "")).lower(), health=health,
        exit_code=int(exit_code) if isinstance(exit_code, int) else None,
        publishers=[p for p in row.get("Publishers") or [] if isinstance(p, dict)],
    )
