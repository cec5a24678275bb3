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
Since = Annotated[datetime | None, Field(description="Oldest time to include (ISO 8601), e.g. 2026-11-25T08:00:00Z.")]
Until = Annotated[datetime | None, Field(description="Newest time to include (ISO 8601).")]


class LogsTools:
    """Read Tomo's event log and audit trail."""

    def __init__(self, log_service: LogService, audit_service: AuditService) -> None:
        self.logs = log_service
        self.audit = audit_service

    @tomo_tool(read_only=True, idempotent=True, title="Get logs")
    async def get_logs(
        self,
        level: Annotated[LogLevel | None, Field(description="Minimum level (that level and above).")] = None,
        source: Annotated[str | None, Field(max_length=64, description="Only this component, e.g. 'jobs'.")] = None,
        search: Annotated[
            str | None, Field(max_length=200, description="Text the message contains (any case).")
        ] = None,
        since: Since = None,
        until: Until = None,
        limit: Limit = 100,
        offset: Offset = 0,
    ) -> Reply:
        """Search Tomo's stored event log, newest first, with the total number of matches.

        Use it to find out what Tomo did or why something failed (level="ERROR"). Secrets are masked.
        Page with limit/offset.
        """
        query = LogQuery(level=level, source=source, search=search, since=since, until=until,
                         limit=limit, offset=offset)
        entries, total = await self.logs.get_logs(query)
        return Reply(f"{len(entries)} of {total} entries.", {"entries": entries, "total": total})

    @tomo_tool(role=Role.ADMIN, read_only=True, idempotent=True, title="Get audit log")
    async def get_audit_log(
        self,
        user: Annotated[str | None, Field(max_length=128, description="Only calls by this username.")] = None,
        tool: Annotated[
            str | None, Field(max_length=128, description="Only this tool or event, e.g. 'update_settings'.")
        ] = None,
        outcome: Annotated[AuditOutcome | None, Field(description="success, error or denied.")] = None,
        since: Since = None,
        limit: Limit = 100,
        offset: Offset = 0,
    ) -> Reply:
        """Show who changed what: every state-changing call with user, redacted arguments, outcome, duration."""
        query = AuditQuery(user=user, tool=tool, outcome=outcome, since=since, limit=limit, offset=offset)
        entries, total = await self.audit.query(query)
        return Reply(f"{len(entries)} of {total} audit records.", {"entries": entries, "total": total})

    @tomo_tool(role=Role.ADMIN, destructive=True, title="Purge logs")
    async def purge_logs(
        self,
        older_than_days: Annotated[
            int, Field(ge=0, le=36500, description="Delete entries older than this many days; 0 deletes all.")
        ],
        confirm: bool = False,
    ) -> Reply:
        """Delete stored log entries older than a number of days (the audit log is kept).

        Destructive: deleted entries cannot be recovered. Needs confirm=true once the user agreed.

        Args:
            confirm: must be true to proceed.
        """
        deleted = await self.logs.purge(older_than_days)
        return Reply(f"Deleted {deleted} log entries.", {"deleted": deleted})
