"""Composition root: builds every service once and wires the MCP server.

Nothing else constructs services. Tool classes receive their dependencies by
constructor parameter name (see ``lib/mcp/loader.py``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import structlog
from fastmcp import FastMCP

from tomo import __version__
from tomo.database.engine import Database
from tomo.database.repositories.auth import LockoutRepository, SessionRepository, TokenRepository, UserRepository
from tomo.database.repositories.housekeeping import HousekeepingRepository
from tomo.database.repositories.installations import InstallationRepository
from tomo.database.repositories.instances import InstanceRepository
from tomo.database.repositories.jobs import JobRepository
from tomo.database.repositories.logs import LogRepository
from tomo.database.repositories.marketplace import MarketplaceRepository
from tomo.database.repositories.servers import ServerRepository
from tomo.database.repositories.settings import SettingsRepository
from tomo.database.types import new_id, utcnow
from tomo.lib.config import TomoConfig
from tomo.lib.encryption import Encryptor
from tomo.lib.mcp.loader import DEFAULT_PACKAGES, load_modules, register_all_tools, register_views
from tomo.lib.mcp.middleware import TomoMiddleware
from tomo.lib.mcp.schemas import CACHE_FILE, SchemaCache
from tomo.lib.mcp.tooling import ToolPolicy
from tomo.lib.mcp.wrapper import ToolRuntime
from tomo.lib.security import PasswordHasher
from tomo.models.principal import Transport
from tomo.services.apps.install import DeploymentService
from tomo.services.apps.lifecycle import LifecycleService
from tomo.services.apps.recovery import AppRecovery
from tomo.services.apps.remote import AppRemote
from tomo.services.apps.service import AppService
from tomo.services.apps.status import AppStatusService
from tomo.services.auth.auth import AuthService
from tomo.services.auth.identity import IdentityService
from tomo.services.auth.lockout import LockoutService
from tomo.services.auth.tokens import TokenService
from tomo.services.auth.users import UserService
from tomo.services.docker.docker import DockerService
from tomo.services.health.health import HealthService
from tomo.services.instances.instances import InstanceService
from tomo.services.instances.scheduler import SchedulerService
from tomo.services.jobs.jobs import JobService
from tomo.services.logs.audit import AuditService
from tomo.services.logs.events import EventStore
from tomo.services.logs.logs import LogService
from tomo.services.marketplace.marketplace import MarketplaceService
from tomo.services.marketplace.sync import SyncService
from tomo.services.monitoring.monitoring import build_monitoring
from tomo.services.servers.preparation import PreparationService
from tomo.services.servers.servers import ServerService
from tomo.services.servers.ssh import LazySSHPool, SSHService
from tomo.services.settings.settings import SettingsService

logger = structlog.get_logger("tomo")

INSTRUCTIONS = (
    "Tomo runs a homelab: register servers reached over SSH (add_server, test_connection), prepare them "
    "with Docker (prepare_server), browse app catalogs (search_marketplace), deploy and manage apps "
    "(install_app, list_installed_apps), and follow long operations with get_job. Every tool answers "
    "{success, message, data?, error?}; destructive tools need confirm=true after the user agreed."
)


@dataclass
class TomoApp:
    """The built application: the MCP server and the services behind it."""

    config: TomoConfig
    mcp: FastMCP[Any]
    database: Database
    services: dict[str, Any]
    policies: dict[str, ToolPolicy] = field(default_factory=dict)

    async def startup(self) -> None:
        """Migrate, load settings, register this instance, recover the jobs and syncs of dead instances, start
        the scheduler and key derivation."""
        await self.database.migrate()
        await self.services["settings_service"].load()
        await self.services["event_store"].start()
        await self.services["instance_service"].start()
        await self.services["job_service"].recover_interrupted()
        await self.services["sync_service"].recover_interrupted()
        await self.services["scheduler_service"].start()
        self.services["encryptor"].start()

    async def shutdown(self) -> None:
        """Stop the scheduler and jobs (recorded as interrupted), deregister, close connections, end worker
        threads. Safe to call twice."""
        await self.services["scheduler_service"].stop()
        await self.services["job_service"].shutdown()
        await self.services["instance_service"].stop()
        await self.services["event_store"].stop()
        for name in ("ssh_pool",):
            closer = self.services.get(name)
            if closer is not None:
                await closer.close_all()
        self.services["password_hasher"].close()
        await self.database.dispose()


def build_services(config: TomoConfig, transport: Transport) -> tuple[Database, dict[str, Any]]:
    """Construct every service once, in dependency order."""
    database = Database(config.resolved_database_url)
    log_repository = LogRepository(database)
    audit_service = AuditService(log_repository)
    settings_service = SettingsService(SettingsRepository(database), audit_service)
    instance_repository = InstanceRepository(database)
    instance_service = InstanceService(instance_repository, settings_service, new_id(), transport)
    services: dict[str, Any] = {
        "config": config,
        "database": database,
        "encryptor": Encryptor(config.master_key.get_secret_value() if config.master_key else None, config.data_dir),
        "audit_service": audit_service,
        "log_service": LogService(log_repository),
        "event_store": EventStore(log_repository, lambda: str(settings_service.get("stored_log_level"))),
        "settings_service": settings_service,
        "instance_service": instance_service,
        "scheduler_service": SchedulerService(instance_repository, instance_service),
        "job_service": JobService(JobRepository(database), settings_service, instance_service.id,
                                  instance_service.live_ids),
        "health_service": HealthService(database, config.data_dir),
        **build_auth_services(config, database, settings_service, audit_service, transport),
    }
    services.update(build_server_services(database, services))
    services.update(build_marketplace_services(database, services))
    services.update(build_app_services(database, services))
    services["monitoring_service"] = build_monitoring(database, services)
    register_tasks(database, services)
    return database, services


def register_tasks(database: Database, services: dict[str, Any]) -> None:
    """The periodic work of the whole database (run by the scheduler's leader), and what each instance reloads
    when another changes shared state."""
    scheduler: SchedulerService = services["scheduler_service"]
    settings: SettingsService = services["settings_service"]
    jobs: JobService = services["job_service"]
    housekeeping = HousekeepingRepository(database)
    instances: InstanceService = services["instance_service"]

    async def forget_instances() -> None:
        await instances.forget_dead()

    async def purge_jobs() -> None:
        await jobs.purge_finished(int(settings.get("job_retention_days")))

    async def purge_logs() -> None:
        await services["log_service"].purge(int(settings.get("log_retention_days")))

    async def purge_sessions() -> None:
        await housekeeping.purge_sessions(utcnow())

    async def purge_lockouts() -> None:
        await housekeeping.purge_lockouts(utcnow(), utcnow() - timedelta(days=1))

    scheduler.register("forget_instances", 600, forget_instances)
    instances.check_often(jobs.recover_interrupted)  # every instance: a death is followed within 1.5 leases
    for name, function in (("purge_jobs", purge_jobs), ("purge_logs", purge_logs),
                           ("purge_sessions", purge_sessions), ("purge_lockouts", purge_lockouts)):
        scheduler.register(name, 3600, function)
    services["health_service"].probes["instances"] = instances.report
    services["health_service"].probes["scheduler"] = scheduler.report
    instances.watch("settings", settings.load)
    instances.watch("servers", services["ssh_service"].forget_all)
    instances.watch("jobs", jobs.apply_cancel_requests)


def build_server_services(database: Database, services: dict[str, Any]) -> dict[str, Any]:
    """Servers and SSH: the pool is created on first use (asyncssh is not imported at start-up)."""
    settings: SettingsService = services["settings_service"]
    ssh_pool = LazySSHPool(settings)
    services["health_service"].probes["ssh_pool"] = ssh_pool.stats
    repository = ServerRepository(database)
    ssh_service = SSHService(repository, services["encryptor"], settings, ssh_pool)
    server_service = ServerService(repository, services["encryptor"], settings, ssh_service)
    return {
        "ssh_pool": ssh_pool,
        "ssh_service": ssh_service,
        "server_service": server_service,
        "preparation_service": PreparationService(server_service, ssh_service, services["job_service"], settings),
        "docker_service": DockerService(ssh_service),
    }


def build_auth_services(
    config: TomoConfig, database: Database, settings: SettingsService, audit: AuditService, transport: Transport
) -> dict[str, Any]:
    """Users, sessions, API tokens, lockouts and the identity of each call."""
    users, sessions = UserRepository(database), SessionRepository(database)
    hasher = PasswordHasher()
    lockout_service = LockoutService(LockoutRepository(database), settings, audit)
    token_service = TokenService(TokenRepository(database), audit)
    user_service = UserService(users, sessions, hasher, lockout_service, settings, audit)
    jwt_secret = config.jwt_secret.get_secret_value() if config.jwt_secret else None
    auth_service = AuthService(user_service, users, sessions, token_service, lockout_service, hasher, settings,
                               audit, jwt_secret, config.data_dir)
    return {
        "password_hasher": hasher,
        "lockout_service": lockout_service,
        "token_service": token_service,
        "user_service": user_service,
        "auth_service": auth_service,
        "identity_service": IdentityService(transport, auth_service, users, settings, config.user),
    }


def build_marketplace_services(database: Database, services: dict[str, Any]) -> dict[str, Any]:
    """Catalog repositories, sync and search (the built-in catalog is imported on first use)."""
    repository = MarketplaceRepository(database)
    sync_service = SyncService(repository, services["job_service"], services["settings_service"], services["config"])
    services["job_service"].register_recovery("marketplace_sync", sync_service.recover_job)
    return {"sync_service": sync_service, "marketplace_service": MarketplaceService(repository, sync_service)}


def build_app_services(database: Database, services: dict[str, Any]) -> dict[str, Any]:
    """Installed apps; delete_server and marketplace syncs learn which servers and apps they use."""
    repository, remote = InstallationRepository(database), AppRemote(services["ssh_service"])
    deployment = DeploymentService(repository, remote, services["settings_service"])
    status = AppStatusService(repository, remote, services["job_service"], services["encryptor"],
                              services["marketplace_service"])
    app_service = AppService(
        repository, services["server_service"], services["marketplace_service"], services["job_service"],
        services["encryptor"], services["settings_service"], remote, deployment, LifecycleService(deployment), status,
    )
    services["server_service"].register_dependents_check(app_service.count_on_server, label="installed app(s)")
    services["marketplace_service"].register_in_use_check(app_service.apps_in_use)
    services["docker_service"].register_secret_source(app_service.secrets_for_project)
    for kind, handler in AppRecovery(app_service).handlers().items():
        services["job_service"].register_recovery(kind, handler)
    return {"app_service": app_service}


def build_app(
    config: TomoConfig,
    *,
    transport: Transport = "stdio",
    tool_packages: Sequence[str] = DEFAULT_PACKAGES,
) -> TomoApp:
    """Build the whole application; its only I/O is the data directory and the tool schema cache in it."""
    config.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    database, services = build_services(config, transport)
    identity: IdentityService = services["identity_service"]
    settings: SettingsService = services["settings_service"]
    runtime = ToolRuntime(
        identity.resolve,
        services["audit_service"],
        services["job_service"],
        default_wait_seconds=lambda: int(settings.get("default_wait_seconds")),
    )
    app = TomoApp(config=config, mcp=FastMCP("tomo"), database=database, services=services)

    @asynccontextmanager
    async def lifespan(_server: FastMCP[Any]) -> AsyncIterator[dict[str, Any]]:
        await app.startup()
        try:
            yield {}
        finally:
            await app.shutdown()

    policies: dict[str, ToolPolicy] = {}
    services["tool_policies"] = policies  # cancel_job: the role of the tool that started a job (filled below)
    app.mcp = FastMCP(
        "tomo",
        instructions=INSTRUCTIONS,
        version=__version__,
        lifespan=lifespan,
        middleware=[TomoMiddleware(policies, identity.resolve, services["audit_service"])],
        mask_error_details=True,
    )
    schema_cache = SchemaCache.load(config.data_dir / CACHE_FILE, tool_packages)
    loaded = load_modules(services, runtime, tool_packages, schema_cache)
    policies.update(register_all_tools(app.mcp, loaded.tools))
    register_views(app.mcp, loaded.views)
    schema_cache.save()
    app.policies = policies
    return app
