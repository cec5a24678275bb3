"""Log and audit tools."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import Field

from tomo.lib.mcp.tooling import tomo_tool
from tomo.models.common import Reply
from tomo.models.log import AuditOutcome, AuditQuery, LogLevel, LogQuery
from tomo.models.principal import Role
from tomo.services.logs.audit import AuditService
from tomo.services.logs.logs import LogService

Limit = Annotated[int, Field(ge=1, le=1000, description="Entries per page.")]
Offset = Annotated[int, Field(ge=0, description="Entries to skip (for paging).")]
Since = Annotated[datetime | None, Field(description="ISO 8601 time, e.g. 2026-11-25T08:00:00Z.")]


class LogsTools:
    """Read Tomo's event log and audit trail."""

    def __init__(self, log_service: LogService, audit_service: AuditService) -> None:
        self.logs = log_service
        self.audit = audit_service

    @tomo_tool(read_only=True, idempotent=True, title="Get logs")
    async def get_logs(
        self,
        level: Annotated[LogLevel | None, Field(description="Minimum level.")] = None,
        source: Annotated[str | None, Field(max_length=64, description="Only this source, e.g. 'server'.")] = None,
        search: Annotated[str | None, Field(max_length=200, description="Text the message contains.")] = None,
        since: Since = None,
        until: Since = None,
        limit: Limit = 100,
        offset: Offset = 0,
    ) -> Reply:
        """Search Tomo's stored event log, newest first, with the total number of matches.

        Use it to find out what Tomo did or why something failed (level="ERROR"). Secrets are
        masked in every entry. Page with limit/offset.

        Args:
            level: DEBUG, INFO, WARNING or ERROR (that level and above), e.g. "WARNING".
            source: component that logged, e.g. "jobs".
            search: case-insensitive text, e.g. "timeout".
            since: oldest time to include, e.g. "2026-11-25T08:00:00Z".
            until: newest time to include.
            limit: page size (1-1000), e.g. 100.
            offset: entries to skip, e.g. 100 for the second page.
        """
        query = LogQuery(level=level, source=source, search=search, since=since, until=until,
                         limit=limit, offset=offset)
        entries, total = await self.logs.get_logs(query)
        return Reply(f"{len(entries)} of {total} entries.", {"entries": entries, "total": total})

    @tomo_tool(role=Role.ADMIN, read_only=True, idempotent=True, title="Get audit log")
    async def get_audit_log(
        self,
        user: Annotated[str | None, Field(max_length=128, description="Only calls by this username.")] = None,
        tool: Annotated[str | None, Field(max_length=128, description="Only this tool or event.")] = None,
        outcome: Annotated[AuditOutcome | None, Field(description="success, error or denied.")] = None,
        since: Since = None,
        limit: Limit = 100,
        offset: Offset = 0,
    ) -> Reply:
        """Show who changed what: every state-changing call with user, redacted arguments, outcome, duration.

        Args:
            user: username, e.g. "alice".
            tool: tool name or event, e.g. "update_settings".
            outcome: "success", "error" or "denied".
            since: oldest time to include, e.g. "2026-11-25T08:00:00Z".
            limit: page size (1-1000).
            offset: entries to skip.
        """
        query = AuditQuery(user=user, tool=tool, outcome=outcome, since=since, limit=limit, offset=offset)
        entries, total = await self.audit.query(query)
        return Reply(f"{len(entries)} of {total} audit records.", {"entries": entries, "total": total})

    @tomo_tool(role=Role.ADMIN, destructive=True, title="Purge logs")
    async def purge_logs(
        self,
        older_than_days: Annotated[int, Field(ge=0, le=36500, description="Delete entries older than this.")],
        confirm: bool = False,
    ) -> Reply:
        """Delete stored log entries older than a number of days (the audit log is kept).

        Destructive: deleted entries cannot be recovered. Needs confirm=true.

        Args:
            older_than_days: e.g. 30 deletes everything older than 30 days; 0 deletes all.
            confirm: must be true to proceed.
        """
        deleted = await self.logs.purge(older_than_days)
        return Reply(f"Deleted {deleted} log entries.", {"deleted": deleted})
