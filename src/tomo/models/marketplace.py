"""Marketplace models: a catalog app normalised from any supported catalog format.

Every catalog format (Tomo's own, CasaOS, Runtipi) is read into :class:`CatalogApp`: metadata, typed
inputs, the services with their ports and volumes, and the full Compose document with the
platform's variables already mapped to Tomo's (see ``tomo.lib.catalog.variables``). The marketplace
service shows clients :class:`MarketplaceRepo` (a catalog repository) and :class:`MarketplaceAppSummary`
(an app in search results).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Self

from pydantic import ConfigDict, Field, model_validator

from tomo.models.base import TomoModel

CatalogFormat = Literal["tomo", "casaos", "runtipi"]
InputType = Literal["text", "password", "number", "boolean", "email", "url", "select", "secret"]
SecretCharset = Literal["alnum", "hex", "base64", "urlsafe"]
PortProtocol = Literal["tcp", "udp"]
VolumeKind = Literal["bind", "named", "anonymous", "tmpfs"]

APP_ID_PATTERN = r"^[a-z0-9][a-z0-9-]{0,62}$"
ENV_KEY_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"


class GenerateSpec(TomoModel):
    """How to generate a secret input's value at install time."""

    model_config = ConfigDict(extra="forbid")

    length: int = Field(
        32,
        ge=8,
        le=512,
        description="Characters to produce; for charset 'base64' the number of random bytes encoded.",
    )
    charset: SecretCharset = Field(
        "alnum", description="alnum: [A-Za-z0-9]; hex: [0-9a-f]; base64: standard base64; urlsafe: [A-Za-z0-9_-]."
    )


class InputOption(TomoModel):
    """One choice of a select input."""

    model_config = ConfigDict(extra="forbid")

    value: str
    label: str


class AppInput(TomoModel):
    """A typed setting the user gives (or Tomo generates) when installing an app."""

    model_config = ConfigDict(extra="forbid")

    key: str = Field(pattern=ENV_KEY_PATTERN, description="Identifier of the input, e.g. DB_PASSWORD.")
    label: str = Field(description="Short human label.")
    type: InputType = "text"
    required: bool = Field(False, description="The user must give a value (secrets are generated instead).")
    default: str | int | float | bool | None = None
    description: str | None = None
    placeholder: str | None = None
    min: float | None = Field(None, description="Smallest value (number inputs).")
    max: float | None = Field(None, description="Largest value (number inputs).")
    min_length: int | None = Field(None, ge=0, description="Shortest value (text-like inputs).")
    max_length: int | None = Field(None, ge=0, description="Longest value (text-like inputs).")
    regex: str | None = Field(None, description="Pattern the value must match (ECMAScript/Python common subset).")
    regex_error: str | None = Field(None, description="Message shown when the pattern does not match.")
    options: list[InputOption] = Field(default_factory=list, description="Choices of a select input.")
    generate: GenerateSpec | None = Field(None, description="Generation rule of a secret input.")
    env: str | None = Field(
        None, pattern=ENV_KEY_PATTERN, description="Variable the value fills in the compose file; default: key."
    )

    @model_validator(mode="after")
    def _check_type_rules(self) -> Self:
        """Fill env from key, give secrets a generation rule, require options for selects."""
        if self.env is None:
            self.env = self.key
        if self.type == "secret" and self.generate is None:
            self.generate = GenerateSpec()
        if self.type != "secret" and self.generate is not None:
            raise ValueError(f"input {self.key}: 'generate' is only allowed on secret inputs")
        if self.type == "select" and not self.options:
            raise ValueError(f"input {self.key}: a select input needs options")
        return self

    @property
    def env_name(self) -> str:
        """The variable this input fills (``env``, else ``key``)."""
        return self.env or self.key


class AppPort(TomoModel):
    """A container port of a service and how it is published on the host."""

    service: str
    container_port: int = Field(ge=1, le=65535)
    container_port_end: int | None = Field(None, ge=1, le=65535, description="Last port of a range.")
    host_port: int | None = Field(None, ge=0, le=65535, description="Default published port; None: not published.")
    protocol: PortProtocol = "tcp"
    description: str | None = None
    is_main: bool = Field(False, description="The port of the app's web UI (published as ${APP_PORT}).")


class AppVolume(TomoModel):
    """A mount of a service: a host folder (bind), a named or anonymous volume, or a tmpfs."""

    service: str
    source: str = Field(description="Host path (variables mapped), volume name, or '' for anonymous/tmpfs.")
    target: str
    description: str | None = None
    kind: VolumeKind = "bind"
    read_only: bool = False


class AppService(TomoModel):
    """One service of the app's compose file, summarised."""

    name: str
    image: str
    ports: list[AppPort] = Field(default_factory=list)
    volumes: list[AppVolume] = Field(default_factory=list)
    environment: list[str] = Field(default_factory=list, description="Names of the environment variables set.")
    depends_on: list[str] = Field(default_factory=list)


class CatalogApp(TomoModel):
    """A marketplace app normalised from a catalog: what get_marketplace_app returns."""

    id: str = Field(pattern=APP_ID_PATTERN, description="Slug, unique within its catalog.")
    name: str = Field(pattern=APP_ID_PATTERN, description="Default installation (Compose project) name.")
    title: str = Field(min_length=1, description="Display name, e.g. 'Home Assistant'.")
    tagline: str = ""
    description: str = ""
    version: str = ""
    category: str = Field("other", description="One of tomo.lib.catalog.categories.CATEGORIES.")
    tags: list[str] = Field(default_factory=list)
    icon: str | None = Field(None, description="URL, or a path relative to the catalog root.")
    website: str | None = None
    source_url: str | None = None
    author: str | None = None
    architectures: list[str] = Field(default_factory=list, description="Docker platforms; empty: any.")
    main_service: str
    main_port: int | None = Field(None, ge=1, le=65535, description="Container port of the web UI.")
    default_port: int | None = Field(None, ge=1, le=65535, description="Default host port (${APP_PORT}).")
    url_path: str = Field("/", description="Path of the web UI, e.g. /admin.")
    scheme: Literal["http", "https"] = "http"
    notes: str | None = Field(None, description="What to know before installing.")
    deprecated: bool = False
    featured: bool = False
    format: CatalogFormat
    source_path: str = Field(description="Folder of the app inside the catalog, relative to its root.")
    services: list[AppService] = Field(min_length=1)
    inputs: list[AppInput] = Field(default_factory=list)
    image_overrides: dict[str, dict[str, str]] = Field(
        default_factory=dict, description="Per architecture, images replacing a service's default image."
    )
    compose: dict[str, Any] = Field(description="The full compose document, variables mapped to Tomo's.")

    @model_validator(mode="after")
    def _check_references(self) -> Self:
        """The main service exists and no two inputs fill the same variable."""
        names = {service.name for service in self.services}
        if self.main_service not in names:
            raise ValueError(f"main service '{self.main_service}' is not one of {sorted(names)}")
        seen: set[str] = set()
        for item in self.inputs:
            if item.env_name in seen:
                raise ValueError(f"two inputs fill the variable {item.env_name}")
            seen.add(item.env_name)
        return self


class SkippedApp(TomoModel):
    """A catalog entry that was not imported, and why."""

    path: str = Field(description="Path relative to the catalog root.")
    reason: str


class ImportResult(TomoModel):
    """The apps read from one catalog tree, and the entries skipped with their reasons."""

    format: CatalogFormat
    apps: list[CatalogApp] = Field(default_factory=list)
    skipped: list[SkippedApp] = Field(default_factory=list)


class MarketplaceRepo(TomoModel):
    """A catalog repository as clients see it (credentials in the URL masked)."""

    model_config = ConfigDict(defer_build=True)

    id: str
    name: str
    url: str
    branch: str | None
    format: str
    enabled: bool
    builtin: bool
    status: str = Field(description="new, syncing, ok, error, or interrupted (the last sync did not finish)")
    last_synced: datetime | None
    last_error: str | None
    app_count: int
    commit: str | None


class MarketplaceAppSummary(TomoModel):
    """The compact view of a marketplace app for lists (no compose file)."""

    model_config = ConfigDict(defer_build=True)

    id: str = Field(description="Public id, '<repo name>/<app id>'.")
    app_id: str
    name: str
    title: str
    tagline: str
    category: str
    tags: list[str]
    version: str
    icon: str | None
    featured: bool
    deprecated: bool
    repo_id: str
    repo_name: str
    avg_rating: float | None
    rating_count: int


@dataclass(frozen=True)
class SearchFilters:
    """What narrows a search besides the words: all given filters must hold."""

    category: str | None = None
    tags: Sequence[str] = field(default_factory=tuple)
    repo_id: str | None = None
    featured: bool | None = None
