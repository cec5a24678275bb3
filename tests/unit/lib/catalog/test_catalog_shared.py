"""Import the real CasaOS and Runtipi catalogs and check every app, not a sample.

"Mapped" variables, precisely: after import, every variable referenced anywhere in an app's stored
compose (``$NAME`` or ``${NAME...}``, ``$$`` escapes excluded, keys included) is either one of
``TOMO_VARIABLES`` or the variable of one of the app's inputs; no input is named after a variable
that only the source platform defines; no ``{{...}}`` placeholder is left; CasaOS bind sources no
longer point into ``/DATA``; Runtipi's Traefik labels and ``tipi_main_network`` are gone.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from tomo.lib.catalog import CATEGORIES, TOMO_VARIABLES, detect_format
from tomo.lib.compose.interpolation import iter_strings, referenced_names
from tomo.models.marketplace import CatalogApp, ImportResult

CASAOS_ONLY = {"AppID", "WEBUI_PORT", "DefaultUserName", "DefaultPassword"}
RUNTIPI_ONLY = {"ROOT_FOLDER_HOST", "APP_HOST", "INTERNAL_IP", "APP_LOCAL_DOMAIN", "DNS_IP", "RUNTIPI_APP_ID"}


def _source_dirs(root: Path, folder: str, manifest: str) -> list[Path]:
    return sorted(path.parent for path in (root / folder).glob(f"*/{manifest}"))


def _unmapped(app: CatalogApp) -> set[str]:
    """Variables referenced by the stored compose that are neither Tomo's nor an input's."""
    return referenced_names(app.compose) - set(TOMO_VARIABLES) - {item.env_name for item in app.inputs}


def _runtipi_source_services(app_dir: Path) -> list[str]:
    """The services of the compose file Runtipi itself would use (x-runtipi YAML, else JSON, else YAML)."""
    yaml_path, json_path = app_dir / "docker-compose.yml", app_dir / "docker-compose.json"
    if yaml_path.exists() and "x-runtipi" in yaml_path.read_text():
        return list(yaml.safe_load(yaml_path.read_text())["services"])
    if json_path.exists():
        return [service["name"] for service in json.loads(json_path.read_text())["services"]]
    return list(yaml.safe_load(yaml_path.read_text())["services"])


def _by_path(result: ImportResult) -> dict[str, CatalogApp]:
    return {app.source_path: app for app in result.apps}


def test_casaos_catalog_imports_at_least_98_percent(shared_catalogs: Path, casaos_result: ImportResult) -> None:
    total = len(_source_dirs(shared_catalogs / "casaos", "Apps", "docker-compose.yml"))
    assert total > 50
    assert len(casaos_result.apps) >= 0.98 * total
    assert len(casaos_result.apps) + len(casaos_result.skipped) == total


def test_runtipi_catalog_imports_at_least_98_percent(shared_catalogs: Path, runtipi_result: ImportResult) -> None:
    total = len(_source_dirs(shared_catalogs / "runtipi", "apps", "config.json"))
    assert total > 100
    assert len(runtipi_result.apps) >= 0.98 * total
    assert len(runtipi_result.apps) + len(runtipi_result.skipped) == total


def test_every_skipped_app_has_a_reason(casaos_result: ImportResult, runtipi_result: ImportResult) -> None:
    for skipped in [*casaos_result.skipped, *runtipi_result.skipped]:
        assert skipped.path
        assert len(skipped.reason) > 10


def test_casaos_compose_keeps_exactly_the_source_services(shared_catalogs: Path, casaos_result: ImportResult) -> None:
    apps = _by_path(casaos_result)
    multi = 0
    for app_dir in _source_dirs(shared_catalogs / "casaos", "Apps", "docker-compose.yml"):
        app = apps.get(f"Apps/{app_dir.name}")
        if app is None:
            continue
        source = list(yaml.safe_load((app_dir / "docker-compose.yml").read_text())["services"])
        multi += len(source) > 1
        assert list(app.compose["services"]) == source, app.id
        assert [service.name for service in app.services] == source, app.id
    assert multi >= 10


def test_runtipi_compose_keeps_exactly_the_source_services(shared_catalogs: Path, runtipi_result: ImportResult) -> None:
    apps = _by_path(runtipi_result)
    multi = json_apps = 0
    for app_dir in _source_dirs(shared_catalogs / "runtipi", "apps", "config.json"):
        app = apps.get(f"apps/{app_dir.name}")
        if app is None:
            continue
        source = _runtipi_source_services(app_dir)
        multi += len(source) > 1
        json_apps += (app_dir / "docker-compose.json").exists()
        assert list(app.compose["services"]) == source, app.id
        assert [service.name for service in app.services] == source, app.id
    assert multi >= 30
    assert json_apps >= 100


def test_runtipi_random_fields_become_generated_secrets(shared_catalogs: Path, runtipi_result: ImportResult) -> None:
    apps = _by_path(runtipi_result)
    checked = 0
    for app_dir in _source_dirs(shared_catalogs / "runtipi", "apps", "config.json"):
        app = apps.get(f"apps/{app_dir.name}")
        if app is None:
            continue
        fields = json.loads((app_dir / "config.json").read_text()).get("form_fields", [])
        for field in (item for item in fields if item["type"] == "random"):
            secret = next(item for item in app.inputs if item.env_name == field["env_variable"])
            assert secret.type == "secret"
            assert secret.generate is not None
            assert secret.generate.length == max(field.get("min", 32), 8)
            assert secret.generate.charset == ("base64" if field.get("encoding") == "base64" else "hex")
            checked += 1
    assert checked >= 50


def test_casaos_random_catalog_secrets_become_generated_secrets(casaos_result: ImportResult) -> None:
    docmost = next(app for app in casaos_result.apps if app.id == "docmost")
    secrets = {item.key: item for item in docmost.inputs if item.type == "secret"}
    assert {"APP_SECRET", "POSTGRES_PASSWORD"} <= set(secrets)
    assert all(item.generate is not None for item in secrets.values())
    texts = list(iter_strings(docmost.compose))
    assert not any("jcui51lw747yuuk4zrpm" in text for text in texts)
    database_url = docmost.compose["services"]["docmost"]["environment"]["DATABASE_URL"]
    assert "${POSTGRES_PASSWORD}" in database_url


def test_every_secret_input_has_a_generation_rule(casaos_result: ImportResult, runtipi_result: ImportResult) -> None:
    secrets = [item for app in [*casaos_result.apps, *runtipi_result.apps] for item in app.inputs]
    secrets = [item for item in secrets if item.type == "secret"]
    assert len(secrets) >= 60
    assert all(item.generate is not None and item.generate.length >= 8 for item in secrets)


@pytest.mark.parametrize(
    ("fixture", "platform_only"), [("casaos_result", CASAOS_ONLY), ("runtipi_result", RUNTIPI_ONLY)]
)
def test_platform_variables_are_mapped(fixture: str, platform_only: set[str], request: pytest.FixtureRequest) -> None:
    result: ImportResult = request.getfixturevalue(fixture)
    for app in result.apps:
        assert not _unmapped(app), (app.id, _unmapped(app))
        assert not {item.env_name for item in app.inputs} & platform_only, app.id
        assert not {item.env_name for item in app.inputs} & set(TOMO_VARIABLES), app.id
        assert not any(re.search(r"\{\{\s*\w+\s*\}\}", text) for text in iter_strings(app.compose)), app.id


def test_casaos_sources_used_platform_variables(shared_catalogs: Path) -> None:
    sources = (shared_catalogs / "casaos" / "Apps").glob("*/docker-compose.yml")
    assert sum("$AppID" in path.read_text() for path in sources) >= 50


def test_casaos_data_paths_are_mapped(casaos_result: ImportResult) -> None:
    app_data_mounts = 0
    for app in casaos_result.apps:
        for volume in (volume for service in app.services for volume in service.volumes):
            assert not volume.source.startswith("/DATA"), (app.id, volume.source)
            app_data_mounts += volume.source.startswith("${APP_DATA_DIR}")
    assert app_data_mounts >= 80
    jellyfin = next(app for app in casaos_result.apps if app.id == "jellyfin")
    sources = {volume.source for volume in jellyfin.services[0].volumes}
    assert {"${APP_DATA_DIR}/config", "${SHARED_DIR}/Media"} <= sources


def test_casaos_main_port_is_published_as_app_port(casaos_result: ImportResult) -> None:
    jellyfin = next(app for app in casaos_result.apps if app.id == "jellyfin")
    main = [port for port in jellyfin.services[0].ports if port.is_main]
    assert [(port.container_port, port.host_port) for port in main] == [(8096, 8097)]
    published = [entry["published"] for entry in jellyfin.compose["services"]["jellyfin"]["ports"]]
    assert published[0] == "${APP_PORT}"
    assert "x-casaos" not in jellyfin.compose


def test_runtipi_platform_wiring_is_removed(runtipi_result: ImportResult) -> None:
    for app in runtipi_result.apps:
        texts = list(iter_strings(app.compose))
        assert not any("tipi_main_network" in text or text.startswith("traefik.") for text in texts), app.id


def test_runtipi_main_service_publishes_app_port(runtipi_result: ImportResult) -> None:
    with_ui = [app for app in runtipi_result.apps if app.main_port is not None]
    assert len(with_ui) >= 100
    for app in with_ui:
        ports = app.compose["services"][app.main_service].get("ports", [])
        network = app.compose["services"][app.main_service].get("network_mode")
        assert network == "host" or any("${APP_PORT}" in str(entry) for entry in ports), app.id


def test_imported_categories_are_tomo_categories(casaos_result: ImportResult, runtipi_result: ImportResult) -> None:
    apps = [*casaos_result.apps, *runtipi_result.apps]
    assert all(app.category in CATEGORIES for app in apps)
    assert len({app.category for app in apps}) >= 10


def test_detect_format_recognises_the_shared_catalogs(shared_catalogs: Path) -> None:
    assert detect_format(shared_catalogs / "casaos") == "casaos"
    assert detect_format(shared_catalogs / "runtipi") == "runtipi"


def test_imported_apps_round_trip_through_json(casaos_result: ImportResult, runtipi_result: ImportResult) -> None:
    for app in [*casaos_result.apps, *runtipi_result.apps]:
        data: dict[str, Any] = json.loads(app.model_dump_json())
        assert CatalogApp.model_validate(data) == app
