"""Runtime settings: typed, validated, cached in memory, changes audited."""

from __future__ import annotations

from typing import Any

import structlog

from tomo.database.repositories.settings import SettingsRepository
from tomo.database.types import utcnow
from tomo.errors import ValidationError
from tomo.lib.mcp.tooling import current_principal
from tomo.models.log import AuditOutcome
from tomo.models.settings import SettingDefinition, SettingType, SettingValue
from tomo.services.logs.audit import AuditService
from tomo.services.settings.registry import BY_KEY, CATEGORIES, SETTINGS

logger = structlog.get_logger("tomo.settings")


def validate_value(definition: SettingDefinition, value: Any) -> Any:
    """Return ``value`` if it fits the definition, else raise ValidationError saying what fits."""
    key, kind = definition.key, definition.type
    if kind is SettingType.BOOL and isinstance(value, bool):
        return value
    if kind is SettingType.INT and isinstance(value, int) and not isinstance(value, bool):
        return _in_range(definition, value)
    if kind is SettingType.FLOAT and isinstance(value, int | float) and not isinstance(value, bool):
        return _in_range(definition, float(value))
    if kind is SettingType.STR and isinstance(value, str) and 0 < len(value) <= 1000:
        return value
    if kind is SettingType.ENUM and value in (definition.options or []):
        return value
    if kind is SettingType.STR_LIST and isinstance(value, list) and all(isinstance(v, str) for v in value):
        return value
    expected = f"one of {definition.options}" if kind is SettingType.ENUM else f"a {kind.value}"
    raise ValidationError(f"Setting '{key}' must be {expected}; got {value!r}.")


def _fmt(bound: float | None) -> str:
    return "unbounded" if bound is None else f"{bound:g}"


def _in_range(definition: SettingDefinition, value: float) -> Any:
    low, high = definition.minimum, definition.maximum
    if (low is not None and value < low) or (high is not None and value > high):
        raise ValidationError(
            f"Setting '{definition.key}' must be between {_fmt(low)} and {_fmt(high)}; got {value:g}."
            " See get_settings_schema for every range."
        )
    return value


class SettingsService:
    """Reads settings from memory; writes go to the database first."""

    def __init__(self, settings_repository: SettingsRepository, audit_service: AuditService) -> None:
        self.repo = settings_repository
        self.audit = audit_service
        self._values: dict[str, Any] = {}

    async def load(self) -> None:
        """Load stored values (unknown or invalid stored keys are ignored)."""
        stored = await self.repo.load_all()
        self._values = {}
        for key, value in stored.items():
            if key in BY_KEY:
                try:
                    self._values[key] = validate_value(BY_KEY[key], value)
                except ValidationError:
                    continue

    def get(self, key: str) -> Any:
        """The current value of a setting (its default when never changed)."""
        return self._values.get(key, BY_KEY[key].default)

    def values(self, category: str | None = None) -> list[SettingValue]:
        """Every setting of a category (or all) with value and default."""
        if category is not None and category not in CATEGORIES:
            raise ValidationError(f"Unknown settings category '{category}'; use one of {CATEGORIES}.")
        return [
            SettingValue(
                **d.model_dump(exclude={"secret"}),
                value="***" if d.secret else self.get(d.key),
                is_default=d.key not in self._values,
            )
            for d in SETTINGS
            if category is None or d.category == category
        ]

    async def update(self, changes: dict[str, Any]) -> tuple[dict[str, Any], list[int]]:
        """Validate every change first, then store them together; returns changed keys and audit ids."""
        if not changes:
            raise ValidationError("No settings given: pass e.g. {'allow_local_servers': true}.")
        unknown = sorted(set(changes) - set(BY_KEY))
        if unknown:
            raise ValidationError(f"Unknown settings {unknown}; get_settings_schema lists the valid keys.")
        validated = {key: validate_value(BY_KEY[key], value) for key, value in changes.items()}
        changed = {k: v for k, v in validated.items() if v != self.get(k)}
        to_store = {k: v for k, v in changed.items() if v != BY_KEY[k].default}
        to_remove = [k for k in changed if k not in to_store]
        return changed, await self._save(changed, to_store, to_remove)

    async def reset(self, category: str | None = None) -> list[str]:
        """Return every setting of a category (or all) to its default; returns the keys reset."""
        keys = [s.key for s in self.values(category) if not s.is_default]
        await self._save({k: BY_KEY[k].default for k in keys}, {}, keys)
        return keys

    async def _save(self, changed: dict[str, Any], to_store: dict[str, Any], to_remove: list[str]) -> list[int]:
        if not changed:
            return []
        principal = current_principal()
        old = {k: self.get(k) for k in changed}
        await self.repo.save(to_store, to_remove, principal.username if principal else None, utcnow())
        for key in to_remove:
            self._values.pop(key, None)
        self._values.update(to_store)
        logger.info("settings_changed", keys=sorted(changed), by=principal.username if principal else None)
        return [
            await self.audit.record(principal, "setting_changed", {"key": k, "old": old[k], "new": v},
                                    AuditOutcome.SUCCESS)
            for k, v in changed.items()
        ]
