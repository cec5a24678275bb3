"""Render an app's files: compose.yaml (Tomo's variables kept as references) and .env (their values).

Pure functions. Docker Compose interpolates compose.yaml from the .env file on the server, so secrets
only ever live in .env (mode 0600) and in the database, encrypted. For display, :func:`display_compose`
fills the variables in with secrets masked.
"""

from __future__ import annotations

import copy
import posixpath
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from tomo.lib.compose import interpolation
from tomo.lib.compose.interpolation import map_strings
from tomo.lib.compose.ports import port_number, read_port, with_published
from tomo.lib.redaction import MASK, redact_text
from tomo.models.installation import PublishedPort
from tomo.models.marketplace import CatalogApp

COMPOSE_FILE = "compose.yaml"
ENV_FILE = ".env"
PREVIOUS_COMPOSE_FILE = "compose.previous.yaml"
PREVIOUS_ENV_FILE = ".env.previous"
DATA_DIR = "data"

_IMAGE_TAG = re.compile(r"^(?P<repo>.+?)(?::(?P<tag>[A-Za-z0-9_][A-Za-z0-9_.-]*))?(?P<digest>@sha256:[0-9a-f]+)?$")


@dataclass(frozen=True)
class ProjectPaths:
    """Where an installation lives on its server: ``<apps_root>/<name>/``."""

    apps_root: str
    name: str

    @property
    def project_dir(self) -> str:
        return posixpath.join(self.apps_root, self.name)

    def file(self, name: str) -> str:
        """A file directly inside the project folder."""
        return posixpath.join(self.project_dir, name)

    @property
    def data_dir(self) -> str:
        return self.file(DATA_DIR)


@dataclass(frozen=True)
class RenderContext:
    """What the server contributes to an app's variables."""

    paths: ProjectPaths
    server_host: str
    architecture: str | None = None
    puid: str = "1000"
    pgid: str = "1000"
    timezone: str = "UTC"
    local_domain: str = "home.arpa"
    dns_server: str = "1.1.1.1"


def main_host_port(ports: list[PublishedPort]) -> int | None:
    """The host port of the web UI, if the app publishes one."""
    return next((port.host_port for port in ports if port.main), None)


def tomo_variables(app: CatalogApp, ctx: RenderContext, ports: list[PublishedPort]) -> dict[str, str]:
    """Values of Tomo's platform variables (see ``tomo.lib.catalog.variables.TOMO_VARIABLES``)."""
    port = main_host_port(ports)
    default_port = 443 if app.scheme == "https" else 80
    domain = ctx.server_host if port in (None, default_port) else f"{ctx.server_host}:{port}"
    return {
        "APP_ID": ctx.paths.name,
        "APP_DATA_DIR": ctx.paths.data_dir,
        "APP_PORT": str(port if port is not None else app.default_port or app.main_port or ""),
        "APP_DOMAIN": domain,
        "APP_PROTOCOL": app.scheme,
        "SERVER_HOST": ctx.server_host,
        "SHARED_DIR": posixpath.join(posixpath.dirname(ctx.paths.apps_root), "shared"),
        "LOCAL_DOMAIN": ctx.local_domain,
        "DNS_SERVER": ctx.dns_server,
        "PUID": ctx.puid,
        "PGID": ctx.pgid,
        "TZ": ctx.timezone,
    }


def app_urls(app: CatalogApp, server_host: str, ports: list[PublishedPort]) -> list[str]:
    """The web UI's URL (when the app publishes one)."""
    port = main_host_port(ports)
    if port is None:
        return []
    host = f"[{server_host}]" if ":" in server_host else server_host
    path = app.url_path if app.url_path.startswith("/") else "/" + app.url_path
    return [f"{app.scheme}://{host}:{port}{path}"]


# ---- ports ---------------------------------------------------------------------------------------------


@dataclass
class _PortEntry:
    service: str
    index: int
    container_port: int
    host_port: int | None
    protocol: str
    uses_app_port: bool


def _port_entries(app: CatalogApp) -> list[_PortEntry]:
    entries: list[_PortEntry] = []
    for service, spec in app.compose.get("services", {}).items():
        for index, entry in enumerate(spec.get("ports") or []):
            parsed = _parse_port_entry(service, index, entry)
            if parsed is not None:
                entries.append(parsed)
    return entries


def _parse_port_entry(service: str, index: int, entry: Any) -> _PortEntry | None:
    written = read_port(entry)
    container, _ = port_number(written.target)
    if container is None:
        return None
    host_text = str(written.published or "")
    uses_app_port = "APP_PORT" in host_text
    host, _ = port_number(host_text) if host_text and not uses_app_port else (None, None)
    protocol = "udp" if written.protocol == "udp" else "tcp"
    return _PortEntry(service, index, container, host, protocol, uses_app_port)


def plan_ports(app: CatalogApp, requested: Mapping[str, int]) -> tuple[list[PublishedPort], list[str]]:
    """The host ports the app will publish, with the requested ones applied; and what is wrong."""
    errors: list[str] = []
    entries = _port_entries(app)
    main_port = requested.get("main") or app.default_port or app.main_port
    known: set[str] = {"main"}
    planned: list[PublishedPort] = []
    for entry in entries:
        key = f"{entry.service}:{entry.container_port}" + ("/udp" if entry.protocol == "udp" else "")
        known.add(key)
        is_main = entry.uses_app_port or (entry.service == app.main_service and entry.container_port == app.main_port)
        if entry.uses_app_port:
            host = requested.get(key) or main_port
            main_port = host
        else:
            host = requested.get(key) or (main_port if is_main and "main" in requested else entry.host_port)
        if host is None:
            continue
        planned.append(PublishedPort(service=entry.service, container_port=entry.container_port, host_port=host,
                                     protocol="udp" if entry.protocol == "udp" else "tcp", main=is_main))
    planned.extend(_host_network_main(app, planned, main_port))
    for key in sorted(set(requested) - known):
        errors.append(f"config.ports has '{key}', but the app publishes no such port; use 'main' or one of: "
                      + ", ".join(sorted(known - {"main"})))
    errors.extend(_duplicates(planned))
    return planned, errors


def _host_network_main(app: CatalogApp, planned: list[PublishedPort], main_port: int | None) -> list[PublishedPort]:
    service = app.compose.get("services", {}).get(app.main_service, {})
    if any(port.main for port in planned) or service.get("network_mode") != "host" or app.main_port is None:
        return []
    return [PublishedPort(service=app.main_service, container_port=app.main_port, host_port=app.main_port, main=True)]


def _duplicates(planned: list[PublishedPort]) -> list[str]:
    seen: dict[tuple[int, str], str] = {}
    errors = []
    for port in planned:
        slot = (port.host_port, port.protocol)
        if slot in seen and seen[slot] != port.key:
            errors.append(f"host port {port.host_port}/{port.protocol} is asked for twice ({seen[slot]} and "
                          f"{port.key}); give one of them another port in config.ports")
        seen.setdefault(slot, port.key)
    return errors


# ---- compose and .env -----------------------------------------------------------------------------------


def render_compose(
    app: CatalogApp, ctx: RenderContext, ports: list[PublishedPort], version: str | None = None
) -> dict[str, Any]:
    """The compose document to upload: the catalog's, with images and host ports adjusted."""
    doc = copy.deepcopy(app.compose)
    services: dict[str, Any] = doc["services"]
    overrides = app.image_overrides.get(ctx.architecture or "", {})
    for name, image in overrides.items():
        if name in services:
            services[name]["image"] = image
    if version is not None and version != app.version:
        services[app.main_service]["image"] = with_tag(str(services[app.main_service]["image"]), version)
    by_key = {port.key: port for port in ports}
    for entry in _port_entries(app):
        key = f"{entry.service}:{entry.container_port}" + ("/udp" if entry.protocol == "udp" else "")
        port = by_key.get(key)
        if port is None or entry.uses_app_port or port.host_port == entry.host_port:
            continue
        service_ports = services[entry.service]["ports"]
        service_ports[entry.index] = with_published(service_ports[entry.index], str(port.host_port))
    return doc


def with_tag(image: str, tag: str) -> str:
    """``image`` with its tag replaced (a digest is dropped): 'nginx:1.27' + '1.28' -> 'nginx:1.28'."""
    match = _IMAGE_TAG.match(image)
    repo = match.group("repo") if match else image
    return f"{repo}:{tag}"


def dump_yaml(doc: Mapping[str, Any]) -> str:
    """YAML in the order written, block style (PyYAML loads on first use: it is not needed at start-up)."""
    import yaml

    return yaml.safe_dump(dict(doc), sort_keys=False, default_flow_style=False, allow_unicode=True)


def compose_yaml(doc: Mapping[str, Any], name: str) -> str:
    """The compose.yaml text, with a header naming the installation."""
    header = f"# Written by Tomo for the installation '{name}'. Variables come from .env beside this file.\n"
    return header + dump_yaml(doc)


def env_value(value: str) -> str:
    """Quote a value for Docker Compose's .env parser so it is read back literally."""
    if "'" not in value and "\n" not in value:
        return f"'{value}'"
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("$", "\\$").replace("\n", "\\n")
    return f'"{escaped}"'


def env_file(variables: Mapping[str, str], name: str) -> str:
    """The .env text: one ``KEY='value'`` line per variable (mode 0600 on the server: it holds secrets)."""
    lines = [f"# Written by Tomo for the installation '{name}'. Holds secrets: keep it private (mode 0600)."]
    lines += [f"{key}={env_value(value)}" for key, value in variables.items()]
    return "\n".join(lines) + "\n"


def env_problem(key: str, value: str) -> str | None:
    """Why a value cannot go into .env (control characters other than newline and tab)."""
    if any(ord(char) < 32 and char not in "\n\t" for char in value) or "\x7f" in value:
        return f"input {key} contains control characters; remove them"
    return None


# ---- display --------------------------------------------------------------------------------------------


def interpolate(text: str, variables: Mapping[str, str], secret_names: frozenset[str]) -> str:
    """Fill ``${NAME}``, ``${NAME:-default}`` and ``$NAME`` in; secrets become ``***``; ``$$`` stays."""

    def shown(name: str) -> str | None:
        value = variables.get(name)
        return MASK if value and name in secret_names else value

    return interpolation.interpolate(text, shown)


def display_compose(doc: Mapping[str, Any], variables: Mapping[str, str], secret_names: frozenset[str]) -> str:
    """compose.yaml as Compose will read it, with secrets masked (for validate_app_config)."""
    filled = map_strings(dict(doc), lambda text: interpolate(text, variables, secret_names))
    return dump_yaml(filled)


def masked_env(variables: Mapping[str, str], secret_names: frozenset[str]) -> dict[str, str]:
    """The .env variables with secret values masked."""
    return {key: MASK if key in secret_names and value else value for key, value in variables.items()}


class Scrubber:
    """Masks known secret values (and anything that looks like a key or token) in text leaving Tomo."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets = sorted({value for value in secrets if len(value) >= 3}, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for value in self._secrets:
            if value in text:
                text = text.replace(value, MASK)
        return redact_text(text)
