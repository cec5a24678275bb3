"""Installed apps: a marketplace app deployed as a Compose project on a server.

``InstallConfig`` is what install_app and validate_app_config accept; ``Installation`` is what
get_installation returns (secrets masked), ``InstallationSummary`` the compact view for lists.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field
from typing_extensions import TypedDict

from tomo.models.base import TomoModel
from tomo.models.docker import ProjectName

PORT_KEY_PATTERN = r"^(main|[A-Za-z0-9][A-Za-z0-9_.-]{0,62}:[0-9]{1,5}(/(tcp|udp))?)$"
VERSION_PATTERN = r"^[A-Za-z0-9_][A-Za-z0-9_.+-]{0,127}$"

InputValue = str | int | float | bool
HostPort = Annotated[int, Field(ge=1, le=65535)]
PortKey = Annotated[str, Field(pattern=PORT_KEY_PATTERN)]
AppVersion = Annotated[
    str,
    Field(
        pattern=VERSION_PATTERN,
        description="Version to deploy, e.g. '1.35.0': the catalog's version, or an image tag of the main service.",
    ),
]


class InstallConfig(TypedDict, total=False):
    """How to install an app: its input values, secrets, host ports and installation name."""

    __pydantic_config__ = ConfigDict(extra="forbid")  # type: ignore[misc]  # a misspelt key is an error

    name: Annotated[
        ProjectName,
        Field(description="Installation (Compose project) name, unique on the server; default: the app's name."),
    ]
    inputs: Annotated[
        dict[str, InputValue],
        Field(description="Input values by input key (see get_marketplace_app), e.g. {'SIGNUPS_ALLOWED': false}."),
    ]
    secrets: Annotated[
        dict[str, str],
        Field(
            description="Password/secret input values by key, kept out of logs and audit, "
            "e.g. {'ADMIN_PASSWORD': '...'}; missing ones are generated."
        ),
    ]
    ports: Annotated[
        dict[PortKey, HostPort],
        Field(
            description="Host ports by 'main' (the web UI) or '<service>:<container port>[/udp]', "
            "e.g. {'main': 8096, 'pihole:53/udp': 5353}."
        ),
    ]


class InstallationStatus(StrEnum):
    """Lifecycle of an installation; the steady states are reconciled with what Docker reports."""

    INSTALLING = "installing"
    RUNNING = "running"
    STOPPED = "stopped"
    DEGRADED = "degraded"
    UPDATING = "updating"
    UNINSTALLING = "uninstalling"
    MISSING = "missing"
    ERROR = "error"

    @property
    def transitional(self) -> bool:
        """A job is (or was, if Tomo stopped meanwhile) changing the installation."""
        return self in (InstallationStatus.INSTALLING, InstallationStatus.UPDATING, InstallationStatus.UNINSTALLING)


class PublishedPort(TomoModel):
    """A container port published on the server."""

    service: str
    container_port: int
    host_port: int
    protocol: Literal["tcp", "udp"] = "tcp"
    main: bool = False

    @property
    def key(self) -> str:
        """The config.ports key of this port."""
        suffix = "/udp" if self.protocol == "udp" else ""
        return f"{self.service}:{self.container_port}{suffix}"


class ServiceState(TomoModel):
    """One service's container as Docker reports it."""

    service: str
    container: str
    image: str
    state: str = Field(description="running, exited, restarting, created, paused, dead.")
    health: str | None = Field(None, description="healthy, unhealthy or starting; None without a healthcheck.")
    restarts: int | None = None
    exit_code: int | None = None


class HttpCheck(TomoModel):
    """The result of opening the app's URL from Tomo."""

    url: str
    ok: bool
    status: int | None = None
    detail: str | None = None
    elapsed_ms: float | None = None


class InstallEvent(TomoModel):
    """A change in the installation's history (installed, updated, update rolled back...)."""

    at: datetime
    action: str
    version: str
    job_id: str | None = None
    detail: str | None = None


class JobRef(TomoModel):
    """The last job that worked on the installation."""

    id: str
    kind: str
    status: str
    error_code: str | None = None
    error_message: str | None = None
    finished_at: datetime | None = None


class Installation(TomoModel):
    """An installed app as get_installation shows it (secrets masked)."""

    id: str
    server_id: str
    name: str = Field(description="Compose project name on the server.")
    app_id: str
    app_title: str
    app_version: str
    status: InstallationStatus
    reachable: bool = Field(True, description="False: the server did not answer; status is the last known one.")
    status_note: str | None = None
    services: list[ServiceState] = Field(default_factory=list)
    urls: list[str] = Field(default_factory=list)
    ports: list[PublishedPort] = Field(default_factory=list)
    config: dict[str, Any] = Field(default_factory=dict, description="Input values; secrets shown as '***'.")
    project_dir: str
    data_dir: str
    app_deprecated: bool = False
    last_job: JobRef | None = None
    history: list[InstallEvent] = Field(default_factory=list)
    created_by: str | None = None
    created_at: datetime
    updated_at: datetime
    status_checked_at: datetime | None = None

    def summary(self) -> InstallationSummary:
        """The compact view for lists."""
        return InstallationSummary.model_validate(self.model_dump(include=set(InstallationSummary.model_fields)))


class InstallationSummary(TomoModel):
    """The compact view list_installed_apps returns."""

    id: str
    server_id: str
    name: str
    app_id: str
    app_version: str
    status: InstallationStatus
    reachable: bool = True
    status_note: str | None = None
    urls: list[str] = Field(default_factory=list)
    updated_at: datetime


class ConfigReport(TomoModel):
    """What validate_app_config found: problems, and the files install_app would upload (secrets masked)."""

    valid: bool
    errors: list[str] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)
    name: str
    project_dir: str
    ports: list[PublishedPort] = Field(default_factory=list)
    urls: list[str] = Field(default_factory=list)
    architecture: str | None = None
    disk_free_bytes: int | None = None
    generated_secrets: list[str] = Field(default_factory=list, description="Inputs Tomo would generate.")
    env: dict[str, str] = Field(default_factory=dict, description="The .env file's variables, secrets as '***'.")
    compose: str = Field("", description="compose.yaml with variables filled in, secrets as '***'.")


class InstallationCompose(TomoModel):
    """The compose.yaml an installation runs, as the resource tomo://apps/{installation_id}/compose shows it."""

    installation_id: str
    server_id: str
    name: str
    app_id: str
    app_version: str
    path: str = Field(description="Where the file is on the server.")
    compose: str = Field(description="The file's text; secret values shown as '***'.")


class AppHealth(TomoModel):
    """check_app_health's answer: per service state, and whether the web UI answers."""

    installation_id: str
    name: str
    healthy: bool
    status: InstallationStatus
    services: list[ServiceState] = Field(default_factory=list)
    http: HttpCheck | None = None
    problems: list[str] = Field(default_factory=list)


class AppLogs(TomoModel):
    """get_app_logs' answer: the last lines of each service (secrets masked)."""

    installation_id: str
    tail: int
    since: str | None = None
    services: dict[str, list[str]] = Field(default_factory=dict)
    truncated: bool = False
