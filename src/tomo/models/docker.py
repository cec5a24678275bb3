"""Docker objects as tools show them (compact), and validated identifiers for Docker CLI arguments."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, Field, StringConstraints

# Identifiers that reach the docker CLI as arguments. They are passed as separate argv elements (never
# through a shell), and must not start with "-" so the CLI cannot read them as options.
ContainerRef = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$"),
    Field(description="Container name or id, e.g. 'jellyfin-jellyfin-1' or 'f3a9c2e1b7d0'."),
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


class ContainerSummary(BaseModel):
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


class ContainerStats(BaseModel):
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


class ComposeService(BaseModel):
    """A compose service's container and its state (`docker compose ps`)."""

    service: str
    name: str
    image: str
    state: str
    health: str | None = None
    exit_code: int | None = None
    publishers: list[dict[str, Any]] = Field(default_factory=list)
