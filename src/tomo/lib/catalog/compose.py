"""Compose helpers shared by the format readers: shape checks, port/volume summaries, service summaries.

All functions are pure: they read JSON-like compose data and return new values or models. The compose
syntax itself (ports, variables, environment) is read by :mod:`tomo.lib.compose`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any, Final

from pydantic import ValidationError as PydanticValidationError

from tomo.errors import ValidationError
from tomo.lib.catalog.variables import TOMO_VARIABLES
from tomo.lib.compose.environment import env_items
from tomo.lib.compose.interpolation import default_of, iter_strings, references
from tomo.lib.compose.ports import port_number, read_port, split_outside_braces
from tomo.models.marketplace import AppInput, AppPort, AppService, AppVolume, InputType, VolumeKind

_SERVICE_NAME: Final = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9._-]*$")
_SECRET_NAME: Final = re.compile(r"PASS|SECRET|TOKEN|(^|_)KEY($|_)|PWD|SALT", re.IGNORECASE)
_BIND_PREFIXES: Final = ("/", ".", "~", "$")
_LONG_KINDS: Final[Mapping[str, VolumeKind]] = {"bind": "bind", "volume": "named", "tmpfs": "tmpfs"}

PortNotes = Mapping[tuple[str, int], str]
VolumeNotes = Mapping[tuple[str, str], str]


def check_compose(data: Any, name: str) -> dict[str, Any]:
    """Return ``data`` if it is a compose mapping whose every service has a name and an image."""
    if not isinstance(data, dict):
        raise ValidationError(f"{name}: the compose document is not a mapping")
    services = data.get("services")
    if not isinstance(services, dict) or not services:
        raise ValidationError(f"{name}: the compose document has no services")
    for service_name, service in services.items():
        if not isinstance(service_name, str) or not _SERVICE_NAME.match(service_name):
            raise ValidationError(f"{name}: invalid service name {service_name!r}")
        if not isinstance(service, dict):
            raise ValidationError(f"{name}: service '{service_name}' is not a mapping")
        image = service.get("image")
        if not isinstance(image, str) or not image.strip():
            raise ValidationError(f"{name}: service '{service_name}' has no image (builds are not supported)")
    return data


def parse_port(service: str, entry: Any, app_port: int | None = None) -> AppPort | None:
    """Summarise one ``ports`` entry (short or long syntax); None when it cannot be understood."""
    written = read_port(entry)
    container, container_end = port_number(written.target)
    host, _ = port_number(written.published, app_port)
    if container is None:
        return None
    try:
        return AppPort(
            service=service,
            container_port=container,
            container_port_end=container_end,
            host_port=host,
            protocol="udp" if written.protocol == "udp" else "tcp",
        )
    except PydanticValidationError:
        return None


def parse_volume(service: str, entry: Any) -> AppVolume | None:
    """Summarise one service ``volumes`` entry (short or long syntax); None when malformed."""
    if isinstance(entry, dict):
        target = entry.get("target")
        if not isinstance(target, str):
            return None
        kind: VolumeKind = _LONG_KINDS.get(str(entry.get("type")), "bind")
        source = str(entry.get("source") or "")
        if kind == "named" and not source:
            kind = "anonymous"
        read_only = bool(entry.get("read_only"))
        return AppVolume(service=service, source=source, target=target, kind=kind, read_only=read_only)
    parts = split_outside_braces(str(entry))
    if len(parts) == 1:
        return AppVolume(service=service, source="", target=parts[0], kind="anonymous")
    source, target = parts[0], parts[1]
    read_only = len(parts) > 2 and "ro" in parts[2].split(",")
    short_kind: VolumeKind = "bind" if source.startswith(_BIND_PREFIXES) else "named"
    return AppVolume(service=service, source=source, target=target, kind=short_kind, read_only=read_only)


def dependency_names(value: Any) -> list[str]:
    """Service names of a ``depends_on`` (list or mapping form)."""
    if isinstance(value, dict):
        return [str(key) for key in value]
    if isinstance(value, list):
        return [str(item) for item in value]
    return []


def describe_services(
    compose: Mapping[str, Any],
    *,
    main_service: str,
    main_port: int | None,
    app_port: int | None = None,
    port_notes: PortNotes | None = None,
    volume_notes: VolumeNotes | None = None,
) -> list[AppService]:
    """Summarise every service of ``compose``: image, ports, mounts, environment names, dependencies."""
    port_notes = port_notes or {}
    volume_notes = volume_notes or {}
    result: list[AppService] = []
    for name, service in compose["services"].items():
        ports = [port for entry in service.get("ports") or [] if (port := parse_port(name, entry, app_port))]
        for port in ports:
            port.description = port_notes.get((name, port.container_port))
            port.is_main = name == main_service and port.container_port == main_port
        volumes = [volume for entry in service.get("volumes") or [] if (volume := parse_volume(name, entry))]
        for volume in volumes:
            volume.description = volume_notes.get((name, mount_key(volume.target)))
        result.append(
            AppService(
                name=name,
                image=service["image"],
                ports=ports,
                volumes=volumes,
                environment=[key for key, _ in env_items(service.get("environment"))],
                depends_on=dependency_names(service.get("depends_on")),
            )
        )
    return result


def mount_key(target: str) -> str:
    """A container path without its trailing slash, to match volume descriptions to mounts."""
    return target.rstrip("/") or "/"


def strip_extensions(compose: dict[str, Any], prefix: str) -> dict[str, Any]:
    """Copy ``compose`` without the ``prefix`` extension keys at top and service level."""
    result = {key: value for key, value in compose.items() if not str(key).startswith(prefix)}
    result["services"] = {
        name: {key: value for key, value in service.items() if not str(key).startswith(prefix)}
        for name, service in compose["services"].items()
    }
    return result


def label_for(key: str) -> str:
    """A readable label from a variable name: DB_ROOT_PASSWORD -> 'Db root password'."""
    words = [word for word in key.lower().split("_") if word]
    return " ".join(words).capitalize() if words else key


def is_secret_name(key: str) -> bool:
    """Whether a variable name looks like it holds a secret (password, token, key...)."""
    return bool(_SECRET_NAME.search(key))


def complete_inputs(compose: Mapping[str, Any], inputs: Iterable[AppInput]) -> list[AppInput]:
    """Add an input for each variable the compose references that is neither Tomo's nor an input.

    After this, every reference in the compose is a Tomo variable or an input, so the deployer can
    always write a complete .env file.
    """
    result = list(inputs)
    declared = {item.env_name for item in result}
    texts = [text for text in iter_strings(compose) if "$" in text]
    for text in texts:
        for name in references(text):
            if name in TOMO_VARIABLES or name in declared:
                continue
            declared.add(name)
            default = next((found for t in texts if (found := default_of(t, name)) is not None), None)
            kind: InputType = "password" if is_secret_name(name) else "text"
            result.append(
                AppInput(
                    key=name,
                    label=label_for(name),
                    type=kind,
                    default=default,
                    description="Referenced by the compose file; the catalog does not describe it.",
                )
            )
    return result
