"""The install job: validate, render, upload, `compose up --wait`, verify, record; roll back on any failure.

A failed install leaves nothing behind: the containers, the volumes this install created and the files
it uploaded are removed (a data folder or volumes kept from an earlier installation stay), the
installation record is deleted, and the job keeps the step log, a log tail of the failing containers
(secrets masked) and the reason, as DEPLOYMENT_FAILED. Updates and uninstalls live in
:mod:`tomo.services.apps.lifecycle`.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import structlog

from tomo.database.repositories.installations import InstallationRecord, InstallationRepository
from tomo.database.types import utcnow
from tomo.errors import DeploymentFailed, TomoError
from tomo.models.installation import InstallationStatus, PublishedPort, ServiceState
from tomo.models.marketplace import CatalogApp
from tomo.services.apps.checks import ResolvedInputs, ServerFacts, check_server
from tomo.services.apps.health import service_problems
from tomo.services.apps.probe import wait_for_http
from tomo.services.apps.remote import PID_PREFIX, AppRemote
from tomo.services.apps.render import (
    ProjectPaths,
    RenderContext,
    Scrubber,
    app_urls,
    compose_yaml,
    env_file,
    render_compose,
    tomo_variables,
)
from tomo.services.apps.trail import Trail
from tomo.services.jobs.jobs import JobContext
from tomo.services.settings.settings import SettingsService

log = structlog.get_logger("tomo.apps")

LOG_TAIL_LINES = 50
LOG_TAIL_CHARS = 8000
ERROR_TAIL_LINES = 6
_PROGRESS_INTERVAL_S = 0.2
_IMAGE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:/@+-]{0,254}$")


@dataclass
class InstallPlan:
    """Everything an install job needs, checked before the job starts."""

    installation_id: str
    server_id: str
    server_name: str
    server_host: str
    app: CatalogApp
    paths: ProjectPaths
    ports: list[PublishedPort]
    inputs: ResolvedInputs
    version: str
    taken_ports: dict[tuple[int, str], str] = field(default_factory=dict)

    @property
    def scrub(self) -> Scrubber:
        return Scrubber(self.inputs.secrets.values())

    @property
    def urls(self) -> list[str]:
        return app_urls(self.app, self.server_host, self.ports)

    @property
    def label(self) -> str:
        return f"{self.app.title} as '{self.paths.name}' on {self.server_name}"


class UpProgress:
    """Forwards `compose up` output to the job as progress; keeps the last lines for error messages."""

    def __init__(self, ctx: JobContext, trail: Trail, scrub: Scrubber, span: tuple[float, float], services: int,
                 on_pid: Callable[[], Awaitable[None]]):
        self.ctx, self.trail, self.scrub, self.on_pid = ctx, trail, scrub, on_pid
        self.start, self.end = span
        self.expected_events = max(2 * services, 1)
        self.events = 0
        self.lines: deque[str] = deque(maxlen=40)
        self._last = 0.0

    async def __call__(self, _stream: str, line: str) -> None:
        text = self.scrub(line.strip())
        if text.startswith(PID_PREFIX):
            pid = text[len(PID_PREFIX):]
            self.trail.up_pid = int(pid) if pid.isdigit() else None
            await self.on_pid()
            return
        if not text:
            return
        self.lines.append(text)
        if text.endswith((" Started", " Healthy", " Running")):
            self.events += 1
        now = time.monotonic()
        if now - self._last >= _PROGRESS_INTERVAL_S:
            self._last = now
            share = min(1.0, self.events / self.expected_events)
            await self.ctx.progress(self.start + (self.end - self.start) * share, text[:200])

    def tail(self, lines: int = ERROR_TAIL_LINES) -> str:
        return " | ".join(list(self.lines)[-lines:])


class DeploymentService:
    """Runs install jobs (and the verification and rollback that updates share)."""

    def __init__(self, installation_repository: InstallationRepository, remote: AppRemote,
                 settings_service: SettingsService) -> None:
        self.repo = installation_repository
        self.remote = remote
        self.settings = settings_service
        self.wait_for_http = wait_for_http  # replaceable in tests: opens a real connection from Tomo

    @property
    def wait_timeout(self) -> int:
        return int(self.settings.get("app_wait_timeout"))

    @property
    def job_timeout(self) -> float:
        return float(self.settings.get("app_job_timeout"))

    # ---- install ----------------------------------------------------------------------------------------

    async def install(self, ctx: JobContext, plan: InstallPlan) -> dict[str, Any]:
        """The install job's runner."""
        trail = Trail()
        try:
            async with asyncio.timeout(self.job_timeout):
                return await self._install_steps(ctx, plan, trail)
        except BaseException as exc:
            failure = await self._shielded(self.roll_back_install(ctx, plan, trail, exc))
            if isinstance(exc, asyncio.CancelledError):
                raise
            raise failure from exc

    async def _install_steps(self, ctx: JobContext, plan: InstallPlan, trail: Trail) -> dict[str, Any]:
        async with ctx.step("validate"):
            facts = await self.remote.facts(plan.server_id, plan.paths)
            self._check(plan, facts)
            trail.dir_existed = facts.project_entries is not None
            trail.data_existed = "data" in (facts.project_entries or [])
            trail.volumes_before = facts.volumes
        await ctx.progress(10)
        async with ctx.step("render compose.yaml and .env"):
            compose_text, env_text = self.render(plan, facts, trail)
        async with ctx.step("upload files"):
            trail.uploaded = True
            await self.keep(ctx, plan, trail)
            await self.remote.upload(plan.server_id, plan.paths, compose_text, env_text)
        await ctx.progress(20, "starting containers")
        states = await self.start_and_verify(ctx, plan, trail, (20.0, 85.0))
        async with ctx.step("record installation"):
            await self._record_installed(ctx, plan, states)
        where = f"; it answers at {plan.urls[0]}" if plan.urls else ""
        await ctx.progress(100, f"Installed {plan.label}{where}.")
        log.info("app_installed", installation_id=plan.installation_id, app=plan.app.id, server_id=plan.server_id)
        return {"installation_id": plan.installation_id}

    async def keep(self, ctx: JobContext, plan: InstallPlan, trail: Trail) -> None:
        """Save the trail in the installation row, for a recovery should this process die."""
        await self.repo.update(plan.installation_id, {"trail": trail.saved(ctx.job_id)})

    def _check(self, plan: InstallPlan, facts: ServerFacts) -> None:
        found = check_server(plan.app, plan.paths.name, plan.ports, facts, plan.taken_ports)
        if found.errors:
            raise DeploymentFailed("; ".join(found.errors))

    def render(self, plan: InstallPlan, facts: ServerFacts, trail: Trail) -> tuple[str, str]:
        """compose.yaml and .env for the plan on a server with these facts (the trail notes the main image)."""
        ctx = RenderContext(paths=plan.paths, server_host=plan.server_host, architecture=facts.architecture,
                            puid=facts.uid, pgid=facts.gid, timezone=facts.timezone)
        doc = render_compose(plan.app, ctx, plan.ports, plan.version)
        trail.helper_image = usable_image(doc["services"][plan.app.main_service].get("image"))
        variables = {**tomo_variables(plan.app, ctx, plan.ports), **plan.inputs.values}
        return compose_yaml(doc, plan.paths.name), env_file(variables, plan.paths.name)

    async def start_and_verify(
        self, ctx: JobContext, plan: InstallPlan, trail: Trail, span: tuple[float, float]
    ) -> list[ServiceState]:
        """`compose up --wait` with streamed progress, then check every service and the web UI."""
        services = list(plan.app.compose["services"])
        await self.up(ctx, plan, trail, span, "start containers (docker compose up --wait)")
        async with ctx.step("verify services and web UI"):
            return await self.verify(plan.server_id, plan.paths.name, services, plan.urls)

    async def up(
        self, ctx: JobContext, plan: InstallPlan, trail: Trail, span: tuple[float, float], step: str
    ) -> None:
        """One `compose up --wait` as a job step, its output forwarded as progress."""
        progress = UpProgress(ctx, trail, plan.scrub, span, len(plan.app.compose["services"]),
                              lambda: self.keep(ctx, plan, trail))
        async with ctx.step(step):
            trail.started, trail.up_done, trail.up_pid = True, False, None
            result = await self.remote.up(plan.server_id, plan.paths, self.wait_timeout, self.job_timeout, progress)
            trail.up_done = True
            if result.exit_status != 0:
                raise DeploymentFailed(f"docker compose up failed (exit {result.exit_status}): {progress.tail()}")

    async def verify(self, server_id: str, name: str, services: list[str], urls: list[str]) -> list[ServiceState]:
        """Every service running (healthy where checked, not restarting) and the web UI answering HTTP.

        `compose up --wait` has already waited for the services; the states are read after each HTTP
        attempt, so a crash loop (restarts) is caught, and stops the wait at once.
        """
        if not urls:
            return await self._states_ok(server_id, name, services)
        deadline = time.monotonic() + self.wait_timeout
        while True:
            check = await self.wait_for_http(urls[0], budget=min(2.0, max(0.0, deadline - time.monotonic())))
            states = await self._states_ok(server_id, name, services)
            if check.ok:
                return states
            if time.monotonic() >= deadline:
                raise DeploymentFailed(f"the web UI at {check.url} does not answer from Tomo ({check.detail}); "
                                       "check the app's logs, or a firewall between Tomo and the server")

    async def _states_ok(self, server_id: str, name: str, services: list[str]) -> list[ServiceState]:
        states = await self.remote.states(server_id, name)
        problems = service_problems(states, services)
        if problems:
            raise DeploymentFailed("; ".join(problems))
        return states

    async def _record_installed(self, ctx: JobContext, plan: InstallPlan, states: list[ServiceState]) -> None:
        now = utcnow()
        values = {
            "status": InstallationStatus.RUNNING.value, "status_note": None, "app_version": plan.version,
            "services": [state.model_dump(mode="json") for state in states], "urls": plan.urls,
            "ports": [port.model_dump(mode="json") for port in plan.ports], "status_checked_at": now,
            "updated_at": now, "trail": None,
        }  # fmt: skip
        event = {"at": now.isoformat(), "action": "installed", "version": plan.version, "job_id": ctx.job_id}
        await self.repo.add_event(plan.installation_id, event, values)

    # ---- rollback ---------------------------------------------------------------------------------------

    @staticmethod
    async def _shielded(work: Any) -> Any:
        """Run cleanup to the end even if the job is cancelled again meanwhile."""
        task = asyncio.ensure_future(work)
        try:
            return await asyncio.shield(task)
        except asyncio.CancelledError:
            return await task

    async def roll_back_install(
        self, ctx: JobContext, plan: InstallPlan, trail: Trail, exc: BaseException
    ) -> DeploymentFailed:
        """Undo a failed install; returns the error to raise (DEPLOYMENT_FAILED, saying what to do next)."""
        logs = await self.collect_logs(ctx, plan, trail)
        problems = await self.undo(ctx, plan, trail)
        step = next((s.name for s in reversed(ctx.steps) if s.status.value == "failed"), "start")
        reason = plan.scrub(_reason(exc))
        if problems:
            await self.repo.update(plan.installation_id, {
                "status": InstallationStatus.ERROR.value, "updated_at": utcnow(),
                "status_note": "install failed and the cleanup was incomplete: " + "; ".join(problems),
            })  # fmt: skip
            cleanup = ("The cleanup was incomplete (" + "; ".join(problems) + "): call uninstall_app with "
                       f"installation_id='{plan.installation_id}' and remove_data=true to finish it.")
        else:
            await self.repo.delete(plan.installation_id)
            cleanup = "Everything was rolled back: nothing of this install is left on the server."
        log.warning("app_install_failed", installation_id=plan.installation_id, step=step, cleanup_ok=not problems)
        return DeploymentFailed(
            f"Installing {plan.label} failed at '{step}': {reason}. {logs}{cleanup} {_next_step(exc)}",
            details={"step": step, "installation_id": plan.installation_id},
        )

    async def collect_logs(self, ctx: JobContext, plan: InstallPlan, trail: Trail) -> str:
        """Record the log tail of the failing containers as a job step; returns a short excerpt."""
        if not trail.started:
            return ""
        try:
            async with ctx.step("collect logs of the failing containers") as step:
                states = await self.remote.states(plan.server_id, plan.paths.name)
                failing = [s for s in states if service_problems([s], [])] or states
                logs = await self.remote.logs(plan.server_id, failing, LOG_TAIL_LINES)
                text = plan.scrub("\n".join(f"[{svc}] {line}" for svc, lines in logs.items() for line in lines))
                step.detail = text[-LOG_TAIL_CHARS:] or "(the containers printed nothing)"
        except (TomoError, OSError):
            return ""
        last = [line for line in text.splitlines() if line.strip()][-3:]
        return ("Last log lines: " + " | ".join(last)[-600:] + ". ") if last else ""

    async def undo(self, ctx: JobContext, plan: InstallPlan, trail: Trail) -> list[str]:
        """Remove what the trail says was created; returns what could not be removed."""
        problems: list[str] = []
        if trail.started:
            await self._attempt(ctx, "roll back: remove containers", problems, self._down(plan, trail))
            await self._attempt(ctx, "roll back: remove new volumes", problems, self._drop_new_volumes(plan, trail))
        if trail.uploaded:
            await self._attempt(ctx, "roll back: remove uploaded files", problems, self._remove_upload(plan, trail))
        return problems

    async def _attempt(self, ctx: JobContext, name: str, problems: list[str], work: Any) -> None:
        try:
            async with ctx.step(name):
                await work
        except (TomoError, OSError) as exc:
            problems.append(f"{name}: {plan_message(exc)}")

    async def _down(self, plan: InstallPlan, trail: Trail) -> None:
        await self.stop_up(plan, trail)
        for attempt in range(3):
            await self.remote.down(plan.server_id, plan.paths)
            if not await self.remote.states(plan.server_id, plan.paths.name):
                return
            await asyncio.sleep(1.0 + attempt)
        raise DeploymentFailed("containers of the project were still there after three `compose down`")

    async def stop_up(self, plan: InstallPlan, trail: Trail) -> None:
        """Stop a `compose up` of this job that outlived its SSH session (or its Tomo process)."""
        if trail.up_pid is not None and not trail.up_done:
            await self.remote.stop_up(plan.server_id, trail.up_pid, plan.paths.name)

    async def _drop_new_volumes(self, plan: InstallPlan, trail: Trail) -> None:
        created = await self.remote.volumes(plan.server_id, plan.paths.name) - trail.volumes_before
        await self.remote.remove_volumes(plan.server_id, sorted(created))

    async def _remove_upload(self, plan: InstallPlan, trail: Trail) -> None:
        paths = plan.paths
        if not trail.dir_existed:
            await self.remote.remove_tree(plan.server_id, paths, paths.project_dir, trail.helper_image)
            return
        await self.remote.remove_files(plan.server_id, paths, ["compose.yaml", ".env"])
        if not trail.data_existed:
            await self.remote.remove_tree(plan.server_id, paths, paths.data_dir, trail.helper_image)


def usable_image(image: object) -> str | None:
    """An image reference fit for the helper container (a literal reference, no variables), else None."""
    text = str(image or "")
    return text if _IMAGE.match(text) else None


def helper_image(record: InstallationRecord) -> str | None:
    """The first of the installation's images fit for the helper container that removes root-owned files."""
    return next((image for service in record.services if (image := usable_image(service.get("image")))), None)


def plan_message(exc: BaseException) -> str:
    """A short, safe description of an exception."""
    return exc.message if isinstance(exc, TomoError) else type(exc).__name__


def _reason(exc: BaseException) -> str:
    if isinstance(exc, asyncio.CancelledError):
        return "the job was cancelled"
    if isinstance(exc, TimeoutError):
        return "the job ran longer than the app_job_timeout setting allows"
    return plan_message(exc)


def _next_step(exc: BaseException) -> str:
    text = plan_message(exc)
    if "port" in text and ("in use" in text or "allocated" in text or "published by" in text):
        return "Next: choose a free host port with config.ports (validate_app_config checks it) and install again."
    if isinstance(exc, TomoError) and exc.code in {"CONNECTION_FAILED", "COMMAND_TIMEOUT"}:
        return "Next: check the server with test_connection, then install again."
    return "Next: read the log lines in get_job (step 'collect logs...'), fix the cause and install again."
