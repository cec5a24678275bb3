"""CasaOS catalogs: ``Apps/<Name>/docker-compose.yml`` with ``x-casaos`` blocks.

Mapping to Tomo:

* app metadata from the top-level ``x-casaos`` (localised texts: en_us/en_US, then en_GB, then the first);
* ``$AppID``/``${AppID}`` -> ``${APP_ID}``, ``$WEBUI_PORT`` -> ``${APP_PORT}``; ``$PUID``, ``$PGID``, ``$TZ``
  keep their names; ``$DefaultUserName``/``$DefaultPassword`` become the inputs DEFAULT_USERNAME and a
  generated DEFAULT_PASSWORD;
* bind sources ``/DATA/AppData/<app>/x`` -> ``${APP_DATA_DIR}/x`` (another folder name under AppData is
  kept below ``${APP_DATA_DIR}``), other ``/DATA/x`` -> ``${SHARED_DIR}/x``;
* the port published as ``port_map`` becomes ``${APP_PORT}`` (default: port_map);
* literal environment values become inputs: random-looking secrets (>= 16 characters, letters and
  digits) become generated secrets replaced everywhere they appear; other secret-named values and
  values described in ``x-casaos.envs`` become inputs whose default is the catalog's value.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Final

from tomo.errors import ValidationError
from tomo.lib.catalog.casaos_env import env_inputs
from tomo.lib.catalog.categories import normalize_category
from tomo.lib.catalog.common import architectures, build_app, slugify, text_or_none, url_or_none
from tomo.lib.catalog.compose import (
    VolumeNotes,
    check_compose,
    complete_inputs,
    describe_services,
    mount_key,
    strip_extensions,
)
from tomo.lib.catalog.files import ManifestReader
from tomo.lib.compose.interpolation import map_strings, referenced_names, rename
from tomo.lib.compose.ports import port_number, read_port, split_outside_braces, with_published
from tomo.models.marketplace import APP_ID_PATTERN, AppInput, CatalogApp, GenerateSpec

MANIFEST_NAME: Final = "docker-compose.yml"

CASAOS_VARIABLES: Final = {
    "AppID": "APP_ID",
    "WEBUI_PORT": "APP_PORT",
    "PUID": "PUID",
    "PGID": "PGID",
    "TZ": "TZ",
    "DefaultUserName": "DEFAULT_USERNAME",
    "DefaultPassword": "DEFAULT_PASSWORD",
}
_PLATFORM_INPUTS: Final = (
    AppInput(key="DEFAULT_USERNAME", label="Default user name", default="admin"),
    AppInput(
        key="DEFAULT_PASSWORD",
        label="Default password",
        type="secret",
        generate=GenerateSpec(length=20, charset="alnum"),
        description="Generated; CasaOS used its own login password here.",
    ),
)
_APP_ID: Final = re.compile(APP_ID_PATTERN)
_LOCALES: Final = ("en_us", "en_gb", "en")


def localized(value: Any) -> str:
    """Pick the English text of a CasaOS locale mapping (en_US, en_GB, en), else the first one."""
    if isinstance(value, dict):
        by_locale = {str(key).lower(): item for key, item in value.items() if isinstance(item, str)}
        for locale in _LOCALES:
            if by_locale.get(locale, "").strip():
                return by_locale[locale].strip()
        return next((item.strip() for item in by_locale.values() if item.strip()), "")
    return value.strip() if isinstance(value, str) else ""


def read_casaos_app(app_dir: Path, reader: ManifestReader) -> CatalogApp:
    """Read ``<app_dir>/docker-compose.yml`` into a :class:`CatalogApp`; raise ValidationError when invalid."""
    where = reader.relative(app_dir / MANIFEST_NAME)
    data = check_compose(reader.load_yaml(app_dir / MANIFEST_NAME), where)
    meta = data.get("x-casaos")
    if not isinstance(meta, dict):
        raise ValidationError(f"{where}: no x-casaos block")
    app_id = slugify(str(data.get("name") or "")) or slugify(app_dir.name)
    if not _APP_ID.match(app_id):
        raise ValidationError(f"{where}: cannot derive an app id from {data.get('name')!r}")
    port_notes, volume_notes, env_notes = _service_notes(data)
    compose = _drop_project_keys(strip_extensions(data, "x-casaos"))
    port_map, _ = port_number(text_or_none(meta.get("port_map")))
    main_service, main_port = _publish_main_port(compose, meta.get("main"), port_map)
    compose = _map_data_paths(compose, {app_id, app_dir.name.lower(), str(data.get("name") or "").lower()})
    compose, inputs = env_inputs(compose, env_notes)
    compose = map_strings(compose, lambda text: rename(text, CASAOS_VARIABLES))
    used = referenced_names(compose)
    inputs = [*inputs, *(item for item in _PLATFORM_INPUTS if item.key in used)]
    return build_app(
        where,
        **_metadata(meta, app_id),
        id=app_id,
        name=app_id,
        main_service=main_service,
        main_port=main_port,
        default_port=port_map,
        format="casaos",
        source_path=reader.relative(app_dir),
        services=describe_services(
            compose,
            main_service=main_service,
            main_port=main_port,
            app_port=port_map,
            port_notes=port_notes,
            volume_notes=volume_notes,
        ),
        inputs=complete_inputs(compose, inputs),
        compose=compose,
    )


def _metadata(meta: dict[str, Any], app_id: str) -> dict[str, Any]:
    """The descriptive fields of the app, from the top-level ``x-casaos`` block."""
    return {
        "title": localized(meta.get("title")) or app_id,
        "tagline": localized(meta.get("tagline")),
        "description": localized(meta.get("description")),
        "version": text_or_none(meta.get("version")) or "",
        "category": normalize_category(text_or_none(meta.get("category"))),
        "tags": _tags(meta.get("category")),
        "icon": url_or_none(meta.get("icon")),
        "website": url_or_none(meta.get("website")),
        "source_url": url_or_none(meta.get("repo")),
        "author": text_or_none(meta.get("developer")) or text_or_none(meta.get("author")),
        "architectures": architectures(meta.get("architectures")),
        "url_path": text_or_none(meta.get("index")) or "/",
        "scheme": "https" if str(meta.get("scheme")).lower() == "https" else "http",
        "notes": _notes(meta) or None,
    }


def _service_notes(
    data: dict[str, Any],
) -> tuple[dict[tuple[str, int], str], VolumeNotes, dict[str, str]]:
    """Port, volume and environment descriptions from each service's ``x-casaos`` block."""
    ports: dict[tuple[str, int], str] = {}
    volumes: dict[tuple[str, str], str] = {}
    envs: dict[str, str] = {}
    for name, service in data["services"].items():
        block = service.get("x-casaos")
        if not isinstance(block, dict):
            continue
        for item in _entries(block.get("ports")):
            port, _ = port_number(item.get("container"))
            if port is not None:
                ports[(name, port)] = localized(item.get("description"))
        for item in _entries(block.get("volumes")):
            volumes[(name, mount_key(str(item.get("container") or "")))] = localized(item.get("description"))
        for item in _entries(block.get("envs")):
            envs.setdefault(str(item.get("container") or ""), localized(item.get("description")))
    return ports, volumes, envs


def _entries(value: Any) -> list[dict[str, Any]]:
    """The mapping items of an x-casaos list (anything else is ignored)."""
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _drop_project_keys(compose: dict[str, Any]) -> dict[str, Any]:
    """Drop ``name`` (the install decides the project name) and the obsolete ``version``."""
    return {key: value for key, value in compose.items() if key not in ("name", "version")}


def _publish_main_port(compose: dict[str, Any], main: Any, port_map: int | None) -> tuple[str, int | None]:
    """Find the port published as ``port_map``, publish it as ``${APP_PORT}``; return (service, container port).

    The service publishing the web UI port is the main service (CasaOS's ``main`` may name a backend
    behind a proxy service). Without a match, ``main`` (or the first service) is kept and the web UI
    port is taken to be ``port_map`` itself (host networking).
    """
    services = compose["services"]
    order = ([main] if main in services else []) + [name for name in services if name != main]
    if port_map is not None:
        for name in order:
            ports = services[name].get("ports")
            for index, entry in enumerate(ports if isinstance(ports, list) else []):
                published = _rewrite_published(entry, port_map)
                if published is not None:
                    ports[index], container = published
                    return name, container
    return order[0], port_map


def _rewrite_published(entry: Any, port_map: int) -> tuple[Any, int] | None:
    """(entry published as ${APP_PORT}, container port) when ``entry`` publishes ``port_map``."""
    written = read_port(entry)
    container, _ = port_number(written.target)
    if container is None or written.published is None or port_number(written.published)[0] != port_map:
        return None
    return with_published(entry, "${APP_PORT}"), container


def _map_data_paths(compose: dict[str, Any], aliases: set[str]) -> dict[str, Any]:
    """Rewrite CasaOS /DATA bind sources to ${APP_DATA_DIR} and ${SHARED_DIR} (see module doc)."""
    names = {alias.lower() for alias in aliases if alias} | {"$appid", "${appid}"}
    for service in compose["services"].values():
        volumes = service.get("volumes")
        if not isinstance(volumes, list):
            continue
        for index, entry in enumerate(volumes):
            if isinstance(entry, dict) and isinstance(entry.get("source"), str):
                volumes[index] = {**entry, "source": _data_path(entry["source"], names)}
            elif isinstance(entry, str):
                parts = split_outside_braces(entry)
                if len(parts) > 1:
                    volumes[index] = ":".join([_data_path(parts[0], names), *parts[1:]])
    return compose


def _data_path(source: str, app_names: set[str]) -> str:
    """Map one host path: /DATA/AppData/<app>/x -> ${APP_DATA_DIR}/x, /DATA/x -> ${SHARED_DIR}/x."""
    if source != "/DATA" and not source.startswith("/DATA/"):
        return source
    parts = [part for part in source.split("/") if part][1:]
    if parts[:1] != ["AppData"]:
        return "/".join(["${SHARED_DIR}", *parts])
    if len(parts) == 1:
        return "${APP_DATA_DIR}"
    head, tail = parts[1], parts[2:]
    base = ["${APP_DATA_DIR}"] if head.lower() in app_names else ["${APP_DATA_DIR}", head]
    return "/".join([*base, *tail])


def _tags(category: Any) -> list[str]:
    """The catalog's own category name as a search tag."""
    name = slugify(text_or_none(category) or "")
    return [name] if name else []


def _notes(meta: dict[str, Any]) -> str:
    """The before-install tips."""
    tips = meta.get("tips")
    return localized(tips.get("before_install")) if isinstance(tips, dict) else ""
