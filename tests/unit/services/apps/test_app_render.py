"""Rendering an app's files: ports, images, Tomo's variables, .env quoting and masked display."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from tests.appkit import FIXTURE_CATALOG

from tomo.lib.catalog import import_catalog
from tomo.models.marketplace import CatalogApp
from tomo.services.apps.render import (
    ProjectPaths,
    RenderContext,
    Scrubber,
    app_urls,
    compose_yaml,
    display_compose,
    env_file,
    env_value,
    interpolate,
    plan_ports,
    render_compose,
    tomo_variables,
    with_tag,
)

APPS = {app.id: app for app in import_catalog(FIXTURE_CATALOG).apps}
CTX = RenderContext(paths=ProjectPaths("/srv/apps", "web"), server_host="192.0.2.10", architecture="amd64",
                    puid="1001", pgid="1002", timezone="Europe/Paris")


def app_with_ports(*ports: str | dict[str, object]) -> CatalogApp:
    compose = {"services": {"web": {"image": "nginx:1.27", "ports": list(ports)},
                            "dns": {"image": "pihole:1", "ports": ["53:53/udp", "8053:80"]}}}
    return APPS["webby"].model_copy(update={"compose": compose, "main_service": "web", "main_port": 80,
                                            "default_port": 8080})


def test_main_port_defaults_to_the_catalog_and_can_be_chosen() -> None:
    app = app_with_ports("${APP_PORT}:80")
    ports, errors = plan_ports(app, {})
    web = [(p.key, p.host_port, p.main) for p in ports if p.service == "web"]
    assert errors == [] and web == [("web:80", 8080, True)]
    chosen, _ = plan_ports(app, {"main": 9000})
    assert next(p for p in chosen if p.main).host_port == 9000


def test_other_published_ports_are_overridden_by_service_and_port() -> None:
    app = app_with_ports("${APP_PORT}:80")
    ports, errors = plan_ports(app, {"dns:53/udp": 5353, "dns:80": 9053})
    assert errors == []
    doc = render_compose(app, CTX, ports)
    assert doc["services"]["dns"]["ports"] == ["5353:53/udp", "9053:80"]
    assert doc["services"]["web"]["ports"] == ["${APP_PORT}:80"]  # filled from .env


def test_long_syntax_and_host_ip_ports_are_rewritten() -> None:
    app = app_with_ports({"target": 80, "published": "8080"}, "127.0.0.1:8443:443")
    ports, errors = plan_ports(app, {"main": 9000, "web:443": 9443})
    assert errors == []
    assert render_compose(app, CTX, ports)["services"]["web"]["ports"] == [
        {"target": 80, "published": "9000"}, "127.0.0.1:9443:443"]


def test_unknown_and_duplicate_ports_are_errors() -> None:
    app = app_with_ports("${APP_PORT}:80")
    _, unknown = plan_ports(app, {"web:81": 9000})
    assert "no such port" in unknown[0] and "dns:53/udp" in unknown[0]
    _, twice = plan_ports(app, {"main": 8053})
    assert "8053/tcp is asked for twice" in twice[0]


def test_tomo_variables_describe_the_installation() -> None:
    app = APPS["webby"]
    ports, _ = plan_ports(app, {"main": 18080})
    variables = tomo_variables(app, CTX, ports)
    assert variables["APP_DATA_DIR"] == "/srv/apps/web/data" and variables["APP_PORT"] == "18080"
    assert (variables["APP_ID"], variables["PUID"], variables["TZ"]) == ("web", "1001", "Europe/Paris")
    assert variables["APP_DOMAIN"] == "192.0.2.10:18080" and variables["SHARED_DIR"] == "/srv/shared"
    assert app_urls(app, "192.0.2.10", ports) == ["http://192.0.2.10:18080/"]
    assert app_urls(app, "fd00::2", ports) == ["http://[fd00::2]:18080/"]


def test_a_version_replaces_the_main_image_tag() -> None:
    assert with_tag("nginx:1.27", "1.28") == "nginx:1.28"
    assert with_tag("registry.lan:5000/team/app", "2") == "registry.lan:5000/team/app:2"
    assert with_tag("ghcr.io/a/b:v1@sha256:abcd", "v2") == "ghcr.io/a/b:v2"
    doc = render_compose(APPS["webby"], CTX, [], version="2")
    assert doc["services"]["web"]["image"] == "tomo-test/busybox:2"
    assert render_compose(APPS["webby"], CTX, [], version="1")["services"]["web"]["image"] == "tomo-test/busybox:1"


def test_architecture_image_overrides_apply() -> None:
    app = APPS["webby"].model_copy(update={"image_overrides": {"arm64": {"web": "tomo-test/busybox:arm"}}})
    arm = RenderContext(paths=CTX.paths, server_host="h", architecture="arm64")
    assert render_compose(app, arm, [])["services"]["web"]["image"] == "tomo-test/busybox:arm"
    assert render_compose(app, CTX, [])["services"]["web"]["image"] == "tomo-test/busybox:1"


def test_compose_file_keeps_variables_as_references() -> None:
    text = compose_yaml(render_compose(APPS["vault"], CTX, []), "web")
    assert text.startswith("# Written by Tomo") and "${ADMIN_PASSWORD}" in text and "$$ADMIN_TOKEN" in text


@pytest.mark.parametrize("value", ["plain", "pa$$w\"rd\\n$HOME", "it's", "a\\'b$c\"d", "multi\nline",
                                   " # not a comment ", "ünï©ødé", ""])
def test_env_values_read_back_literally_by_docker_compose(value: str, tmp_path: Path) -> None:
    compose = shutil.which("docker")
    if compose is None or subprocess.run([compose, "compose", "version"], capture_output=True).returncode:
        pytest.skip("docker compose is not installed here")
    (tmp_path / "compose.yaml").write_text("services:\n  x:\n    image: scratch\n    environment:\n      V: ${V}\n")
    (tmp_path / ".env").write_text(env_file({"V": value}, "x"))
    out = subprocess.run([compose, "compose", "--project-directory", str(tmp_path), "config", "--format", "json"],
                         capture_output=True, text=True, check=True, timeout=30).stdout
    parsed = yaml.safe_load(out)["services"]["x"]["environment"]["V"]
    assert parsed.replace("$$", "$") == value


def test_env_quoting_shapes() -> None:
    assert env_value("simple") == "'simple'"
    assert env_value("it's $x") == '"it\'s \\$x"'
    assert env_file({"A": "1"}, "web").splitlines()[1] == "A='1'"


def test_display_fills_variables_and_masks_secrets() -> None:
    variables = {"APP_PORT": "8080", "DB_PASSWORD": "hunter2-secret", "EMPTY": ""}
    secrets = frozenset({"DB_PASSWORD"})
    assert interpolate("${APP_PORT}:80 $DB_PASSWORD ${EMPTY:-dflt} ${MISSING-x} $$KEEP ${OTHER}", variables,
                       secrets) == "8080:80 *** dflt x $$KEEP ${OTHER}"
    shown = display_compose({"services": {"db": {"environment": {"P": "${DB_PASSWORD}"}}}}, variables, secrets)
    assert "hunter2" not in shown and "P: '***'" in shown


def test_scrubber_masks_known_secret_values_and_key_blocks() -> None:
    scrub = Scrubber(["s3cr3t-value", "ab"])
    assert scrub("token=s3cr3t-value; ab stays") == "token=***; ab stays"
    assert "PRIVATE KEY" not in scrub("-----BEGIN OPENSSH PRIVATE KEY-----\nxxx\n-----END OPENSSH PRIVATE KEY-----")
