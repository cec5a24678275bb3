"""Tomo's own catalog format: the committed JSON Schema, the built-in catalog, validation reasons."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from tomo.lib.catalog import TOMO_VARIABLES, builtin_catalog_path, detect_format, import_catalog
from tomo.lib.catalog.tomo_format import TomoComposeFile, render_json_schema
from tomo.lib.compose.interpolation import referenced_names
from tomo.models.marketplace import ImportResult

REPO_ROOT = Path(__file__).resolve().parents[4]
DOCS = REPO_ROOT / "docs"


@pytest.fixture(scope="module")
def builtin() -> ImportResult:
    return import_catalog(builtin_catalog_path())


def _write_app(root: Path, app_id: str, text: str) -> None:
    app_dir = root / "apps" / app_id
    app_dir.mkdir(parents=True)
    (app_dir / "compose.yaml").write_text(text)


def _reasons(result: ImportResult) -> dict[str, str]:
    return {skipped.path: skipped.reason for skipped in result.skipped}


MINIMAL = """
x-tomo:
  title: Whoami
  category: utilities
  version: "1.10"
  main_port: 80
services:
  web:
    image: traefik/whoami:v1.10
    ports: ["${APP_PORT}:80"]
"""


def test_committed_schema_equals_the_generated_one() -> None:
    assert (DOCS / "marketplace-format.schema.json").read_text() == render_json_schema()


def test_documented_example_is_valid() -> None:
    text = (DOCS / "marketplace-format.md").read_text()
    blocks = re.findall(r"```yaml\n(.*?)```", text, re.DOTALL)
    examples = [yaml.safe_load(block) for block in blocks if "x-tomo:" in block]
    assert examples
    for example in examples:
        TomoComposeFile.model_validate(example)


def test_builtin_catalog_imports_with_zero_skips(builtin: ImportResult) -> None:
    assert builtin.format == "tomo"
    assert builtin.skipped == []
    assert len(builtin.apps) >= 15


def test_builtin_catalog_features_about_five_apps(builtin: ImportResult) -> None:
    featured = [app.id for app in builtin.apps if app.featured]
    assert 4 <= len(featured) <= 6


def test_builtin_apps_pin_image_tags(builtin: ImportResult) -> None:
    for service in (service for app in builtin.apps for service in app.services):
        assert ":" in service.image.rsplit("/", 1)[-1], service.image
        assert not service.image.endswith(":latest"), service.image


def test_builtin_apps_reference_only_tomo_variables_and_inputs(builtin: ImportResult) -> None:
    for app in builtin.apps:
        known = set(TOMO_VARIABLES) | {item.env_name for item in app.inputs}
        assert referenced_names(app.compose) <= known, app.id
        assert "x-tomo" not in app.compose


def test_builtin_catalog_has_multi_service_apps_with_generated_secrets(builtin: ImportResult) -> None:
    apps = {app.id: app for app in builtin.apps}
    for app_id in ("nextcloud", "immich", "paperless-ngx"):
        assert len(apps[app_id].services) >= 3, app_id
        assert any(item.type == "secret" and item.generate for item in apps[app_id].inputs), app_id


def test_builtin_main_port_is_marked(builtin: ImportResult) -> None:
    for app in builtin.apps:
        main = app.compose["services"][app.main_service]
        if main.get("network_mode") == "host":
            continue
        assert any(port.is_main for service in app.services for port in service.ports), app.id


def test_detect_format_recognises_the_builtin_catalog() -> None:
    assert detect_format(builtin_catalog_path()) == "tomo"


def test_minimal_app_imports(tmp_path: Path) -> None:
    _write_app(tmp_path, "whoami", MINIMAL)
    result = import_catalog(tmp_path)
    app = result.apps[0]
    assert (app.id, app.name, app.main_service, app.main_port, app.default_port) == ("whoami", "whoami", "web", 80, 80)
    assert app.services[0].ports[0].is_main


def test_undeclared_variable_is_refused(tmp_path: Path) -> None:
    _write_app(tmp_path, "leaky", MINIMAL.replace("ports:", "environment: {KEY: $MYSTERY}\n    ports:"))
    result = import_catalog(tmp_path, "tomo")
    assert "undeclared variables MYSTERY" in _reasons(result)["apps/leaky"]


def test_unknown_x_tomo_field_is_refused(tmp_path: Path) -> None:
    _write_app(tmp_path, "typo", MINIMAL.replace("title:", "titel: x\n  title:"))
    result = import_catalog(tmp_path, "tomo")
    assert "x-tomo.titel: Extra inputs are not permitted" in _reasons(result)["apps/typo"]


def test_unknown_category_is_refused(tmp_path: Path) -> None:
    _write_app(tmp_path, "odd", MINIMAL.replace("category: utilities", "category: quantum"))
    result = import_catalog(tmp_path, "tomo")
    assert "x-tomo.category" in _reasons(result)["apps/odd"]


def test_input_filling_a_tomo_variable_is_refused(tmp_path: Path) -> None:
    text = MINIMAL.replace("  main_port: 80", "  main_port: 80\n  inputs: [{key: APP_PORT, label: Port}]")
    _write_app(tmp_path, "clash", text)
    result = import_catalog(tmp_path, "tomo")
    assert "would fill the Tomo variable APP_PORT" in _reasons(result)["apps/clash"]


def test_select_input_needs_options(tmp_path: Path) -> None:
    text = MINIMAL.replace("  main_port: 80", "  main_port: 80\n  inputs: [{key: MODE, label: Mode, type: select}]")
    _write_app(tmp_path, "choice", text)
    result = import_catalog(tmp_path, "tomo")
    assert "a select input needs options" in _reasons(result)["apps/choice"]


def test_invalid_app_folder_name_is_refused(tmp_path: Path) -> None:
    _write_app(tmp_path, "Bad_Name", MINIMAL)
    result = import_catalog(tmp_path, "tomo")
    assert "id: String should match pattern" in _reasons(result)["apps/Bad_Name"]


def test_relative_icon_becomes_a_catalog_path(tmp_path: Path) -> None:
    _write_app(tmp_path, "whoami", MINIMAL.replace("  main_port: 80", "  main_port: 80\n  icon: logo.svg"))
    assert import_catalog(tmp_path).apps[0].icon == "apps/whoami/logo.svg"
