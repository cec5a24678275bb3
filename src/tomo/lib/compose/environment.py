"""A service's ``environment``: its mapping and ``KEY=VALUE`` list forms, and how Compose reads a scalar."""

from __future__ import annotations

from typing import Any


def env_items(environment: Any) -> list[tuple[str, str | None]]:
    """The (name, value) pairs of a service ``environment``; None for a name without a value."""
    if isinstance(environment, dict):
        return [(str(key), None if value is None else scalar_text(value)) for key, value in environment.items()]
    if isinstance(environment, list):
        pairs: list[tuple[str, str | None]] = []
        for item in environment:
            key, sep, value = str(item).partition("=")
            pairs.append((key.strip(), value if sep else None))
        return pairs
    return []


def scalar_text(value: Any) -> str:
    """The text Compose reads for a scalar value: YAML booleans become true/false, null the empty string."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)
