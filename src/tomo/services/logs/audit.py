"""The audit trail: who called which state-changing tool, with what outcome.

Tool calls that finish together are written in one transaction (group commit): while one batch
is being written, the records that arrive wait and go in the next. Each ``record_call`` still
returns only once its own record is stored, so a call never reports success before its audit
record exists; a burst of calls just costs one database write per batch instead of one each.
"""

from __future__ import annotations

import asyncio
from typing import Any

from tomo.database.repositories.logs import LogRepository
from tomo.database.types import utcnow
from tomo.lib.redaction import redact
from tomo.models.log import AuditEntry, AuditOutcome, AuditQuery
from tomo.models.principal import Principal


class AuditService:
    """Writes and reads audit records; arguments are always stored redacted."""

    def __init__(self, log_repository: LogRepository) -> None:
        self.repo = log_repository
        self._waiting: list[tuple[dict[str, Any], asyncio.Future[None]]] = []
        self._writer: asyncio.Task[None] | None = None

    async def record_call(
        self,
        principal: Principal,
        tool: str,
        arguments: dict[str, Any],
        outcome: AuditOutcome,
        error_code: str | None,
        duration_ms: float,
    ) -> None:
        """Record one tool call (the tool wrapper calls this for every state-changing tool); group-committed."""
        row = _row(principal, tool, arguments, outcome, error_code, None, duration_ms)
        stored = asyncio.get_running_loop().create_future()
        stored.add_done_callback(_mark_retrieved)
        self._waiting.append((row, stored))
        if self._writer is None:
            self._writer = asyncio.create_task(self._write_batches())
        await asyncio.shield(stored)  # a caller that gives up does not take others' records with it

    async def _write_batches(self) -> None:
        try:
            while self._waiting:
                batch, self._waiting = self._waiting, []
                try:
                    await self.repo.add_audits([row for row, _ in batch])
                except Exception as exc:
                    _settle(batch, exc)
                else:
                    _settle(batch, None)
        except BaseException as exc:  # cancelled (shutdown): nobody may wait forever
            _settle(self._waiting, exc)
            self._waiting = []
            raise
        finally:
            self._writer = None

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
        return await self.repo.add_audit(_row(principal, action, arguments, outcome, error_code, detail, duration_ms))

    async def query(self, query: AuditQuery) -> tuple[list[AuditEntry], int]:
        """Audit records matching the filters, newest first, with the total count."""
        return await self.repo.query_audit(query)


def _row(
    principal: Principal | None,
    action: str,
    arguments: dict[str, Any],
    outcome: AuditOutcome,
    error_code: str | None,
    detail: str | None,
    duration_ms: float,
) -> dict[str, Any]:
    return {
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


def _settle(batch: list[tuple[dict[str, Any], asyncio.Future[None]]], error: BaseException | None) -> None:
    for _, stored in batch:
        if stored.done():
            continue
        if error is None:
            stored.set_result(None)
        elif isinstance(error, asyncio.CancelledError):
            stored.cancel()
        else:
            stored.set_exception(error)


def _mark_retrieved(stored: asyncio.Future[None]) -> None:
    """A failure nobody awaits any more (its caller was cancelled) is not logged as 'never retrieved'."""
    if not stored.cancelled():
        stored.exception()
