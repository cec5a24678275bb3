"""Small helpers shared by the format readers: slugs, error summaries, building the app model."""

from __future__ import annotations

import re
from typing import Any, Final

from pydantic import ValidationError as PydanticValidationError

from tomo.errors import ValidationError
from tomo.models.marketplace import CatalogApp

_NOT_SLUG: Final = re.compile(r"[^a-z0-9]+")
_URL: Final = re.compile(r"^https?://", re.IGNORECASE)
_ARCH_ALIASES: Final = {
    "x86_64": "amd64",
    "x86-64": "amd64",
    "aarch64": "arm64",
    "arm64v8": "arm64",
    "armv7": "arm",
    "armhf": "arm",
    "arm32v7": "arm",
    "i386": "386",
    "x86": "386",
}


def slugify(text: str) -> str:
    """Turn a name into an app id: lower case, runs of other characters become one hyphen."""
    slug = _NOT_SLUG.sub("-", text.lower()).strip("-")
    return slug[:63].rstrip("-")


def describe_errors(exc: PydanticValidationError, limit: int = 3) -> str:
    """A short, readable summary of a Pydantic validation error ("where: what; ...")."""
    parts = []
    for error in exc.errors()[:limit]:
        where = ".".join(str(item) for item in error["loc"])
        parts.append(f"{where}: {error['msg']}" if where else str(error["msg"]))
    more = exc.error_count() - limit
    if more > 0:
        parts.append(f"and {more} more")
    return "; ".join(parts)


def build_app(where: str, **fields: Any) -> CatalogApp:
    """Build a :class:`CatalogApp`, turning model validation errors into a skip reason."""
    try:
        return CatalogApp(**fields)
    except PydanticValidationError as exc:
        raise ValidationError(f"{where}: {describe_errors(exc)}") from exc


def architectures(values: Any) -> list[str]:
    """Normalise a list of architecture names to Docker platform names (x86_64 -> amd64)."""
    if not isinstance(values, list):
        return []
    result: list[str] = []
    for value in values:
        name = _ARCH_ALIASES.get(str(value).strip().lower(), str(value).strip().lower())
        if name and name not in result:
            result.append(name)
    return result


def text_or_none(value: Any) -> str | None:
    """A stripped string, or None for empty or non-string values."""
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        text = str(value).strip()
        return text or None
    return None


def url_or_none(value: Any) -> str | None:
    """An http(s) URL, or None."""
    text = text_or_none(value)
    return text if text and _URL.match(text) else None
