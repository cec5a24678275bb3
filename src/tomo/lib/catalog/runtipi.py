"""Runtipi catalogs: ``apps/<id>/config.json`` plus a compose file (see :mod:`runtipi_compose`).

Mapping to Tomo:

* ``config.json``: name -> title, short_desc -> tagline, description (``metadata/description.md`` when
  present) -> description, port -> default ``${APP_PORT}``, categories -> category and tags (the
  pseudo-category ``featured`` sets ``featured``), form_fields -> typed inputs (``random`` -> generated
  secret of ``min`` characters, hex or base64);
* variables: ``APP_DATA_DIR``, ``APP_PORT``, ``APP_DOMAIN``, ``APP_PROTOCOL``, ``APP_ID``, ``TZ``,
  ``LOCAL_DOMAIN`` keep their names; ``ROOT_FOLDER_HOST`` -> ``SHARED_DIR``; ``APP_HOST`` and
  ``INTERNAL_IP`` -> ``SERVER_HOST``; ``APP_LOCAL_DOMAIN`` -> ``APP_DOMAIN``; ``DNS_IP`` -> ``DNS_SERVER``;
  ``{{RUNTIPI_APP_ID}}``-style placeholders -> ``${APP_ID}``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Final

from pydantic import ValidationError as PydanticValidationError

from tomo.errors import ValidationError
from tomo.lib.catalog.categories import normalize_categories
from tomo.lib.catalog.common import (
    architectures,
    build_app,
    describe_errors,
    slugify,
    text_or_none,
    url_or_none,
)
from tomo.lib.catalog.compose import complete_inputs, describe_services
from tomo.lib.catalog.files import ManifestReader
from tomo.lib.catalog.runtipi_compose import (
    RuntipiCompose,
    from_dynamic_json,
    from_legacy_yaml,
    from_x_runtipi_yaml,
)
from tomo.lib.catalog.runtipi_fields import form_field_input
from tomo.lib.catalog.variables import TOMO_VARIABLES
from tomo.lib.compose.interpolation import map_strings, rename
from tomo.models.marketplace import APP_ID_PATTERN, AppInput, CatalogApp

CONFIG_NAME: Final = "config.json"
RUNTIPI_VARIABLES: Final = {
    "APP_ID": "APP_ID",
    "APP_DATA_DIR": "APP_DATA_DIR",
    "APP_PORT": "APP_PORT",
    "APP_DOMAIN": "APP_DOMAIN",
    "APP_PROTOCOL": "APP_PROTOCOL",
    "APP_HOST": "SERVER_HOST",
    "INTERNAL_IP": "SERVER_HOST",
    "APP_LOCAL_DOMAIN": "APP_DOMAIN",
    "LOCAL_DOMAIN": "LOCAL_DOMAIN",
    "ROOT_FOLDER_HOST": "SHARED_DIR",
    "DNS_IP": "DNS_SERVER",
    "TZ": "TZ",
}
_MUSTACHE: Final = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
_APP_ID: Final = re.compile(APP_ID_PATTERN)


def map_runtipi_variables(text: str) -> str:
    """Rename Runtipi variables to Tomo's; ``{{RUNTIPI_X}}`` placeholders become ``${X}`` references."""
    if "{{" in text:
        text = _MUSTACHE.sub(lambda match: "${" + match.group(1).removeprefix("RUNTIPI_") + "}", text)
    return rename(text, RUNTIPI_VARIABLES)


def read_runtipi_app(app_dir: Path, reader: ManifestReader) -> CatalogApp:
    """Read ``<app_dir>/config.json`` and its compose file into a :class:`CatalogApp`."""
    where = reader.relative(app_dir / CONFIG_NAME)
    config = reader.load_json(app_dir / CONFIG_NAME)
    if not isinstance(config, dict):
        raise ValidationError(f"{where}: expected a JSON object")
    if config.get("available") is False:
        raise ValidationError(f"{where}: the catalog marks this app as unavailable")
    app_id = slugify(text_or_none(config.get("id")) or app_dir.name)
    if not _APP_ID.match(app_id):
        raise ValidationError(f"{where}: cannot derive an app id from {config.get('id')!r}")
    source = _load_compose(app_dir, reader)
    compose = map_strings(source.compose, map_runtipi_variables)
    inputs = complete_inputs(compose, _inputs(config.get("form_fields"), where))
    main_port = None if config.get("no_gui") else source.internal_port
    default_port = config.get("port") if isinstance(config.get("port"), int) else None
    return build_app(
        where,
        **_metadata(config, app_id),
        id=app_id,
        name=app_id,
        description=_description(app_dir, reader, config),
        icon=_icon(app_dir, reader),
        main_service=source.main_service,
        main_port=main_port,
        default_port=default_port,
        format="runtipi",
        source_path=reader.relative(app_dir),
        services=describe_services(
            compose, main_service=source.main_service, main_port=main_port, app_port=default_port
        ),
        inputs=inputs,
        image_overrides=source.image_overrides,
        compose=compose,
    )


def _metadata(config: dict[str, Any], app_id: str) -> dict[str, Any]:
    """The descriptive fields of the app, from ``config.json``."""
    categories = [item.lower() for item in config.get("categories") or [] if isinstance(item, str)]
    kept = [item for item in categories if item != "featured"]
    return {
        "title": text_or_none(config.get("name")) or app_id,
        "tagline": text_or_none(config.get("short_desc")) or "",
        "version": text_or_none(config.get("version")) or "",
        "category": normalize_categories(kept)[0],
        "tags": kept,
        "featured": "featured" in categories,
        "website": url_or_none(config.get("website")),
        "source_url": url_or_none(config.get("source")),
        "author": text_or_none(config.get("author")),
        "architectures": architectures(config.get("supported_architectures")),
        "url_path": text_or_none(config.get("url_suffix")) or "/",
        "scheme": "https" if config.get("https") is True else "http",
        "deprecated": config.get("deprecated") is True,
    }


def _load_compose(app_dir: Path, reader: ManifestReader) -> RuntipiCompose:
    """Pick the compose file: YAML with x-runtipi, else the dynamic JSON, else legacy YAML."""
    yaml_path, json_path = app_dir / "docker-compose.yml", app_dir / "docker-compose.json"
    yaml_text = reader.read_text(yaml_path) if reader.exists(yaml_path) else None
    if yaml_text is not None and "x-runtipi" in yaml_text:
        return from_x_runtipi_yaml(reader.parse_yaml(yaml_text, yaml_path), reader.relative(yaml_path))
    if reader.exists(json_path):
        return from_dynamic_json(reader.load_json(json_path), reader.relative(json_path))
    if yaml_text is not None:
        return from_legacy_yaml(reader.parse_yaml(yaml_text, yaml_path), reader.relative(yaml_path))
    raise ValidationError(f"{reader.relative(app_dir)}: no docker-compose.json or docker-compose.yml")


def _inputs(fields: Any, where: str) -> list[AppInput]:
    """The form fields as typed inputs; a field filling a Tomo variable is refused."""
    result: list[AppInput] = []
    for index, field in enumerate(fields if isinstance(fields, list) else []):
        try:
            item = form_field_input(field)
        except PydanticValidationError as exc:
            raise ValidationError(f"{where}: form_fields.{index}: {describe_errors(exc)}") from exc
        except ValidationError as exc:
            raise ValidationError(f"{where}: form_fields.{index}: {exc.message}") from exc
        if item.env_name in TOMO_VARIABLES:
            raise ValidationError(f"{where}: form field {item.key} would fill the Tomo variable {item.env_name}")
        if all(existing.env_name != item.env_name for existing in result):
            result.append(item)
    return result


def _description(app_dir: Path, reader: ManifestReader, config: dict[str, Any]) -> str:
    """``metadata/description.md`` when present, else the config's description."""
    path = app_dir / "metadata" / "description.md"
    if reader.exists(path):
        return reader.read_text(path).strip()
    return text_or_none(config.get("description")) or ""


def _icon(app_dir: Path, reader: ManifestReader) -> str | None:
    """``metadata/logo.jpg`` (relative to the catalog root) when the catalog has it."""
    path = app_dir / "metadata" / "logo.jpg"
    if not reader.exists(path):
        return None
    reader.resolve_inside(path)
    return reader.relative(path)
