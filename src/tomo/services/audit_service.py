"""The audit trail: who called which state-changing tool, with what outcome."""

from __future__ import annotations

from typing import Any

from tomo.database.repositories.logs import AuditQuery, LogRepository
from tomo.database.types import utcnow
from tomo.lib.redaction import redact
from tomo.models.log import AuditEntry, AuditOutcome
from tomo.models.principal import Principal


class AuditService:
    """Writes and reads audit records; arguments are always stored redacted."""

    def __init__(self, log_repository: LogRepository) -> None:
        self.repo = log_repository

    async def record_call(
        self,
        principal: Principal,
        tool: str,
        arguments: dict[str, Any],
        outcome: AuditOutcome,
        error_code: str | None,
        duration_ms: float,
    ) -> None:
        """Record one tool call (the tool wrapper calls this for every state-changing tool)."""
        await self.record(principal, tool, arguments, outcome, error_code=error_code, duration_ms=duration_ms)

    async def record(
        self,
        principal: Principal | None,
        action: str,
        arguments: dict[str, Any],
        outcome: AuditOutcome,
        *,
        error_code: str | None = None,
        detail: str | None = None,
        duration_ms: float = 0.0,
    ) -> int:
        """Record any audited event (tool calls, setting changes, logins); returns the record id."""
        return await self.repo.add_audit(
            {
                "timestamp": utcnow(),
                "user_id": principal.user_id if principal else None,
                "username": principal.username if principal else None,
                "transport": principal.transport if principal else None,
                "tool": action,
                "arguments": redact(arguments),
                "outcome": outcome.value,
                "error_code": error_code,
                "detail": detail,
                "duration_ms": round(duration_ms, 3),
            }
        )

    async def query(self, query: AuditQuery) -> tuple[list[AuditEntry], int]:
        """Audit records matching the filters, newest first, with the total count."""
        return await self.repo.query_audit(query)
