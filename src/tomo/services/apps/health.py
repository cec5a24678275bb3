"""How an installed app is doing: its containers' states and an overall status (pure parsing).

The HTTP check from Tomo to the app's web UI is in :mod:`tomo.services.apps.probe`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from tomo.models.installation import InstallationStatus, ServiceState

PROJECT_LABEL = "com.docker.compose.project"
SERVICE_LABEL = "com.docker.compose.service"
_BAD_STATES = {"restarting", "dead", "paused", "removing"}


def inspect_argv(container_ids: Iterable[str]) -> list[str]:
    """`docker container inspect` of several containers, one JSON document per line."""
    return ["docker", "container", "inspect", "--format", "{{json .}}", "--", *container_ids]


def ps_argv(project: str | None = None) -> list[str]:
    """Every container of one Compose project (or of all of them), as JSON lines."""
    label = PROJECT_LABEL if project is None else f"{PROJECT_LABEL}={project}"
    return ["docker", "ps", "--all", "--no-trunc", "--filter", f"label={label}", "--format", "{{json .}}"]


def parse_inspect(text: str) -> list[ServiceState]:
    """`docker container inspect --format '{{json .}}'` lines -> service states, sorted by service."""
    states = []
    for line in text.splitlines():
        if not line.startswith("{"):
            continue
        try:
            data: dict[str, Any] = json.loads(line)
        except json.JSONDecodeError:
            continue
        state = data.get("State") or {}
        config = data.get("Config") or {}
        labels = config.get("Labels") or {}
        health = (state.get("Health") or {}).get("Status")
        states.append(ServiceState(
            service=str(labels.get(SERVICE_LABEL, "")), container=str(data.get("Name", "")).lstrip("/"),
            image=str(config.get("Image", "")), state=str(state.get("Status", "")).lower(), health=health or None,
            restarts=int(data.get("RestartCount") or 0), exit_code=state.get("ExitCode"),
        ))  # fmt: skip
    return sorted(states, key=lambda s: (s.service, s.container))


def parse_ps(text: str) -> dict[str, list[ServiceState]]:
    """`docker ps --format '{{json .}}'` lines -> service states grouped by Compose project."""
    projects: dict[str, list[ServiceState]] = {}
    for line in text.splitlines():
        if not line.startswith("{"):
            continue
        try:
            row: dict[str, Any] = json.loads(line)
        except json.JSONDecodeError:
            continue
        labels = dict(item.split("=", 1) for item in str(row.get("Labels", "")).split(",") if "=" in item)
        status = str(row.get("Status", ""))
        health = next((word for word in ("unhealthy", "healthy", "starting") if f"({word}" in status
                       or f"health: {word}" in status), None)
        projects.setdefault(labels.get(PROJECT_LABEL, ""), []).append(ServiceState(
            service=labels.get(SERVICE_LABEL, ""), container=str(row.get("Names", "")), image=str(row.get("Image", "")),
            state=str(row.get("State", "")).lower(), health=health, exit_code=_exit_code(status),
        ))  # fmt: skip
    return {name: sorted(states, key=lambda s: s.service) for name, states in projects.items()}


def _exit_code(status: str) -> int | None:
    if status.startswith("Exited (") and ")" in status:
        code = status[len("Exited (") : status.index(")")]
        return int(code) if code.lstrip("-").isdigit() else None
    return None


def service_problems(states: list[ServiceState], expected: Iterable[str]) -> list[str]:
    """What is wrong with the services: missing, not running, unhealthy, restarting."""
    problems = []
    seen = {state.service for state in states}
    for service in sorted(set(expected) - seen):
        problems.append(f"service {service} has no container")
    for state in states:
        finished = state.state == "exited" and state.exit_code == 0 and not state.restarts
        if state.state != "running" and not finished:
            code = f" with code {state.exit_code}" if state.exit_code is not None and state.state == "exited" else ""
            problems.append(f"service {state.service} is {state.state}{code}")
        elif state.health == "unhealthy":
            problems.append(f"service {state.service} is unhealthy")
        elif state.restarts:
            problems.append(f"service {state.service} restarted {state.restarts} time(s)")
    return problems


def derive_status(states: list[ServiceState], expected: Iterable[str]) -> tuple[InstallationStatus, str | None]:
    """The installation's status from its containers, and a note saying what is off."""
    if not states:
        return InstallationStatus.MISSING, "no containers of this app exist on the server"
    if not any(state.state == "running" for state in states):
        return InstallationStatus.STOPPED, None
    problems = [problem for problem in service_problems(states, expected) if "restarted" not in problem]
    if problems:
        return InstallationStatus.DEGRADED, "; ".join(problems)
    return InstallationStatus.RUNNING, None


def merge_log_streams(stdout: str, stderr: str, tail: int) -> list[str]:
    """Interleave `docker logs --timestamps` stdout and stderr lines by time; keep the last ``tail``."""
    lines = [line for line in (*stdout.splitlines(), *stderr.splitlines()) if line.strip()]
    lines.sort(key=_timestamp_key)
    return lines[-tail:] if tail else []


def _timestamp_key(line: str) -> tuple[str, str]:
    """'2026-11-25T13:55:04.4558Z msg' -> ('2026-11-25T13:55:04', '455800000'): RFC 3339 trims zeros."""
    stamp = line.split(" ", 1)[0].rstrip("Z")
    base, _, fraction = stamp.partition(".")
    return base, fraction.ljust(9, "0")
