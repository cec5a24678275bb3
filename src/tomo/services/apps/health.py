"""How an installed app is doing: what is wrong with its services and an overall status (business rules).

The containers' states come from :mod:`tomo.lib.docker.parse`; the HTTP check from Tomo to the app's web UI
is in :mod:`tomo.services.apps.probe`.
"""

from __future__ import annotations

from collections.abc import Iterable

from tomo.models.installation import InstallationStatus, ServiceState


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
