"""App tools: deploy marketplace apps to servers as Compose projects and manage them."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from tomo.lib.mcp.tooling import quoted, tomo_prompt, tomo_resource, tomo_tool
from tomo.models.common import DEFAULT_PAGE_SIZE, JobStarted, PageLimit, PageOffset, Reply
from tomo.models.docker import ServiceName
from tomo.models.installation import AppVersion, InstallationCompose, InstallConfig
from tomo.models.principal import Role
from tomo.services.apps.service import AppService

ServerRef = Annotated[
    str, Field(min_length=1, max_length=64, description="Server id or name, from list_servers.")
]
AppRef = Annotated[
    str,
    Field(min_length=1, max_length=200, description="App id from search_marketplace, e.g. 'builtin/jellyfin'."),
]
InstallationId = Annotated[
    str, Field(min_length=1, max_length=64, description="Installation id from install_app or list_installed_apps.")
]
Since = Annotated[
    str | None,
    Field(
        max_length=40,
        pattern=r"^([0-9]+(\.[0-9]+)?[smh])+$|^[0-9]{4}-[0-9]{2}-[0-9]{2}(T[0-9:.]+(Z|[+-][0-9]{2}:[0-9]{2})?)?$|^[0-9]{9,10}$",
        description="Only lines newer than this: a duration ('15m', '2h') or a time ('2026-11-25T10:00:00Z').",
    ),
]


class AppTools:
    """Install, run, update and remove apps on registered servers."""

    def __init__(self, app_service: AppService) -> None:
        self.apps = app_service

    @tomo_tool(role=Role.OPERATOR, read_only=True, open_world=True, title="Validate app configuration")
    async def validate_app_config(
        self, server_id: ServerRef, app_id: AppRef, config: InstallConfig | None = None
    ) -> Reply:
        """Check an app configuration against a server without changing anything (a dry run of install_app).

        Use it before install_app: checks inputs (required, type, range), host ports in use (on the
        server or by another installation), CPU architecture, free disk and the name. The server must be
        prepared. One SSH round trip (about a second). Returns valid, errors, warnings, the ports and URL
        it would get, and the .env and compose.yaml as Compose reads them (secrets as '***').

        Args:
            config: {inputs: {KEY: value}, secrets: {KEY: value}, ports: {'main': 8080}, name: 'kuma'}; all optional.
        """
        report = await self.apps.validate_app_config(server_id, app_id, config)
        verdict = "valid" if report.valid else f"not valid: {'; '.join(report.errors)}"
        return Reply(f"The configuration of '{report.name}' is {verdict}.", report)

    @tomo_tool(role=Role.OPERATOR, open_world=True, job=True, title="Install app")
    async def install_app(
        self, server_id: ServerRef, app_id: AppRef, config: InstallConfig | None = None
    ) -> JobStarted:
        """Deploy a marketplace app to a registered server as a Docker Compose project.

        Prerequisites: a prepared server (prepare_server); the app's inputs from get_marketplace_app,
        checked with validate_app_config. A job: renders compose.yaml and .env (missing secrets
        generated, stored encrypted, never shown), uploads to <apps_root>/<name>/, runs `docker compose
        up --wait` (pulls: seconds to minutes) and checks the services and web UI. A failure rolls back;
        the job keeps the reason and the failing containers' log tail. Returns the installation (id,
        status, URL), or a job id for get_job.

        Args:
            config: {inputs: {KEY: value}, secrets: {KEY: password}, ports: {'main': 8096}, name: 'jellyfin'};
                put passwords in secrets, not inputs; omitted values take the app's defaults.
        """
        job_id, installation_id = await self.apps.install_app(server_id, app_id, config)
        return JobStarted(job_id, f"Installing {app_id} as installation {installation_id} (job {job_id}).")

    @tomo_tool(read_only=True, idempotent=True, open_world=True, title="List installed apps")
    async def list_installed_apps(
        self,
        server_id: Annotated[
            str | None, Field(max_length=64, description="Only apps on this server (id or name); default all.")
        ] = None,
        limit: PageLimit = DEFAULT_PAGE_SIZE,
        offset: PageOffset = 0,
    ) -> Reply:
        """List installed apps with their status as Docker reports it now, and their URLs.

        Asks each server of the page once (about a second); a server that does not answer shows its apps'
        last known status with reachable=false. Use get_installation for one app's details.
        """
        page = await self.apps.list_installed_apps(server_id, limit, offset)
        return page.reply("list_installed_apps", "installations", "installed app(s)")

    @tomo_tool(read_only=True, idempotent=True, open_world=True, title="Get installation")
    async def get_installation(self, installation_id: InstallationId) -> Reply:
        """Show one installed app: status reconciled with Docker, services, URLs, configuration and last job.

        Secrets show as '***'. A last job interrupted by a Tomo restart is reported, and the status is
        then read from the server.
        """
        installation = await self.apps.get_installation(installation_id)
        note = f" ({installation.status_note})" if installation.status_note else ""
        return Reply(f"'{installation.name}' ({installation.app_title}) is {installation.status.value}{note}.",
                     installation)

    @tomo_tool(role=Role.OPERATOR, idempotent=True, open_world=True, title="Start app")
    async def start_app(self, installation_id: InstallationId) -> Reply:
        """Start a stopped app's containers (`docker compose start`); returns the installation.

        Takes a few seconds. Fails with CONFLICT while a job (install, update, uninstall) works on it.
        """
        installation = await self.apps.control(installation_id, "start")
        return Reply(f"'{installation.name}' is {installation.status.value}.", installation)

    @tomo_tool(role=Role.OPERATOR, idempotent=True, open_world=True, title="Stop app")
    async def stop_app(self, installation_id: InstallationId) -> Reply:
        """Stop an app's containers (`docker compose stop`), keeping them and their data; returns the installation.

        Takes up to the containers' stop grace period (usually 10 s). start_app starts it again.
        """
        installation = await self.apps.control(installation_id, "stop")
        return Reply(f"'{installation.name}' is {installation.status.value}.", installation)

    @tomo_tool(role=Role.OPERATOR, open_world=True, title="Restart app")
    async def restart_app(self, installation_id: InstallationId) -> Reply:
        """Restart an app's containers (`docker compose restart`); returns the installation.

        Use it after a configuration change inside the app or when it misbehaves; takes seconds.
        """
        installation = await self.apps.control(installation_id, "restart")
        return Reply(f"'{installation.name}' is {installation.status.value}.", installation)

    @tomo_tool(role=Role.OPERATOR, open_world=True, job=True, title="Update app")
    async def update_app(self, installation_id: InstallationId, version: AppVersion | None = None) -> JobStarted:
        """Update an installed app to the marketplace's current version, or to another image tag.

        Run sync_repo first for the catalog's newest version. A job: renders new files with the same
        inputs and ports, uploads, `compose up --wait` (pulls images) and verifies; data is kept. If the
        new version is unhealthy, the previous files are restored and restarted, so the app keeps
        serving. Both outcomes go in the installation's history.

        Args:
            version: default the catalog's version; another value is used as the main image's tag, e.g. "1.35.0".
        """
        job_id, installation = await self.apps.update_app(installation_id, version)
        return JobStarted(job_id, f"Updating '{installation.name}' (job {job_id}).")

    @tomo_tool(role=Role.OPERATOR, destructive=True, open_world=True, job=True, title="Uninstall app")
    async def uninstall_app(
        self,
        installation_id: InstallationId,
        remove_data: Annotated[
            bool, Field(description="Also delete the data folder and named volumes, for good.")
        ] = False,
    ) -> JobStarted:
        """Remove an installed app from its server: containers, networks and compose files.

        The data folder (<apps_root>/<name>/data) and named volumes are kept unless remove_data=true,
        so installing again under the same name finds the data. Destructive: needs confirm=true once the
        user agreed. Runs as a job (seconds).
        """
        job_id, installation = await self.apps.uninstall_app(installation_id, remove_data)
        return JobStarted(job_id, f"Uninstalling '{installation.name}' (job {job_id}).")

    @tomo_tool(read_only=True, idempotent=True, open_world=True, title="Get app logs")
    async def get_app_logs(
        self,
        installation_id: InstallationId,
        service: Annotated[ServiceName | None, Field(description="Only this service, e.g. 'db'; default all.")] = None,
        tail: Annotated[int, Field(ge=1, le=1000, description="Last lines per service.")] = 100,
        since: Since = None,
    ) -> Reply:
        """Read the last log lines of an installed app, per service (secret values masked).

        Use it when an app misbehaves or a job failed. Bounded: `tail` lines per service, 200 000
        characters in all; lines carry Docker's timestamps.
        """
        logs = await self.apps.get_app_logs(installation_id, service, tail, since)
        count = sum(len(lines) for lines in logs.services.values())
        return Reply(f"{count} log line(s) from {len(logs.services)} service(s).", logs)

    @tomo_tool(read_only=True, idempotent=True, open_world=True, title="Check app health")
    async def check_app_health(self, installation_id: InstallationId) -> Reply:
        """Check an installed app: each service's state, health and restarts, and whether its web UI answers.

        The web UI is opened from Tomo (any HTTP status below 500 counts as answering). Takes about a
        second. Returns healthy, per service details and the problems found.
        """
        health = await self.apps.check_app_health(installation_id)
        verdict = "healthy" if health.healthy else "unhealthy: " + "; ".join(health.problems)
        return Reply(f"'{health.name}' is {verdict}.", health)

    @tomo_resource("tomo://apps/{installation_id}/compose", title="Installed app's compose.yaml")
    async def app_compose_resource(self, installation_id: str) -> InstallationCompose:
        """The compose.yaml an installed app runs, read from its server, with its secret values shown as '***'.

        installation_id comes from list_installed_apps. Takes one SSH round trip.
        """
        return await self.apps.get_compose(installation_id)

    @tomo_prompt(title="Deploy an app")
    async def deploy_app(self, app_id: str, server_id: str = "") -> str:
        """Deploy a marketplace app to a server, checking the configuration before installing.

        Args:
            app_id: the app's id from search_marketplace, e.g. "builtin/jellyfin".
            server_id: the target server's id or name, e.g. "nas"; when omitted, the assistant asks.
        """
        app = f"app_id={quoted(app_id)}"
        if server_id:
            server = f"server_id={quoted(server_id)}"
            choose = f"get_server({server}): its status should be online"
        else:
            server = "server_id"
            choose = "list_servers, then ask the user which server to use unless there is only one"
        return (
            f"Deploy the marketplace app {quoted(app_id)} with Tomo (installing needs the operator role).\n"
            f"1. get_marketplace_app({app}): its inputs (required ones, secrets, generated ones), ports and "
            "services. Not found: search_marketplace finds the right id.\n"
            f"2. {choose}. Status unknown or offline: test_connection. No Docker in get_server_info: "
            "prepare_server.\n"
            "3. Ask the user for the required inputs you cannot infer. Passwords go in config.secrets, never in "
            "config.inputs; leave generated secrets out, Tomo creates them.\n"
            f"4. validate_app_config({server}, {app}, config): fix every error (a port in use: another one in "
            "config.ports) and tell the user the warnings.\n"
            f"5. Once the user agrees: install_app({server}, {app}, config). It runs as a job; if it answers "
            "with a job_id still running, follow it with get_job.\n"
            "6. check_app_health(installation_id): report the app's URL and each service's state. On failure, "
            "get_job shows the failed step and get_app_logs the containers' output.\n"
            "Never repeat secret values to the user."
        )
