"""Runtime settings: typed definitions and current values."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from tomo.models.base import TomoModel


class SettingType(StrEnum):
    """The value type of a setting."""

    BOOL = "bool"
    INT = "int"
    FLOAT = "float"
    STR = "str"
    ENUM = "enum"
    STR_LIST = "str_list"


class SettingDefinition(TomoModel):
    """A setting's schema: type, default, range, description."""

    key: str
    category: str
    type: SettingType
    default: Any
    description: str
    minimum: float | None = None
    maximum: float | None = None
    options: list[str] | None = None
    secret: bool = False


class SettingValue(TomoModel):
    """A setting as get_settings shows it."""

    key: str
    category: str
    type: SettingType
    value: Any
    default: Any
    is_default: bool
    description: str
    minimum: float | None = None
    maximum: float | None = None
    options: list[str] | None = None
