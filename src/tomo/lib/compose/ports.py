"""A service's ``ports`` entries, in the short (``[ip:][host:]container[/protocol]``) and long syntax.

:func:`read_port` says what an entry publishes, as written; :func:`port_number` reads a number, a range
or a variable out of one side; :func:`with_published` writes another host side into the entry, leaving
the rest (address, container side, protocol, other long-syntax keys) as it was.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tomo.lib.compose.interpolation import single_reference


@dataclass(frozen=True)
class PortEntry:
    """One ``ports`` entry as written: the container side, the host side (None: not published), the protocol."""

    target: Any
    published: Any
    protocol: str


def read_port(entry: Any) -> PortEntry:
    """Split a ``ports`` entry (a mapping, or a string such as ``127.0.0.1:8080:80/udp``) into its sides."""
    if isinstance(entry, dict):
        return PortEntry(entry.get("target"), entry.get("published"), str(entry.get("protocol") or "tcp").lower())
    spec, _, protocol = str(entry).partition("/")
    parts = split_outside_braces(spec)
    return PortEntry(parts[-1], parts[-2] if len(parts) >= 2 else None, (protocol or "tcp").lower())


def with_published(entry: Any, published: str) -> Any:
    """``entry`` publishing ``published`` (a port number or a reference) on the host instead."""
    if isinstance(entry, dict):
        return {**entry, "published": published}
    spec, slash, protocol = str(entry).partition("/")
    parts = split_outside_braces(spec)
    if len(parts) == 1:
        parts.insert(0, published)
    else:
        parts[-2] = published
    return ":".join(parts) + slash + protocol


def port_number(value: Any, app_port: int | None = None) -> tuple[int | None, int | None]:
    """Parse a port or range ("8080", 8080, "8000-8010", "${APP_PORT}", "${X:-80}") into (start, end).

    A variable gives its numeric inline default, or ``app_port`` for ``${APP_PORT}`` when given.
    """
    if isinstance(value, bool) or value is None:
        return None, None
    if isinstance(value, int):
        return value, None
    text = str(value).strip()
    reference = single_reference(text) if text.startswith("$") else None
    if reference is not None:
        return _variable_port(reference.name, reference.operator, reference.argument, app_port)
    start, dash, end = text.partition("-")
    if not start.isdecimal() or (dash and not end.isdecimal()):
        return None, None
    return int(start), int(end) if dash else None


def _variable_port(
    name: str, operator: str | None, argument: str | None, app_port: int | None
) -> tuple[int | None, int | None]:
    """The port of ``${name}`` / ``${name:-80}`` (no other operator, a decimal default only)."""
    if operator is not None and (operator not in (":-", "-") or not (argument or "").isdecimal()):
        return None, None
    if name == "APP_PORT" and app_port is not None:
        return app_port, None
    return (int(argument), None) if argument else (None, None)


def split_outside_braces(text: str, separator: str = ":") -> list[str]:
    """Split ``text`` on ``separator``, except inside ``${...}`` and ``[...]`` (IPv6 addresses)."""
    parts: list[str] = []
    depth = 0
    current: list[str] = []
    for char in text:
        if char in "{[":
            depth += 1
        elif char in "}]":
            depth = max(depth - 1, 0)
        if char == separator and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return parts
