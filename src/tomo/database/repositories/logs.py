"""Stored log entries and the audit log."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from tomo.database.engine import Database
from tomo.database.tables import audit_log, log_entries
from tomo.models.log import AuditEntry, AuditQuery, LogEntry, LogQuery


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


class LogRepository:
    """Reads and writes ``log_entries`` and ``audit_log``."""

    def __init__(self, database: Database) -> None:
        self.database = database

    async def add_log(self, values: dict[str, Any]) -> None:
        async with self.database.begin() as conn:
            await conn.execute(log_entries.insert().values(**values))

    async def add_logs(self, rows: list[dict[str, Any]]) -> None:
        """Store several entries in one transaction."""
        async with self.database.begin() as conn:
            await conn.execute(log_entries.insert(), rows)

    async def add_audit(self, values: dict[str, Any]) -> int:
        async with self.database.begin() as conn:
            result = await conn.execute(audit_log.insert().values(**values).returning(audit_log.c.id))
            return int(result.scalar_one())

    async def add_audits(self, rows: list[dict[str, Any]]) -> None:
        """Insert several audit records (all with the same keys) in one transaction."""
        async with self.database.begin() as conn:
            await conn.execute(audit_log.insert(), rows)

    async def query_logs(self, q: LogQuery, levels: list[str] | None) -> tuple[list[LogEntry], int]:
        conditions: list[sa.ColumnElement[bool]] = []
        if levels:
            conditions.append(log_entries.c.level.in_(levels))
        if q.source:
            conditions.append(log_entries.c.source == q.source)
        if q.search:
            conditions.append(log_entries.c.message.ilike(f"%{_escape_like(q.search)}%", escape="\\"))
        if q.since:
            conditions.append(log_entries.c.timestamp >= q.since)
        if q.until:
            conditions.append(log_entries.c.timestamp <= q.until)
        rows, total = await self._page(log_entries, conditions, q.limit, q.offset)
        return [LogEntry.model_validate(dict(r._mapping)) for r in rows], total

    async def query_audit(self, q: AuditQuery) -> tuple[list[AuditEntry], int]:
        conditions: list[sa.ColumnElement[bool]] = []
        if q.user:
            conditions.append(audit_log.c.username == q.user)
        if q.tool:
            conditions.append(audit_log.c.tool == q.tool)
        if q.outcome:
            conditions.append(audit_log.c.outcome == q.outcome)
        if q.since:
            conditions.append(audit_log.c.timestamp >= q.since)
        rows, total = await self._page(audit_log, conditions, q.limit, q.offset)
        return [AuditEntry.model_validate(dict(r._mapping)) for r in rows], total

    async def _page(
        self, table: sa.Table, conditions: list[sa.ColumnElement[bool]], limit: int, offset: int
    ) -> tuple[list[sa.Row[Any]], int]:
        where = sa.and_(sa.true(), *conditions)
        query = sa.select(table).where(where).order_by(table.c.id.desc()).limit(limit).offset(offset)
        async with self.database.connect() as conn:
            total = (await conn.execute(sa.select(sa.func.count()).select_from(table).where(where))).scalar_one()
            rows = list((await conn.execute(query)).all())
        return rows, int(total)

    async def purge_logs(self, before: datetime) -> int:
        async with self.database.begin() as conn:
            result = await conn.execute(log_entries.delete().where(log_entries.c.timestamp < before))
            return int(result.rowcount)
