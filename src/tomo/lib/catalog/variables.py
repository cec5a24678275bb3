"""Tomo's platform variables, and the tools to find and rename variable references in compose data.

A compose file imported from any catalog may reference two kinds of variables, and nothing else:

* Tomo's platform variables (:data:`TOMO_VARIABLES`), filled by the deployer for every app;
* the app's own inputs (``AppInput.env``), filled from the user's answers or generated.

Variables of the source platforms (CasaOS ``$AppID``, Runtipi ``${ROOT_FOLDER_HOST}``...) are renamed
to Tomo's by the format readers; that is what "mapped" means.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Final

TOMO_VARIABLES: Final[Mapping[str, str]] = {
    "APP_ID": "Installation name of the app; also its Compose project name.",
    "APP_DATA_DIR": "Host folder for the app's data: <apps_root>/<app_id>/data.",
    "APP_PORT": "Host port published for the app's web UI.",
    "APP_DOMAIN": "Host name (and :port when not 80/443) the app is reached at.",
    "APP_PROTOCOL": "Scheme the app is reached with: http or https.",
    "SERVER_HOST": "Address (IP or host name) of the server the app runs on.",
    "SHARED_DIR": "Server-wide folder shared between apps (media, downloads): <apps_root>/../shared.",
    "LOCAL_DOMAIN": "DNS suffix of the local network, e.g. home.arpa.",
    "DNS_SERVER": "DNS resolver apps should use.",
    "PUID": "User id that owns the app's files.",
    "PGID": "Group id that owns the app's files.",
    "TZ": "Time zone of the server, an IANA name such as Europe/Paris.",
}

# $$ (an escaped dollar), ${NAME...} or $NAME. Only the name is captured; what follows stays untouched,
# so defaults such as ${APP_PROTOCOL:-http} and nested references keep their shape.
_REFERENCE = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)|\$([A-Za-z_][A-Za-z0-9_]*)")
_DEFAULT = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*):?-([^}$]*)\}")


def references(text: str) -> Iterator[str]:
    """Yield the names of the variables referenced in ``text`` (``$$`` escapes are not references)."""
    for match in _REFERENCE.finditer(text):
        name = match.group(1) or match.group(2)
        if name:
            yield name


def default_of(text: str, name: str) -> str | None:
    """The inline default of ``${name:-default}`` (or ``${name-default}``) in ``text``, if any."""
    for match in _DEFAULT.finditer(text):
        if match.group(1) == name:
            return match.group(2)
    return None


def rename(text: str, mapping: Mapping[str, str]) -> str:
    """Rename variable references per ``mapping``; a renamed ``$NAME`` becomes ``${NEW}``."""
    if "$" not in text:
        return text

    def replace(match: re.Match[str]) -> str:
        braced, bare = match.group(1), match.group(2)
        if braced and braced in mapping:
            return "${" + mapping[braced]
        if bare and bare in mapping:
            return "${" + mapping[bare] + "}"
        return match.group(0)

    return _REFERENCE.sub(replace, text)


def map_strings(data: Any, func: Callable[[str], str]) -> Any:
    """Return a copy of JSON-like ``data`` with ``func`` applied to every string, keys included."""
    if isinstance(data, str):
        return func(data)
    if isinstance(data, dict):
        return {map_strings(key, func): map_strings(value, func) for key, value in data.items()}
    if isinstance(data, list):
        return [map_strings(item, func) for item in data]
    return data


def iter_strings(data: Any) -> Iterator[str]:
    """Yield every string in JSON-like ``data``, keys included."""
    if isinstance(data, str):
        yield data
    elif isinstance(data, dict):
        for key, value in data.items():
            yield from iter_strings(key)
            yield from iter_strings(value)
    elif isinstance(data, list):
        for item in data:
            yield from iter_strings(item)


def referenced_names(data: Any) -> set[str]:
    """Every variable name referenced anywhere in JSON-like ``data``."""
    return {name for text in iter_strings(data) if "$" in text for name in references(text)}
