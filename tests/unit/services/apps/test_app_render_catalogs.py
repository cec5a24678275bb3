"""Every app of the real catalogs (../shared/catalogs) and of the built-in one, rendered with its defaults, is
accepted by `docker compose config`; so is an app written with the shapes rendering used to change."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from tests.testbed import REPO_ROOT

from tomo.lib.catalog import builtin_catalog_path, import_catalog
from tomo.models.marketplace import CatalogApp
from tomo.services.apps.checks import resolve_inputs
from tomo.services.apps.render import (
    ProjectPaths,
    RenderContext,
    compose_yaml,
    env_file,
    plan_ports,
    render_compose,
    tomo_variables,
)

SHARED_CATALOGS = REPO_ROOT.parent / "shared" / "catalogs"
PARALLEL = 4
AWKWARD_APP = """x-tomo:
  title: Awkward
  version: "1"
  category: utilities
  main_service: web
  main_port: 80
  default_port: 18090
  inputs:
    - {key: CUSTOM_DIR, label: Custom folder, type: text}
    - {key: NOTE, label: Note, type: text, default: "line one\\nline two, with, commas; and 'quotes' \\"too\\" $HOME"}
services:
  web:
    image: tomo-test/busybox:1
    command: ["sh", "-c", "echo", yes, no, on, off]
    environment:
      DATA: ${CUSTOM_DIR:-${APP_DATA_DIR}/x}
      NOTE: ${NOTE}
      FLAG: yes
    volumes:
      - ${CUSTOM_DIR:-${APP_DATA_DIR}/x}:/data
    ports:
      - "${APP_PORT}:80"
"""


def docker_compose() -> str:
    docker = shutil.which("docker")
    if docker is None or subprocess.run([docker, "compose", "version"], capture_output=True).returncode:
        if os.environ.get("TOMO_TESTBED") == "required":
            pytest.fail("docker compose is needed for this test (TOMO_TESTBED=required)")
        pytest.skip("docker compose is not installed here")
    return docker


def rendered(app: CatalogApp, folder: Path) -> Path:
    """compose.yaml and .env as an install with the app's defaults writes them."""
    inputs = resolve_inputs(app.inputs, {}, {})
    ports, _ = plan_ports(app, {})
    ctx = RenderContext(paths=ProjectPaths("/srv/apps", app.name), server_host="192.0.2.10", architecture="amd64")
    folder.mkdir(parents=True)
    (folder / "compose.yaml").write_text(compose_yaml(render_compose(app, ctx, ports), app.name))
    (folder / ".env").write_text(env_file({**tomo_variables(app, ctx, ports), **inputs.values}, app.name))
    return folder


def compose_config(docker: str, app: CatalogApp, folder: Path) -> str | None:
    """Compose's complaint about the rendered app, or None when it accepts it."""
    argv = [docker, "compose", "--project-name", app.name, "--project-directory", str(folder), "--file",
            str(folder / "compose.yaml"), "--env-file", str(folder / ".env"), "config", "--quiet"]
    env = {**os.environ, "DOCKER_HOST": "unix:///nonexistent"}  # `config` needs no engine
    result = subprocess.run(argv, capture_output=True, text=True, timeout=60, env=env, check=False)
    return None if result.returncode == 0 else result.stderr.strip()[-500:]


def catalog_apps(root: Path) -> list[CatalogApp]:
    imported = import_catalog(root)
    refused = [f"{s.path}: {s.reason}" for s in imported.skipped]
    assert refused == [], f"Tomo refuses these apps of {root} at import, so they are not rendered: {refused}"
    return imported.apps


def test_every_catalog_app_renders_to_a_compose_project_docker_compose_accepts(tmp_path: Path) -> None:
    docker = docker_compose()
    apps = [(f"{source}/{app.id}", app) for source, root in (("builtin", builtin_catalog_path()),
                                                            ("casaos", SHARED_CATALOGS / "casaos"),
                                                            ("runtipi", SHARED_CATALOGS / "runtipi"))
            for app in catalog_apps(root)]
    assert len(apps) > 200

    def check(item: tuple[str, CatalogApp]) -> tuple[str, str | None]:
        label, app = item
        return label, compose_config(docker, app, rendered(app, tmp_path / label))

    with ThreadPoolExecutor(PARALLEL) as pool:
        rejected = {label: problem for label, problem in pool.map(check, apps) if problem}
    assert rejected == {}


def test_strings_nested_defaults_and_awkward_env_values_keep_the_authors_meaning(tmp_path: Path) -> None:
    docker = docker_compose()
    (tmp_path / "catalog" / "apps" / "awkward").mkdir(parents=True)
    (tmp_path / "catalog" / "apps" / "awkward" / "compose.yaml").write_text(AWKWARD_APP)
    (app,) = catalog_apps(tmp_path / "catalog")
    assert app.compose["services"]["web"]["command"][3:] == ["yes", "no", "on", "off"]
    folder = rendered(app, tmp_path / "out")
    assert compose_config(docker, app, folder) is None
    out = subprocess.run([docker, "compose", "--project-directory", str(folder), "config", "--format", "json"],
                         capture_output=True, text=True, timeout=60, check=True,
                         env={**os.environ, "DOCKER_HOST": "unix:///nonexistent"}).stdout
    web = json.loads(out)["services"]["web"]
    assert web["command"][3:] == ["yes", "no", "on", "off"] and web["environment"]["FLAG"] == "yes"
    assert web["environment"]["DATA"] == "/srv/apps/awkward/data/x"
    note = "line one\nline two, with, commas; and 'quotes' \"too\" $HOME"
    assert web["environment"]["NOTE"].replace("$$", "$") == note
