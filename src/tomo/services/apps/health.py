"""How an installed app is doing: its containers' states, an overall status, and an HTTP check from Tomo.

Parsing is pure; :func:`http_check` opens one connection from Tomo to the app's port (any HTTP status
below 500 counts as answering).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import ssl
import time
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from tomo.models.installation import HttpCheck, InstallationStatus, ServiceState

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


async def http_check(url: str, timeout: float = 5.0) -> HttpCheck:
    """GET ``url`` from Tomo; answering = any HTTP status below 500 (certificates are not checked)."""
    parts = urlsplit(url)
    host, port = parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    started = time.perf_counter()
    try:
        async with asyncio.timeout(timeout):
            status = await _get_status(host, port, path, parts.netloc, parts.scheme == "https")
    except (OSError, TimeoutError, ValueError) as exc:
        detail = "no answer within the timeout" if isinstance(exc, TimeoutError) else f"{type(exc).__name__}: {exc}"
        return HttpCheck(url=url, ok=False, detail=detail[:200], elapsed_ms=_ms(started))
    return HttpCheck(url=url, ok=status < 500, status=status, elapsed_ms=_ms(started),
                     detail=None if status < 500 else f"the app answered HTTP {status}")


async def _get_status(host: str, port: int, path: str, netloc: str, tls: bool) -> int:
    context: ssl.SSLContext | None = None
    if tls:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    reader, writer = await asyncio.open_connection(host, port, ssl=context)
    try:
        request = f"GET {path} HTTP/1.1\r\nHost: {netloc}\r\nUser-Agent: tomo\r\nConnection: close\r\n\r\n"
        writer.write(request.encode("latin-1", errors="replace"))
        await writer.drain()
        line = (await reader.readline()).decode("latin-1")
    finally:
        writer.close()
        with contextlib.suppress(OSError, TimeoutError):
            await writer.wait_closed()
    fields = line.split()
    if len(fields) < 2 or not fields[0].startswith("HTTP/") or not fields[1].isdigit():
        raise ValueError(f"not an HTTP answer: {line[:60]!r}")
    return int(fields[1])


async def wait_for_http(url: str, budget: float, attempt_timeout: float = 3.0) -> HttpCheck:
    """Retry :func:`http_check` until the app answers or ``budget`` seconds pass; the last result."""
    deadline = time.monotonic() + budget
    while True:
        remaining = deadline - time.monotonic()
        check = await http_check(url, timeout=max(0.5, min(attempt_timeout, remaining)))
        if check.ok or deadline - time.monotonic() <= 0:
            return check
        await asyncio.sleep(min(0.25, max(0.0, deadline - time.monotonic())))


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)


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
