"""What installations look like now: records reconciled with what Docker reports, logs and health.

Every read asks Docker (one `docker ps` per server, bounded by a timeout). An unreachable server keeps
the last known status with ``reachable=false``; an installation a finished (or interrupted) job left in
a transitional state takes the status Docker reports, with a note saying so.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import structlog

from tomo.database.repositories.installations import InstallationRecord, InstallationRepository
from tomo.database.types import utcnow
from tomo.errors import AppNotFound, JobNotFound, RemoteError, TomoError, ValidationError
from tomo.lib.encryption import Encryptor
from tomo.models.installation import (
    AppHealth,
    AppLogs,
    InstallationStatus,
    InstallEvent,
    JobRef,
    PublishedPort,
    ServiceState,
)
from tomo.models.installation import Installation as InstallationModel
from tomo.models.installation import InstallationSummary as Summary
from tomo.services.apps.health import derive_status, service_problems
from tomo.services.apps.probe import http_check
from tomo.services.apps.remote import AppRemote
from tomo.services.apps.render import ProjectPaths, Scrubber
from tomo.services.jobs.jobs import JobService
from tomo.services.marketplace.marketplace import MarketplaceService

log = structlog.get_logger("tomo.apps")

STATUS_TIMEOUT_S = 10.0
LOG_MAX_CHARS = 200_000
Observed = list[ServiceState] | TomoError


def resource_of(server_id: str, name: str) -> str:
    """The job resource of an installation: one job at a time per app name per server."""
    return f"app:{server_id}:{name}"


def paths_of(record: InstallationRecord) -> ProjectPaths:
    """Where the installation lives (its project folder is recorded, the apps folder is its parent)."""
    root, _, name = record.project_dir.rstrip("/").rpartition("/")
    return ProjectPaths(apps_root=root or "/", name=name)


class AppStatusService:
    """Reads installations, reconciling their status with the servers."""

    def __init__(self, installation_repository: InstallationRepository, remote: AppRemote, job_service: JobService,
                 encryptor: Encryptor, marketplace_service: MarketplaceService) -> None:
        self.repo = installation_repository
        self.remote = remote
        self.jobs = job_service
        self.encryptor = encryptor
        self.marketplace = marketplace_service
        self.http_check = http_check  # replaceable in tests: opens a real connection from Tomo

    async def observe(self, record: InstallationRecord) -> Observed:
        """The project's containers, or the error that kept Tomo from seeing them."""
        try:
            return await self.remote.states(record.server_id, record.name, timeout=STATUS_TIMEOUT_S)
        except RemoteError as exc:
            return exc

    async def observe_servers(self, records: Sequence[InstallationRecord]) -> dict[str, Observed]:
        """One `docker ps` per server for all of its projects; by installation id."""
        server_ids = sorted({record.server_id for record in records})

        async def one(server_id: str) -> dict[str, list[ServiceState]] | TomoError:
            try:
                return await self.remote.all_projects(server_id, timeout=STATUS_TIMEOUT_S)
            except RemoteError as exc:
                return exc

        found = dict(zip(server_ids, await asyncio.gather(*(one(sid) for sid in server_ids)), strict=True))
        result: dict[str, Observed] = {}
        for record in records:
            projects = found[record.server_id]
            result[record.id] = projects if isinstance(projects, TomoError) else projects.get(record.name, [])
        return result

    async def reconcile(self, record: InstallationRecord, observed: Observed) -> InstallationRecord:
        """Bring the record's status in line with Docker (unless a job is working on it right now)."""
        now = utcnow()
        if isinstance(observed, TomoError):
            when = record.status_checked_at.isoformat(timespec="seconds") if record.status_checked_at else "never"
            record.status_note = (f"the server did not answer ({observed.message}); showing the last known "
                                  f"status, checked {when}")
            return record
        active = await self.jobs.active_for_resource(resource_of(record.server_id, record.name))
        expected = [state["service"] for state in record.services]
        status, note = derive_status(observed, expected)
        values: dict[str, Any] = {"services": [s.model_dump(mode="json") for s in observed], "status_checked_at": now}
        if active is None:
            if InstallationStatus(record.status).transitional:
                note = (f"the last job left this installation '{record.status}' without finishing (see "
                        "last_job); status reconciled from the server") + (f": {note}" if note else "")
            values.update(status=status.value, status_note=note)
        await self.repo.update(record.id, values)
        for key, value in values.items():
            setattr(record, key, value)
        return record

    async def view(self, record: InstallationRecord, observed: Observed) -> InstallationModel:
        """The installation as get_installation shows it."""
        record = await self.reconcile(record, observed)
        return self.to_model(record, reachable=not isinstance(observed, TomoError),
                             last_job=await self._last_job(record), deprecated=await self._deprecated(record))

    def to_model(self, record: InstallationRecord, *, reachable: bool = True, last_job: JobRef | None = None,
                 deprecated: bool = False) -> InstallationModel:
        paths = paths_of(record)
        return InstallationModel(
            id=record.id, server_id=record.server_id, name=record.name, app_id=record.app_id,
            app_title=record.app_title, app_version=record.app_version, status=InstallationStatus(record.status),
            reachable=reachable, status_note=record.status_note,
            services=[ServiceState.model_validate(s) for s in record.services], urls=record.urls,
            ports=[PublishedPort.model_validate(p) for p in record.ports],
            config={"inputs": record.inputs, "ports": port_config(record.ports)},
            project_dir=paths.project_dir, data_dir=paths.data_dir, app_deprecated=deprecated, last_job=last_job,
            history=[InstallEvent.model_validate(e) for e in record.history], created_by=record.created_by,
            created_at=record.created_at, updated_at=record.updated_at, status_checked_at=record.status_checked_at,
        )  # fmt: skip

    async def _last_job(self, record: InstallationRecord) -> JobRef | None:
        if record.last_job_id is None:
            return None
        try:
            job = await self.jobs.get(record.last_job_id)
        except JobNotFound:
            return None
        return JobRef(id=job.id, kind=job.kind, status=job.status.value, finished_at=job.finished_at,
                      error_code=job.error.code if job.error else None,
                      error_message=job.error.message if job.error else None)

    async def _deprecated(self, record: InstallationRecord) -> bool:
        try:
            detail = await self.marketplace.get_app_detail(record.app_id)
        except AppNotFound:
            return True
        return bool(detail.get("deprecated"))

    async def summaries(self, records: Sequence[InstallationRecord]) -> list[Summary]:
        """list_installed_apps: every record reconciled, one Docker call per server."""
        observed = await self.observe_servers(records)
        summaries = []
        for record in records:
            seen = observed[record.id]
            record = await self.reconcile(record, seen)
            model = self.to_model(record, reachable=not isinstance(seen, TomoError))
            summaries.append(model.summary())
        return summaries

    async def secret_values(self, record: InstallationRecord) -> set[str]:
        """This installation's secret values (given or generated), decrypted."""
        secrets = await self.encryptor.decrypt_json(record.secrets) if record.secrets else {}
        return {str(value) for value in secrets.values()}

    async def scrubber(self, record: InstallationRecord) -> Scrubber:
        """Masks this installation's secret values."""
        return Scrubber(await self.secret_values(record))

    async def logs(
        self, record: InstallationRecord, service: str | None, tail: int, since: str | None
    ) -> AppLogs:
        """The last lines of each service (or one), secrets masked, bounded."""
        states = await self.remote.states(record.server_id, record.name, timeout=STATUS_TIMEOUT_S)
        if service is not None:
            chosen = [state for state in states if state.service == service]
            if not chosen:
                names = ", ".join(sorted({s.service for s in states})) or "none running"
                raise ValidationError(f"'{record.name}' has no service '{service}'; its services: {names}")
            states = chosen
        raw = await self.remote.logs(record.server_id, states, tail, since)
        scrub = await self.scrubber(record)
        services, budget, truncated = {}, LOG_MAX_CHARS, False
        for name, lines in raw.items():
            kept: list[str] = []
            for line in reversed(lines):
                budget -= len(line)
                if budget < 0:
                    truncated = True
                    break
                kept.append(scrub(line))
            services[name] = kept[::-1]
        return AppLogs(installation_id=record.id, tail=tail, since=since, services=services, truncated=truncated)

    async def health(self, record: InstallationRecord) -> AppHealth:
        """Per service state, health and restarts, plus the HTTP check of the web UI."""
        states = await self.remote.states(record.server_id, record.name, timeout=STATUS_TIMEOUT_S)
        record = await self.reconcile(record, states)
        expected = [state["service"] for state in record.services]
        problems = service_problems(states, expected) if states else ["no containers of this app exist"]
        http = await self.http_check(record.urls[0]) if record.urls else None
        if http is not None and not http.ok:
            problems.append(f"the web UI at {http.url} does not answer ({http.detail})")
        return AppHealth(installation_id=record.id, name=record.name, healthy=not problems,
                         status=InstallationStatus(record.status), services=states, http=http, problems=problems)


def port_config(ports: list[dict[str, Any]]) -> dict[str, int]:
    """The recorded ports as config.ports would give them ('main' for the web UI's)."""
    config: dict[str, int] = {}
    for port in map(PublishedPort.model_validate, ports):
        config.setdefault("main" if port.main else port.key, port.host_port)
    return config
