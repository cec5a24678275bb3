"""CasaOS and Runtipi specifics, on small catalogs built in tmp_path."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from tomo.lib.catalog import import_catalog
from tomo.lib.catalog.casaos import localized
from tomo.lib.catalog.runtipi_fields import form_field_input
from tomo.models.marketplace import CatalogApp

CASAOS_APP: dict[str, Any] = {
    "name": "demo",
    "services": {
        "web": {
            "image": "demo/web:1.0",
            "ports": [{"target": 80, "published": "8123", "protocol": "tcp"}, "2222:22"],
            "volumes": [
                {"type": "bind", "source": "/DATA/AppData/$AppID/config", "target": "/config"},
                "/DATA/AppData/demo-db:/dump",
                "/DATA/Media/Movies:/movies",
            ],
            "environment": {
                "PUID": "$PUID",
                "SECRET_KEY": "a7523c3d0ae56415046ad8abae168d71",
                "DATABASE_URL": "postgres://demo:a7523c3d0ae56415046ad8abae168d71@db/demo",
                "ADMIN_PASSWORD": "casaos",
                "SITE_NAME": "Demo",
                "UNDESCRIBED": "stays",
            },
            "x-casaos": {
                "envs": [{"container": "SITE_NAME", "description": {"en_US": "Name of the site"}}],
                "ports": [{"container": "80", "description": {"zh_CN": "网页", "en_US": "Web UI"}}],
            },
        },
        "db": {"image": "postgres:16", "environment": ["POSTGRES_PASSWORD=casaos"]},
    },
    "x-casaos": {
        "main": "web",
        "port_map": "8123",
        "index": "/admin",
        "category": "Developer",
        "title": {"zh_CN": "演示", "en_GB": "Demo GB", "en_US": "Demo"},
        "tagline": {"de_DE": "Nur Deutsch"},
        "architectures": ["amd64", "aarch64"],
        "icon": "https://example.com/icon.svg",
    },
}


def _casaos(tmp_path: Path, data: dict[str, Any]) -> CatalogApp:
    app_dir = tmp_path / "Apps" / "Demo"
    app_dir.mkdir(parents=True)
    (app_dir / "docker-compose.yml").write_text(yaml.safe_dump(data, sort_keys=False))
    result = import_catalog(tmp_path, "casaos")
    assert result.skipped == []
    return result.apps[0]


def _runtipi(tmp_path: Path, config: dict[str, Any], files: dict[str, str]) -> CatalogApp:
    app_dir = tmp_path / "apps" / config["id"]
    app_dir.mkdir(parents=True)
    (app_dir / "config.json").write_text(json.dumps(config))
    for name, text in files.items():
        (app_dir / name).write_text(text)
    result = import_catalog(tmp_path, "runtipi")
    assert result.skipped == []
    return result.apps[0]


def test_casaos_metadata_picks_english_texts(tmp_path: Path) -> None:
    app = _casaos(tmp_path, CASAOS_APP)
    assert (app.id, app.title, app.tagline, app.category) == ("demo", "Demo", "Nur Deutsch", "development")
    assert (app.url_path, app.architectures) == ("/admin", ["amd64", "arm64"])
    assert localized({"fr_FR": "Bonjour", "en_gb": "Hello"}) == "Hello"


def test_casaos_paths_are_mapped_below_app_data_and_shared_dirs(tmp_path: Path) -> None:
    volumes = _casaos(tmp_path, CASAOS_APP).compose["services"]["web"]["volumes"]
    assert volumes[0]["source"] == "${APP_DATA_DIR}/config"
    assert volumes[1:] == ["${APP_DATA_DIR}/demo-db:/dump", "${SHARED_DIR}/Media/Movies:/movies"]


def test_casaos_port_map_becomes_app_port(tmp_path: Path) -> None:
    app = _casaos(tmp_path, CASAOS_APP)
    assert app.compose["services"]["web"]["ports"][0]["published"] == "${APP_PORT}"
    main = [port for port in app.services[0].ports if port.is_main]
    assert [(port.container_port, port.host_port, port.description) for port in main] == [(80, 8123, "Web UI")]
    assert (app.main_port, app.default_port) == (80, 8123)


def test_casaos_random_secret_is_generated_and_replaced_everywhere(tmp_path: Path) -> None:
    app = _casaos(tmp_path, CASAOS_APP)
    environment = app.compose["services"]["web"]["environment"]
    assert environment["SECRET_KEY"] == "${SECRET_KEY}"
    assert environment["DATABASE_URL"] == "postgres://demo:${SECRET_KEY}@db/demo"
    secret = next(item for item in app.inputs if item.key == "SECRET_KEY")
    assert secret.type == "secret" and secret.generate is not None and secret.generate.charset == "hex"


def test_casaos_equal_plain_passwords_share_one_input(tmp_path: Path) -> None:
    app = _casaos(tmp_path, CASAOS_APP)
    assert app.compose["services"]["web"]["environment"]["ADMIN_PASSWORD"] == "${ADMIN_PASSWORD}"
    assert app.compose["services"]["db"]["environment"] == ["POSTGRES_PASSWORD=${ADMIN_PASSWORD}"]
    password = next(item for item in app.inputs if item.key == "ADMIN_PASSWORD")
    assert (password.type, password.default) == ("password", "casaos")


def test_casaos_described_values_become_inputs_and_others_stay(tmp_path: Path) -> None:
    app = _casaos(tmp_path, CASAOS_APP)
    environment = app.compose["services"]["web"]["environment"]
    site = next(item for item in app.inputs if item.key == "SITE_NAME")
    assert (environment["SITE_NAME"], site.default, site.description) == ("${SITE_NAME}", "Demo", "Name of the site")
    assert environment["UNDESCRIBED"] == "stays"
    assert environment["PUID"] == "${PUID}"


def test_casaos_default_password_becomes_a_generated_input(tmp_path: Path) -> None:
    data = json.loads(json.dumps(CASAOS_APP))
    data["services"]["web"]["environment"] = {"USER": "$DefaultUserName", "PASS": "${DefaultPassword}"}
    app = _casaos(tmp_path, data)
    assert app.compose["services"]["web"]["environment"] == {
        "USER": "${DEFAULT_USERNAME}",
        "PASS": "${DEFAULT_PASSWORD}",
    }
    kinds = {item.key: item.type for item in app.inputs}
    assert {"DEFAULT_USERNAME": "text", "DEFAULT_PASSWORD": "secret"}.items() <= kinds.items()


CONFIG: dict[str, Any] = {
    "id": "demo",
    "name": "Demo",
    "available": True,
    "port": 8765,
    "short_desc": "A demo",
    "categories": ["network", "featured"],
    "supported_architectures": ["amd64"],
    "form_fields": [
        {"type": "random", "label": "Key", "env_variable": "DEMO_KEY", "min": 48, "encoding": "base64"},
        {"type": "fqdn", "label": "Domain", "env_variable": "DEMO_DOMAIN", "required": True},
        {"type": "text", "label": "Mode", "env_variable": "DEMO_MODE", "options": [{"label": "A", "value": "a"}]},
        {"type": "number", "label": "Workers", "env_variable": "DEMO_WORKERS", "min": 1, "max": 8, "default": "2"},
        {"type": "password", "label": "Pass", "env_variable": "DEMO_PASS", "min": 8, "max": 64},
        {"type": "boolean", "label": "Debug", "env_variable": "DEMO_DEBUG", "default": "false"},
    ],
}
DYNAMIC: dict[str, Any] = {
    "services": [
        {
            "name": "web",
            "image": "demo/web:1.0",
            "isMain": True,
            "internalPort": 3000,
            "addPorts": [{"hostPort": 5353, "containerPort": 53, "udp": True}],
            "environment": [{"key": "URL", "value": "${APP_PROTOCOL:-http}://${APP_DOMAIN}"}],
            "volumes": [
                {"hostPath": "${APP_DATA_DIR}/data", "containerPath": "/data"},
                {"hostPath": "${ROOT_FOLDER_HOST}/media", "containerPath": "/media", "readOnly": True},
            ],
            "extraLabels": {"traefik.enable": True, "com.example.keep": "yes"},
            "healthCheck": {"test": "curl -f localhost", "startPeriod": "10s"},
            "stopGracePeriod": "1m",
            "dependsOn": ["db"],
        },
        {"name": "db", "image": "postgres:16", "environment": {"POSTGRES_PASSWORD": "${DEMO_KEY}"}},
    ],
    "overrides": [{"architecture": "arm64", "services": [{"name": "web", "image": "demo/web:1.0-arm"}]}],
}


def test_runtipi_dynamic_json_becomes_standard_compose(tmp_path: Path) -> None:
    app = _runtipi(tmp_path, CONFIG, {"docker-compose.json": json.dumps(DYNAMIC)})
    web = app.compose["services"]["web"]
    assert web["ports"] == ["${APP_PORT}:3000", "5353:53/udp"]
    assert web["environment"] == {"URL": "${APP_PROTOCOL:-http}://${APP_DOMAIN}"}
    assert web["volumes"][1] == {"type": "bind", "source": "${SHARED_DIR}/media", "target": "/media", "read_only": True}
    assert web["labels"] == {"com.example.keep": "yes"}
    assert web["healthcheck"] == {"test": "curl -f localhost", "start_period": "10s"}
    assert (web["stop_grace_period"], web["depends_on"], web["restart"]) == ("1m", ["db"], "unless-stopped")
    assert app.image_overrides == {"arm64": {"web": "demo/web:1.0-arm"}}


def test_runtipi_metadata(tmp_path: Path) -> None:
    app = _runtipi(tmp_path, CONFIG, {"docker-compose.json": json.dumps(DYNAMIC)})
    assert (app.title, app.tagline, app.category, app.tags, app.featured) == (
        "Demo",
        "A demo",
        "networking",
        ["network"],
        True,
    )
    assert (app.main_service, app.main_port, app.default_port) == ("web", 3000, 8765)


def test_runtipi_form_fields_become_typed_inputs(tmp_path: Path) -> None:
    app = _runtipi(tmp_path, CONFIG, {"docker-compose.json": json.dumps(DYNAMIC)})
    inputs = {item.key: item for item in app.inputs}
    key = inputs["DEMO_KEY"]
    assert key.type == "secret" and key.generate is not None
    assert (key.generate.length, key.generate.charset) == (48, "base64")
    assert inputs["DEMO_DOMAIN"].type == "text" and inputs["DEMO_DOMAIN"].regex
    assert inputs["DEMO_MODE"].type == "select" and [o.value for o in inputs["DEMO_MODE"].options] == ["a"]
    workers = inputs["DEMO_WORKERS"]
    assert (workers.type, workers.min, workers.max, workers.default) == ("number", 1, 8, 2)
    assert (inputs["DEMO_PASS"].min_length, inputs["DEMO_PASS"].max_length) == (8, 64)
    assert inputs["DEMO_DEBUG"].default is False


def test_runtipi_x_runtipi_yaml_publishes_the_internal_port(tmp_path: Path) -> None:
    text = yaml.safe_dump(
        {
            "services": {
                "web": {"image": "demo/web:1.0", "x-runtipi": {"is_main": True, "internal_port": 8080}},
                "cache": {"image": "redis:7"},
            },
            "x-runtipi": {"schema_version": 2},
        }
    )
    app = _runtipi(tmp_path, CONFIG, {"docker-compose.yml": text})
    assert app.compose["services"]["web"] == {"image": "demo/web:1.0", "ports": ["${APP_PORT}:8080"]}
    assert "x-runtipi" not in app.compose
    assert app.main_port == 8080


def test_runtipi_legacy_yaml_drops_traefik_wiring(tmp_path: Path) -> None:
    text = yaml.safe_dump(
        {
            "version": "3.7",
            "services": {
                "web": {
                    "image": "demo/web:1.0",
                    "ports": ["${APP_PORT}:8080"],
                    "networks": ["tipi_main_network", "demo"],
                    "labels": {"traefik.enable": True, "runtipi.managed": True},
                },
                "db": {"image": "postgres:16", "networks": ["demo"]},
            },
            "networks": {"tipi_main_network": {"external": True}, "demo": {}},
        }
    )
    app = _runtipi(tmp_path, CONFIG, {"docker-compose.yml": text})
    web = app.compose["services"]["web"]
    assert web == {"image": "demo/web:1.0", "ports": ["${APP_PORT}:8080"], "networks": ["demo", "default"]}
    assert app.compose["networks"] == {"demo": {}}
    assert (app.main_service, app.main_port) == ("web", 8080)


def test_runtipi_unavailable_app_is_skipped(tmp_path: Path) -> None:
    app_dir = tmp_path / "apps" / "gone"
    app_dir.mkdir(parents=True)
    (app_dir / "config.json").write_text(json.dumps({**CONFIG, "id": "gone", "available": False}))
    (app_dir / "docker-compose.json").write_text(json.dumps(DYNAMIC))
    result = import_catalog(tmp_path, "runtipi")
    assert result.skipped[0].reason == "apps/gone/config.json: the catalog marks this app as unavailable"


def test_runtipi_mustache_placeholders_become_app_id(tmp_path: Path) -> None:
    dynamic = json.loads(json.dumps(DYNAMIC))
    dynamic["services"][0]["environment"] = [{"key": "NAME", "value": "{{RUNTIPI_APP_ID}}-x"}]
    app = _runtipi(tmp_path, CONFIG, {"docker-compose.json": json.dumps(dynamic)})
    assert app.compose["services"]["web"]["environment"] == {"NAME": "${APP_ID}-x"}


def test_form_field_random_without_min_is_32_hex() -> None:
    secret = form_field_input({"type": "random", "label": "K", "env_variable": "K"})
    assert secret.generate is not None and (secret.generate.length, secret.generate.charset) == (32, "hex")


def test_casaos_plain_password_reused_in_a_url_stays_literal(tmp_path: Path) -> None:
    data = json.loads(json.dumps(CASAOS_APP))
    data["services"]["db"]["environment"] = ["POSTGRES_PASSWORD=casaos", "URL=postgres://u:casaos@db/x"]
    app = _casaos(tmp_path, data)
    assert app.compose["services"]["web"]["environment"]["ADMIN_PASSWORD"] == "casaos"
    assert "ADMIN_PASSWORD" not in {item.key for item in app.inputs}
