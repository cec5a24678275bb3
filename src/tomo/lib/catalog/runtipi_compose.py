"""Runtipi compose files, in their three shapes, turned into one standard compose document.

* ``docker-compose.json``: the dynamic-compose JSON (``services: [{name, image, isMain, internalPort,
  environment: [{key, value}], volumes: [{hostPath, containerPath}], addPorts, ...}]``);
* ``docker-compose.yml`` with ``x-runtipi`` blocks (``is_main``, ``internal_port`` per service);
* legacy ``docker-compose.yml``: plain compose wired to Runtipi's Traefik (labels, ``tipi_main_network``).

Runtipi publishes the main service's internal port as ``${APP_PORT}``; so does the result. Traefik and
Runtipi labels and the external ``tipi_main_network`` are dropped: Tomo does not run Runtipi's proxy.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Final

from tomo.errors import ValidationError
from tomo.lib.catalog.compose import check_compose, parse_port, strip_extensions
from tomo.lib.compose.environment import scalar_text
from tomo.lib.compose.ports import port_number

MAIN_NETWORK: Final = "tipi_main_network"

_SNAKE_NAMES: Final = {"healthCheck": "healthcheck", "dependsOn": "depends_on"}
_DYNAMIC_HANDLED: Final = frozenset(
    {"name", "isMain", "internalPort", "addPorts", "addToMainNetwork", "volumes", "environment", "extraLabels"}
)
_PLATFORM_LABEL: Final = re.compile(r"^(traefik\.|runtipi\.)")
_CAMEL: Final = re.compile(r"(?<!^)(?=[A-Z])")


@dataclass
class RuntipiCompose:
    """A standard compose document and what Runtipi knew about it."""

    compose: dict[str, Any]
    main_service: str
    internal_port: int | None
    image_overrides: dict[str, dict[str, str]] = field(default_factory=dict)


def snake_case(name: str) -> str:
    """camelCase -> snake_case (stopGracePeriod -> stop_grace_period)."""
    return _SNAKE_NAMES.get(name) or _CAMEL.sub("_", name).lower()


def _snake_keys(value: Any) -> Any:
    """Recursively snake_case the keys of a mapping (for ``deploy`` and ``healthCheck``)."""
    if isinstance(value, dict):
        return {snake_case(str(key)): _snake_keys(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_snake_keys(item) for item in value]
    return value


def from_dynamic_json(data: Any, where: str) -> RuntipiCompose:
    """Convert a dynamic-compose JSON document (``services`` is a list) to standard compose."""
    if not isinstance(data, dict) or not isinstance(data.get("services"), list) or not data["services"]:
        raise ValidationError(f"{where}: expected an object with a non-empty 'services' list")
    services: dict[str, Any] = {}
    named_volumes: dict[str, Any] = {}
    main_name, internal_port = "", None
    for entry in data["services"]:
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            raise ValidationError(f"{where}: every service needs a name")
        if entry["name"] in services:
            raise ValidationError(f"{where}: service '{entry['name']}' is defined twice")
        services[entry["name"]] = _dynamic_service(entry, named_volumes)
        if entry.get("isMain") and not main_name:
            main_name, internal_port = entry["name"], port_number(entry.get("internalPort"))[0]
    compose: dict[str, Any] = {"services": services}
    if named_volumes:
        compose["volumes"] = named_volumes
    check_compose(compose, where)
    return RuntipiCompose(
        compose=compose,
        main_service=main_name or next(iter(services)),
        internal_port=internal_port,
        image_overrides=_dynamic_overrides(data.get("overrides")),
    )


def _dynamic_service(entry: dict[str, Any], named_volumes: dict[str, Any]) -> dict[str, Any]:
    """One dynamic-compose service as a compose service mapping."""
    service: dict[str, Any] = {}
    for key, value in entry.items():
        if key in _DYNAMIC_HANDLED:
            continue
        service[snake_case(key)] = _snake_keys(value) if key in ("deploy", "healthCheck") else value
    service.setdefault("restart", "unless-stopped")
    ports = _dynamic_ports(entry, service.get("network_mode"))
    if ports:
        service["ports"] = ports
    if entry.get("environment"):
        service["environment"] = _dynamic_environment(entry["environment"])
    volumes = [_dynamic_volume(item, named_volumes) for item in entry.get("volumes") or []]
    if volumes:
        service["volumes"] = volumes
    labels = _keep_labels(entry.get("extraLabels"))
    if labels:
        service["labels"] = labels
    return service


def _dynamic_ports(entry: dict[str, Any], network_mode: Any) -> list[str]:
    """``${APP_PORT}:<internalPort>`` for the main service, then the ``addPorts``."""
    ports: list[str] = []
    if network_mode == "host":
        return ports
    if entry.get("isMain") and entry.get("internalPort") not in (None, ""):
        ports.append(f"${{APP_PORT}}:{entry['internalPort']}")
    for item in entry.get("addPorts") or []:
        if not isinstance(item, dict):
            continue
        prefix = f"{item['interface']}:" if item.get("interface") else ""
        mapping = f"{prefix}{item.get('hostPort')}:{item.get('containerPort')}"
        if item.get("udp"):
            ports.append(mapping + "/udp")
        if item.get("tcp") or not item.get("udp"):
            ports.append(mapping)
    return ports


def _dynamic_environment(environment: Any) -> dict[str, str]:
    """``[{key, value}]`` or a mapping -> a compose environment mapping of strings."""
    if isinstance(environment, dict):
        return {str(key): scalar_text(value) for key, value in environment.items()}
    result: dict[str, str] = {}
    for item in environment if isinstance(environment, list) else []:
        if isinstance(item, dict) and "key" in item:
            result[str(item["key"])] = scalar_text(item.get("value"))
    return result


def _dynamic_volume(item: Any, named_volumes: dict[str, Any]) -> dict[str, Any]:
    """``{hostPath, containerPath, readOnly, shared, private}`` -> a long-syntax compose mount."""
    if not isinstance(item, dict) or "hostPath" not in item or "containerPath" not in item:
        raise ValidationError(f"invalid volume {item!r}: hostPath and containerPath are required")
    source, target = str(item["hostPath"]), str(item["containerPath"])
    bind = source.startswith(("/", ".", "~", "$"))
    mount: dict[str, Any] = {"type": "bind" if bind else "volume", "source": source, "target": target}
    if not bind:
        named_volumes[source] = {}
    if item.get("readOnly"):
        mount["read_only"] = True
    if bind and (item.get("shared") or item.get("private")):
        mount["bind"] = {"propagation": "shared" if item.get("shared") else "private"}
    return mount


def _keep_labels(labels: Any) -> dict[str, Any]:
    """Labels without Traefik's and Runtipi's own."""
    if not isinstance(labels, dict):
        return {}
    return {key: value for key, value in labels.items() if not _PLATFORM_LABEL.match(str(key))}


def _dynamic_overrides(overrides: Any) -> dict[str, dict[str, str]]:
    """Per-architecture image replacements of the dynamic JSON (other override fields are ignored)."""
    result: dict[str, dict[str, str]] = {}
    for item in overrides if isinstance(overrides, list) else []:
        if not isinstance(item, dict) or not isinstance(item.get("architecture"), str):
            continue
        for service in item.get("services") or []:
            if isinstance(service, dict) and isinstance(service.get("image"), str) and service.get("name"):
                result.setdefault(item["architecture"], {})[str(service["name"])] = service["image"]
    return result


def from_x_runtipi_yaml(data: Any, where: str) -> RuntipiCompose:
    """Convert a compose file with ``x-runtipi`` blocks (is_main, internal_port) to standard compose."""
    check_compose(data, where)
    main_name, internal_port = "", None
    for name, service in data["services"].items():
        block = service.get("x-runtipi")
        if isinstance(block, dict) and block.get("is_main") and not main_name:
            main_name, internal_port = name, port_number(block.get("internal_port"))[0]
    compose = _without_platform_wiring(strip_extensions(data, "x-runtipi"))
    main_name = main_name or next(iter(compose["services"]))
    main = compose["services"][main_name]
    if internal_port is not None and main.get("network_mode") != "host":
        main["ports"] = [f"${{APP_PORT}}:{internal_port}", *(main.get("ports") or [])]
    block = data.get("x-runtipi")
    overrides = block.get("overrides") if isinstance(block, dict) else None
    return RuntipiCompose(compose, main_name, internal_port, _yaml_overrides(overrides))


def _yaml_overrides(overrides: Any) -> dict[str, dict[str, str]]:
    """Per-architecture image replacements of ``x-runtipi.overrides`` (services as a mapping)."""
    result: dict[str, dict[str, str]] = {}
    for item in overrides if isinstance(overrides, list) else []:
        services = item.get("services") if isinstance(item, dict) else None
        if not isinstance(services, dict) or not isinstance(item.get("architecture"), str):
            continue
        for name, service in services.items():
            if isinstance(service, dict) and isinstance(service.get("image"), str):
                result.setdefault(item["architecture"], {})[str(name)] = service["image"]
    return result


def from_legacy_yaml(data: Any, where: str) -> RuntipiCompose:
    """Convert a legacy Traefik-wired compose file; the main service publishes ``${APP_PORT}``."""
    check_compose(data, where)
    compose = _without_platform_wiring(data)
    for name, service in compose["services"].items():
        for entry in service.get("ports") or []:
            if "APP_PORT" in str(entry.get("published") if isinstance(entry, dict) else entry):
                port = parse_port(name, entry)
                return RuntipiCompose(compose, name, port.container_port if port else None)
    return RuntipiCompose(compose, next(iter(compose["services"])), None)


def _without_platform_wiring(compose: dict[str, Any]) -> dict[str, Any]:
    """Drop ``version``, Traefik/Runtipi labels and the external ``tipi_main_network``."""
    result = {key: value for key, value in compose.items() if key not in ("version", "name")}
    services: dict[str, Any] = {}
    for name, service in compose["services"].items():
        service = dict(service)
        if isinstance(service.get("labels"), dict):
            service["labels"] = _keep_labels(service["labels"])
        networks = _drop_main_network(service.get("networks"))
        service.pop("networks", None)
        if networks:
            service["networks"] = networks
        if not service.get("labels"):
            service.pop("labels", None)
        services[name] = service
    result["services"] = services
    if isinstance(result.get("networks"), dict):
        result["networks"] = {k: v for k, v in result["networks"].items() if k != MAIN_NETWORK}
        if not result["networks"]:
            del result["networks"]
    return result


def _drop_main_network(networks: Any) -> Any:
    """A service's networks without ``tipi_main_network``, which becomes ``default`` when others remain."""
    if isinstance(networks, list) and MAIN_NETWORK in networks:
        others = [item for item in networks if item != MAIN_NETWORK]
        return [*others, "default"] if others else None
    if isinstance(networks, dict) and MAIN_NETWORK in networks:
        others_map = {key: value for key, value in networks.items() if key != MAIN_NETWORK}
        return {**others_map, "default": None} if others_map else None
    return networks
