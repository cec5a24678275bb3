"""Log entries and audit records as clients see them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from tomo.models.base import TomoModel


class LogLevel(StrEnum):
    """Severity of a stored log entry."""

    DEBUG = "DEBUG"
    INFO = "INFO"
    WARNING = "WARNING"
    ERROR = "ERROR"


class LogEntry(TomoModel):
    """One stored event (``log_event``)."""

    id: int
    timestamp: datetime
    level: LogLevel
    source: str
    message: str
    tags: list[str]
    metadata: dict[str, Any]


class AuditOutcome(StrEnum):
    """How a state-changing call ended."""

    SUCCESS = "success"
    ERROR = "error"
    DENIED = "denied"
    CANCELLED = "cancelled"


class AuditEntry(TomoModel):
    """Who did what, with redacted arguments, outcome and duration."""

    id: int
    timestamp: datetime
    user_id: str | None
    username: str | None
    transport: str | None
    tool: str
    arguments: dict[str, Any]
    outcome: AuditOutcome
    error_code: str | None
    detail: str | None
    duration_ms: float


@dataclass(frozen=True)
class LogQuery:
    """Filters for stored log entries."""

    level: str | None = None
    source: str | None = None
    search: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    limit: int = 100
    offset: int = 0


@dataclass(frozen=True)
class AuditQuery:
    """Filters for audit records."""

    user: str | None = None
    tool: str | None = None
    outcome: str | None = None
    since: datetime | None = None
    limit: int = 100
    offset: int = 0
