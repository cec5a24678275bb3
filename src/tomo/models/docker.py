"""Docker objects as tools show them (compact), and validated identifiers for Docker CLI arguments."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, StringConstraints

from tomo.models.base import TomoModel

# Identifiers that reach the docker CLI as arguments. They are passed as separate argv elements (never
# through a shell), and must not start with "-" so the CLI cannot read them as options.
ContainerRef = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$"),
    Field(description="Container name or id from list_containers, e.g. 'jellyfin-jellyfin-1'."),
]
ImageRef = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:/@+-]{0,254}$"),
    Field(description="Image reference, e.g. 'nginx:1.27' or 'ghcr.io/home-assistant/home-assistant:stable'."),
]
ProjectName = Annotated[
    str,
    StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$"),
    Field(description="Compose project name: lowercase letters, digits, '-' and '_', e.g. 'jellyfin'."),
]
ServiceName = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$"),
    Field(description="Compose service name, e.g. 'db'."),
]


class ContainerSummary(TomoModel):
    """One container as `docker ps` reports it."""

    id: str
    name: str
    image: str
    state: str
    status: str
    health: str | None = None
    ports: str = ""
    project: str | None = None
    service: str | None = None
    created: str | None = None


class ContainerStats(TomoModel):
    """Live resource use of a running container."""

    id: str
    name: str
    cpu_percent: float | None
    memory_usage_bytes: int | None
    memory_limit_bytes: int | None
    memory_percent: float | None
    net_io: str
    block_io: str
    pids: int | None


class ContainerDetail(TomoModel):
    """One container, compact: what `docker inspect` says that matters, env reduced to names."""

    id: str
    name: str
    image: str
    state: str
    health: str | None = None
    exit_code: int | None = None
    restart_count: int = 0
    restart_policy: str | None = None
    created: str | None = None
    started_at: str | None = None
    ports: list[str] = Field(default_factory=list)
    mounts: list[str] = Field(default_factory=list)
    networks: dict[str, str] = Field(default_factory=dict)
    project: str | None = None
    service: str | None = None
    env_names: list[str] = Field(default_factory=list)


class ImageSummary(TomoModel):
    """One image as `docker image ls` reports it."""

    id: str
    repository: str
    tag: str
    size: str
    size_bytes: int | None = None
    created: str | None = None


class VolumeSummary(TomoModel):
    """One volume, with the compose project that created it if any."""

    name: str
    driver: str
    project: str | None = None


class NetworkSummary(TomoModel):
    """One network."""

    id: str
    name: str
    driver: str
    scope: str
    internal: bool = False


class DiskUsage(TomoModel):
    """One row of `docker system df`."""

    kind: str
    total: int | None
    active: int | None
    size: str
    size_bytes: int | None
    reclaimable: str
    reclaimable_bytes: int | None


class DockerInfo(TomoModel):
    """Engine, CLI and Compose versions, object counts and disk usage."""

    server_version: str
    client_version: str | None
    compose_version: str | None
    containers_running: int
    containers_stopped: int
    containers_paused: int
    images: int
    operating_system: str | None
    architecture: str | None
    root_dir: str | None
    disk_usage: list[DiskUsage]


class PruneReport(TomoModel):
    """What a prune removed."""

    what: str
    deleted: dict[str, int]
    reclaimed: str
    reclaimed_bytes: int | None


class Bounded(TomoModel):
    """A list cut at ``LIST_LIMIT`` items; ``total`` is how many there were."""

    items: list[Any]
    total: int
    truncated: bool
