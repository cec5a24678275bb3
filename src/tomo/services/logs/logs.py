"""Event logging: structured log line on stderr plus a stored, searchable entry."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import structlog

from tomo.database.repositories.logs import LogRepository
from tomo.database.types import utcnow
from tomo.errors import ValidationError
from tomo.lib.redaction import redact, redact_text
from tomo.models.log import LogEntry, LogLevel, LogQuery

logger = structlog.get_logger("tomo.events")

_ORDER = [LogLevel.DEBUG, LogLevel.INFO, LogLevel.WARNING, LogLevel.ERROR]


class LogService:
    """``log_event`` for services, and the queries behind get_logs / purge_logs."""

    def __init__(self, log_repository: LogRepository) -> None:
        self.repo = log_repository

    async def log_event(
        self,
        source: str,
        level: LogLevel | str,
        message: str,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        """Log an event to stderr and store it (secrets masked in both)."""
        level = LogLevel(level)
        safe_meta = redact(metadata or {})
        safe_message = redact_text(message)
        logger.log(_python_level(level), safe_message, source=source, tags=tags or [], **safe_meta)
        await self.repo.add_log(
            {"timestamp": utcnow(), "level": level.value, "source": source, "message": safe_message,
             "tags": tags or [], "metadata": safe_meta}
        )

    async def get_logs(self, query: LogQuery) -> tuple[list[LogEntry], int]:
        """Stored entries at ``query.level`` or above, newest first, with the total count."""
        levels = None
        if query.level:
            floor = _ORDER.index(LogLevel(query.level))
            levels = [lvl.value for lvl in _ORDER[floor:]]
        return await self.repo.query_logs(query, levels)

    async def purge(self, older_than_days: int) -> int:
        """Delete stored entries older than the given number of days; returns how many."""
        if older_than_days < 0:
            raise ValidationError("older_than_days must be 0 or more.")
        cutoff: datetime = utcnow() - timedelta(days=older_than_days)
        return await self.repo.purge_logs(cutoff)


def _python_level(level: LogLevel) -> int:
    return {"DEBUG": 10, "INFO": 20, "WARNING": 30, "ERROR": 40}[level.value]
