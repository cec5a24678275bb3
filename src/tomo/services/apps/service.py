"""Installed apps: validate, install, start/stop/restart, update, uninstall, and read their state.

Plans are checked here before any job starts (the app exists, inputs are valid, ports are consistent),
so a bad call fails at once with VALIDATION_ERROR; the server-side checks run again in the job, because
the server can change between the two. One job at a time works on an installation (the job
resource ``app:<server_id>:<name>``); a second operation meanwhile gets CONFLICT.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import structlog

from tomo.database.repositories.installations import InstallationRecord, InstallationRepository
from tomo.database.types import new_id, utcnow
from tomo.errors import AlreadyExists, ConflictError, InstallationNotFound, ValidationError
from tomo.lib.encryption import Encryptor
from tomo.lib.mcp.tooling import current_principal
from tomo.models.common import Page
from tomo.models.installation import (
    AppHealth,
    AppLogs,
    ConfigReport,
    Installation,
    InstallationCompose,
    InstallationStatus,
    InstallationSummary,
    InstallConfig,
)
from tomo.models.marketplace import CatalogApp
from tomo.services.apps.checks import check_server, resolve_inputs
from tomo.services.apps.install import DeploymentService, InstallPlan, helper_image
from tomo.services.apps.lifecycle import LifecycleService, UpdateContext, plan_inputs
from tomo.services.apps.remote import AppRemote
from tomo.services.apps.render import (
    COMPOSE_FILE,
    ProjectPaths,
    RenderContext,
    display_compose,
    masked_env,
    plan_ports,
    render_compose,
    tomo_variables,
)
from tomo.services.apps.status import AppStatusService, paths_of, port_config, resource_of
from tomo.services.jobs.jobs import JobContext, JobRunner, JobService
from tomo.services.marketplace.marketplace import MarketplaceService
from tomo.services.servers.servers import ServerService
from tomo.services.settings.settings import SettingsService

log = structlog.get_logger("tomo.apps")

CONTROL_TIMEOUT_S = 180.0


class AppService:
    """Business rules for installed apps; remote work goes through AppRemote, long work through jobs."""

    def __init__(
        self, installation_repository: InstallationRepository, server_service: ServerService,
        marketplace_service: MarketplaceService, job_service: JobService, encryptor: Encryptor,
        settings_service: SettingsService, remote: AppRemote, deployment: DeploymentService,
        lifecycle: LifecycleService, status: AppStatusService,
    ) -> None:
        self.repo = installation_repository
        self.servers = server_service
        self.marketplace = marketplace_service
        self.jobs = job_service
        self.encryptor = encryptor
        self.settings = settings_service
        self.remote = remote
        self.deployment = deployment
        self.lifecycle = lifecycle
        self.status = status
        self._locks: dict[str, asyncio.Lock] = {}

    # ---- hooks for other features ------------------------------------------------------------------------

    async def count_on_server(self, server_id: str) -> int:
        """How many installations use a server (delete_server refuses while there are any)."""
        return await self.repo.count_on_server(server_id)

    async def apps_in_use(self) -> set[str]:
        """Marketplace app ids that are installed (a sync keeps them, as deprecated, if upstream drops them)."""
        return await self.repo.app_ids()

    async def secrets_for_project(self, server_ref: str, project: str) -> set[str]:
        """The secret values of the installation running as Compose project ``project`` on a server (raw Docker
        outputs mask them); empty when no installation of Tomo's has that name there."""
        server = await self.servers.get(server_ref)
        record = await self.repo.find_by_name(server.id, project)
        return await self.status.secret_values(record) if record is not None else set()

    # ---- planning -----------------------------------------------------------------------------------------

    async def _catalog_app(self, app_id: str) -> tuple[str, CatalogApp]:
        detail = await self.marketplace.get_app_detail(app_id)
        public_id = str(detail["id"])
        return public_id, await self.marketplace.get_app(public_id)

    async def _plan(self, server_ref: str, app_id: str, config: InstallConfig | None) -> tuple[InstallPlan, str]:
        config = config or {}
        server = await self.servers.get(server_ref)
        public_id, app = await self._catalog_app(app_id)
        name = config.get("name") or app.name
        inputs = resolve_inputs(app.inputs, config.get("inputs") or {}, config.get("secrets") or {})
        ports, port_errors = plan_ports(app, config.get("ports") or {})
        errors = inputs.errors + port_errors
        if errors:
            raise ValidationError(f"The configuration for {app.title} is not valid: " + "; ".join(errors) + ".",
                                  details={"errors": errors})
        plan = InstallPlan(
            installation_id=new_id(), server_id=server.id, server_name=server.name, server_host=server.host, app=app,
            paths=ProjectPaths(self._apps_root(), name), ports=ports, inputs=inputs, version=app.version,
            taken_ports=await self._taken_ports(server.id, name),
        )  # fmt: skip
        return plan, public_id

    def _apps_root(self) -> str:
        from tomo.models.server import check_apps_root

        return check_apps_root(str(self.settings.get("apps_root")))

    async def _taken_ports(self, server_id: str, name: str) -> dict[tuple[int, str], str]:
        taken: dict[tuple[int, str], str] = {}
        for record in await self.repo.list_all(server_id):
            if record.name != name:
                for port in record.ports:
                    taken[(int(port["host_port"]), str(port.get("protocol", "tcp")))] = record.name
        return taken

    # ---- validate and install --------------------------------------------------------------------------------

    async def validate_app_config(self, server_id: str, app_id: str, config: InstallConfig | None) -> ConfigReport:
        """A dry run: everything install_app checks, and the files it would upload (secrets masked)."""
        try:
            plan, _ = await self._plan(server_id, app_id, config)
        except ValidationError as exc:
            name = (config or {}).get("name") or app_id.rsplit("/", 1)[-1]
            return ConfigReport(valid=False, errors=exc.details.get("errors") or [exc.message], name=name,
                                project_dir=ProjectPaths(self._apps_root(), name).project_dir)
        existing = await self.repo.find_by_name(plan.server_id, plan.paths.name)
        facts = await self.remote.facts(plan.server_id, plan.paths)
        found = check_server(plan.app, plan.paths.name, plan.ports, facts, plan.taken_ports)
        if existing is not None:
            found.errors.insert(0, f"'{plan.paths.name}' is already installed on this server (installation "
                                   f"{existing.id}); choose another name with config.name")
        ctx = RenderContext(paths=plan.paths, server_host=plan.server_host, architecture=facts.architecture,
                            puid=facts.uid, pgid=facts.gid, timezone=facts.timezone)
        variables = {**tomo_variables(plan.app, ctx, plan.ports), **plan.inputs.values}
        secret_names = frozenset(plan.inputs.secret_envs)
        return ConfigReport(
            valid=not found.errors, errors=found.errors, warnings=found.warnings, name=plan.paths.name,
            project_dir=plan.paths.project_dir, ports=plan.ports, urls=plan.urls, architecture=facts.architecture,
            disk_free_bytes=facts.free_bytes, generated_secrets=plan.inputs.generated,
            env=masked_env(variables, secret_names),
            compose=display_compose(render_compose(plan.app, ctx, plan.ports), variables, secret_names),
        )  # fmt: skip

    async def install_app(self, server_id: str, app_id: str, config: InstallConfig | None) -> tuple[str, str]:
        """Start the install job; returns (job id, installation id)."""
        plan, public_id = await self._plan(server_id, app_id, config)
        resource = resource_of(plan.server_id, plan.paths.name)
        await self._ensure_new_name(plan.server_id, plan.paths.name, resource)
        record = await self._new_record(plan, public_id)

        async def insert_record(job_id: str) -> None:
            record.last_job_id = job_id
            await self.repo.insert(record)

        job_id = await self._claim(
            "install_app", f"Install {plan.label}", lambda ctx: self._run_install(ctx, plan), plan.server_id,
            resource, {"installation_id": plan.installation_id, "server_id": plan.server_id, "app_id": public_id,
                       "name": plan.paths.name}, insert_record,
        )  # fmt: skip
        log.info("app_install_started", installation_id=plan.installation_id, job_id=job_id, app=public_id)
        return job_id, plan.installation_id

    async def _ensure_new_name(self, server_id: str, name: str, resource: str) -> None:
        """CONFLICT while a job works on the name (an install under way has its record already), else
        ALREADY_EXISTS if an installation has it."""
        await self._ensure_idle(resource)
        existing = await self.repo.find_by_name(server_id, name)
        if existing is not None:
            await self._ensure_idle(resource)
            raise AlreadyExists(f"An installation named '{name}' already exists on this server (installation "
                                f"{existing.id}); pick another name with config.name, or manage that one "
                                "(get_installation, update_app, uninstall_app).")

    async def _new_record(self, plan: InstallPlan, public_id: str) -> InstallationRecord:
        principal = current_principal()
        now = utcnow()
        secrets = await self.encryptor.encrypt_json(plan.inputs.secrets) if plan.inputs.secrets else None
        return InstallationRecord(
            id=plan.installation_id, server_id=plan.server_id, name=plan.paths.name, app_id=public_id,
            app_title=plan.app.title, app_version=plan.version, status=InstallationStatus.INSTALLING.value,
            inputs=plan_inputs(plan), secrets=secrets, ports=[p.model_dump(mode="json") for p in plan.ports],
            project_dir=plan.paths.project_dir, urls=plan.urls, created_at=now, updated_at=now,
            created_by=principal.username if principal else None,
        )  # fmt: skip

    async def _run_install(self, ctx: JobContext, plan: InstallPlan) -> dict[str, Any]:
        await self.deployment.install(ctx, plan)
        return {"installation": await self._dump(plan.installation_id)}

    async def _dump(self, installation_id: str) -> dict[str, Any]:
        record = await self._record(installation_id)
        return self.status.to_model(record).model_dump(mode="json")

    # ---- update and uninstall --------------------------------------------------------------------------------

    async def update_app(self, installation_id: str, version: str | None) -> tuple[str, Installation]:
        """Start the update job; returns (job id, the installation before the update)."""
        record = await self._record(installation_id)
        resource = resource_of(record.server_id, record.name)
        await self._ensure_idle(resource)
        update = await self.update_context(record, version)
        job_id = await self._start_job(
            record, resource, "update_app", f"Update {update.plan.label} to {update.plan.version}",
            lambda ctx: self._run_update(ctx, update), InstallationStatus.UPDATING,
            {"version": version, "previous_version": record.app_version, "previous_status": record.status,
             "previous_services": update.previous_services},
        )  # fmt: skip
        return job_id, self.status.to_model(record)

    async def update_context(self, record: InstallationRecord, version: str | None) -> UpdateContext:
        """The plan of an update of ``record`` to ``version`` (the catalog's by default), and what runs now."""
        server = await self.servers.get(record.server_id)
        app = await self.marketplace.get_app(record.app_id)
        stored = await self.encryptor.decrypt_json(record.secrets) if record.secrets else {}
        given = {k: v for k, v in record.inputs.items() if k not in stored}
        inputs = resolve_inputs(app.inputs, given, stored, strict=False)
        ports, port_errors = plan_ports(app, port_config(record.ports))
        if inputs.errors or port_errors:
            raise ValidationError(f"The current version of {app.title} in the marketplace cannot be applied to "
                                  f"'{record.name}': " + "; ".join(inputs.errors + port_errors))
        target = version or app.version
        plan = InstallPlan(installation_id=record.id, server_id=record.server_id, server_name=server.name,
                           server_host=server.host, app=app, paths=paths_of(record), ports=ports, inputs=inputs,
                           version=target)
        columns = {"inputs": plan_inputs(plan), "app_title": app.title, "urls": plan.urls,
                   "ports": [p.model_dump(mode="json") for p in ports],
                   "secrets": await self.encryptor.encrypt_json(inputs.secrets) if inputs.secrets else None}
        return UpdateContext(plan=plan, previous_version=record.app_version, previous_status=record.status,
                             previous_services=[s["service"] for s in record.services],
                             same_version=target == record.app_version, new_columns=columns)

    async def _run_update(self, ctx: JobContext, update: UpdateContext) -> dict[str, Any]:
        await self.lifecycle.update(ctx, update)
        return {"installation": await self._dump(update.plan.installation_id)}

    async def uninstall_app(self, installation_id: str, remove_data: bool) -> tuple[str, Installation]:
        """Start the uninstall job; returns (job id, the installation being removed)."""
        record = await self._record(installation_id)
        resource = resource_of(record.server_id, record.name)
        await self._ensure_idle(resource)
        helper = helper_image(record)
        job_id = await self._start_job(
            record, resource, "uninstall_app", f"Uninstall '{record.name}'",
            lambda ctx: self.lifecycle.uninstall(ctx, record, paths_of(record), remove_data, helper),
            InstallationStatus.UNINSTALLING, {"remove_data": remove_data, "helper_image": helper},
        )  # fmt: skip
        return job_id, self.status.to_model(record)

    async def _start_job(self, record: InstallationRecord, resource: str, kind: str, title: str, runner: JobRunner,
                         status: InstallationStatus, params: dict[str, Any]) -> str:
        async def mark(job_id: str) -> None:
            await self.repo.update(record.id, {"status": status.value, "last_job_id": job_id, "updated_at": utcnow()})

        return await self._claim(kind, title, runner, record.server_id, resource,
                                 {"installation_id": record.id, **params}, mark)

    async def _claim(self, kind: str, title: str, runner: JobRunner, server_id: str, resource: str,
                     params: dict[str, Any], prepare: Callable[[str], Awaitable[None]]) -> str:
        """Start a job on ``resource``, then ``prepare(job_id)`` the installation record; the runner waits for it.

        The job comes first: the database admits one active job per resource whichever process asks, so of two
        calls at once one gets CONFLICT having changed nothing (neither the winner's record nor its status).
        """
        prepared: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        async def gated(ctx: JobContext) -> dict[str, Any] | None:
            await prepared
            return await runner(ctx)

        job_id = await self.jobs.start(kind, title, gated, server_id=server_id, resource=resource, params=params)
        try:
            await prepare(job_id)
        except BaseException as exc:
            prepared.set_exception(exc)  # the job ends with the same error, having done nothing
            raise
        prepared.set_result(None)
        return job_id

    # ---- start / stop / restart ------------------------------------------------------------------------------

    async def control(self, installation_id: str, action: str) -> Installation:
        """`docker compose start|stop|restart`, then the installation as Docker now reports it."""
        record = await self._record(installation_id)
        resource = resource_of(record.server_id, record.name)
        async with self._lock(resource):  # one control at a time in this process; jobs are excluded in the database
            await self._ensure_idle(resource)
            await self.remote.compose_action(record.server_id, paths_of(record), action, CONTROL_TIMEOUT_S)
            observed = await self.status.observe(record)
            installation = await self.status.view(record, observed)
        log.info("app_control", installation_id=record.id, action=action, status=installation.status.value)
        return installation

    # ---- reads ---------------------------------------------------------------------------------------------

    async def get_installation(self, installation_id: str) -> Installation:
        record = await self._record(installation_id)
        return await self.status.view(record, await self.status.observe(record))

    async def list_installed_apps(self, server_id: str | None, limit: int, offset: int) -> Page[InstallationSummary]:
        """A page of installations, each reconciled with Docker (only this page's servers are asked)."""
        if server_id is not None:
            server_id = (await self.servers.get(server_id)).id
        records, total = await self.repo.page(server_id, limit, offset)
        return Page(await self.status.summaries(records), total, limit, offset)

    async def get_app_logs(self, installation_id: str, service: str | None, tail: int, since: str | None) -> AppLogs:
        return await self.status.logs(await self._record(installation_id), service, tail, since)

    async def check_app_health(self, installation_id: str) -> AppHealth:
        return await self.status.health(await self._record(installation_id))

    async def get_compose(self, installation_id: str) -> InstallationCompose:
        """The compose.yaml on the server, with the installation's secret values masked (as in its logs)."""
        record = await self._record(installation_id)
        paths = paths_of(record)
        text = await self.remote.read_text(record.server_id, paths, COMPOSE_FILE)
        scrub = await self.status.scrubber(record)
        return InstallationCompose(installation_id=record.id, server_id=record.server_id, name=record.name,
                                   app_id=record.app_id, app_version=record.app_version,
                                   path=paths.file(COMPOSE_FILE), compose=scrub(text))

    # ---- helpers -------------------------------------------------------------------------------------------

    async def _record(self, installation_id: str) -> InstallationRecord:
        record = await self.repo.get(installation_id)
        if record is None:
            raise InstallationNotFound(f"No installation with id '{installation_id}'; list_installed_apps shows "
                                       "the installed apps and their ids.")
        return record

    def _lock(self, resource: str) -> asyncio.Lock:
        return self._locks.setdefault(resource, asyncio.Lock())

    async def _ensure_idle(self, resource: str) -> None:
        holder = await self.jobs.active_for_resource(resource)
        if holder is not None:
            job = await self.jobs.get(holder)
            raise ConflictError(
                f"'{resource.rsplit(':', 1)[-1]}' is busy: job {holder} ({job.title}) is {job.status.value}; "
                f"wait for it with get_job job_id='{holder}', then try again.",
                details={"job_id": holder},
            )
