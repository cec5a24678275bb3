"""Tomo's own catalog format: ``apps/<id>/compose.yaml`` with a top-level ``x-tomo`` block.

The Pydantic models below are the format's definition; ``docs/marketplace-format.schema.json`` is
generated from them (:func:`render_json_schema`) and a unit test keeps the two identical. The format
is documented with a full example in ``docs/marketplace-format.md``.
"""

from __future__ import annotations

import json
from pathlib import Path, PurePosixPath
from typing import Annotated, Any, Final, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator
from pydantic import ValidationError as PydanticValidationError

from tomo.errors import ValidationError
from tomo.lib.catalog.categories import Category
from tomo.lib.catalog.common import build_app, describe_errors, url_or_none
from tomo.lib.catalog.compose import check_compose, describe_services, strip_extensions
from tomo.lib.catalog.files import ManifestReader
from tomo.lib.catalog.variables import TOMO_VARIABLES
from tomo.lib.compose.interpolation import referenced_names
from tomo.models.marketplace import APP_ID_PATTERN, AppInput, CatalogApp

MANIFEST_NAME: Final = "compose.yaml"
_COPIED_FIELDS: Final[set[str]] = {
    *("title", "tagline", "description", "version", "category", "tags", "author", "architectures"),
    *("main_port", "url_path", "scheme", "notes", "deprecated", "featured"),
}
SCHEMA_ID: Final = "urn:tomo:schema:marketplace-format:1"

Architecture = Literal["amd64", "arm64", "arm", "386", "ppc64le", "s390x", "riscv64"]
ServiceName = Annotated[str, StringConstraints(pattern=r"^[a-zA-Z0-9][a-zA-Z0-9._-]*$")]


class TomoService(BaseModel):
    """A compose service: any Compose keys, and an image (Tomo does not build images)."""

    model_config = ConfigDict(extra="allow")

    image: str = Field(min_length=1, description="Image with a pinned tag, e.g. 'jellyfin/jellyfin:10.10.7'.")


class TomoManifest(BaseModel):
    """The x-tomo block: what the catalog shows, and what it asks before installing."""

    model_config = ConfigDict(extra="forbid", title="x-tomo")

    schema_version: Literal[1] = 1
    name: str | None = Field(None, pattern=APP_ID_PATTERN, description="Default install name; default: the id.")
    title: str = Field(min_length=1, description="Display name, e.g. 'Home Assistant'.")
    tagline: str = Field("", description="One line shown in lists.")
    description: str = Field("", description="Longer description (Markdown).")
    category: Category
    tags: list[str] = Field(default_factory=list)
    icon: str | None = Field(None, description="https URL, or a file path relative to the app folder.")
    version: str = Field(min_length=1, description="Version of the app (usually the main image tag).")
    website: str | None = None
    source: str | None = Field(None, description="Source code URL.")
    author: str | None = None
    architectures: list[Architecture] = Field(default_factory=list, description="Supported platforms; empty: any.")
    main_service: str | None = Field(None, description="Service serving the web UI; default: the first service.")
    main_port: int | None = Field(None, ge=1, le=65535, description="Container port of the web UI.")
    default_port: int | None = Field(None, ge=1, le=65535, description="Default for ${APP_PORT}; default: main_port.")
    url_path: str = Field("/", description="Path of the web UI.")
    scheme: Literal["http", "https"] = "http"
    notes: str | None = Field(None, description="What to know before installing (Markdown).")
    featured: bool = False
    deprecated: bool = False
    inputs: list[AppInput] = Field(default_factory=list)

    @model_validator(mode="after")
    def _check_inputs(self) -> Self:
        """Inputs fill distinct variables, none of them a Tomo platform variable."""
        seen: set[str] = set()
        for item in self.inputs:
            if item.env_name in TOMO_VARIABLES:
                raise ValueError(f"input {item.key} would fill the Tomo variable {item.env_name}")
            if item.env_name in seen:
                raise ValueError(f"two inputs fill the variable {item.env_name}")
            seen.add(item.env_name)
        return self


class TomoComposeFile(BaseModel):
    """A Tomo catalog app: a Compose file with an x-tomo block."""

    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
        title="Tomo catalog app (apps/<id>/compose.yaml)",
        json_schema_extra={"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": SCHEMA_ID},
    )

    x_tomo: TomoManifest = Field(alias="x-tomo")
    services: dict[ServiceName, TomoService] = Field(min_length=1)

    @model_validator(mode="after")
    def _check_main_service(self) -> Self:
        """The main service, when named, is one of the services."""
        main = self.x_tomo.main_service
        if main is not None and main not in self.services:
            raise ValueError(f"main_service '{main}' is not one of the services")
        return self


def json_schema() -> dict[str, Any]:
    """The JSON Schema of the format, generated from :class:`TomoComposeFile`."""
    return TomoComposeFile.model_json_schema(by_alias=True)


def render_json_schema() -> str:
    """The schema as committed in ``docs/marketplace-format.schema.json``."""
    return json.dumps(json_schema(), indent=2, ensure_ascii=False) + "\n"


def read_tomo_app(app_dir: Path, reader: ManifestReader) -> CatalogApp:
    """Read ``<app_dir>/compose.yaml`` into a :class:`CatalogApp`; raise ValidationError when invalid."""
    where = reader.relative(app_dir / MANIFEST_NAME)
    data = reader.load_yaml(app_dir / MANIFEST_NAME)
    if not isinstance(data, dict) or "x-tomo" not in data:
        raise ValidationError(f"{where}: no x-tomo block")
    try:
        parsed = TomoComposeFile.model_validate(data)
    except PydanticValidationError as exc:
        raise ValidationError(f"{where}: {describe_errors(exc)}") from exc
    meta = parsed.x_tomo
    compose = check_compose(strip_extensions(data, "x-tomo"), where)
    _check_references(compose, meta.inputs, where)
    main_service = meta.main_service or next(iter(compose["services"]))
    default_port = meta.default_port or meta.main_port
    return build_app(
        where,
        **meta.model_dump(include=_COPIED_FIELDS),
        id=app_dir.name,
        name=meta.name or app_dir.name,
        icon=_icon(meta.icon, reader.relative(app_dir)),
        website=url_or_none(meta.website),
        source_url=url_or_none(meta.source),
        main_service=main_service,
        default_port=default_port,
        format="tomo",
        source_path=reader.relative(app_dir),
        services=describe_services(compose, main_service=main_service, main_port=meta.main_port, app_port=default_port),
        inputs=meta.inputs,
        compose=compose,
    )


def _check_references(compose: dict[str, Any], inputs: list[AppInput], where: str) -> None:
    """Refuse variables that are neither Tomo's nor inputs: Tomo's own format must be complete."""
    known = set(TOMO_VARIABLES) | {item.env_name for item in inputs}
    unknown = sorted(referenced_names(compose) - known)
    if unknown:
        raise ValidationError(f"{where}: undeclared variables {', '.join(unknown)}; declare them as inputs")


def _icon(icon: str | None, app_path: str) -> str | None:
    """An icon URL as is; a relative file becomes a path from the catalog root (no '..' allowed)."""
    if not icon:
        return None
    if url_or_none(icon):
        return icon
    relative = PurePosixPath(icon)
    if relative.is_absolute() or ".." in relative.parts:
        return None
    return f"{app_path}/{relative.as_posix()}"
