"""Health tools."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from tomo.errors import PermissionDenied
from tomo.lib.mcp.tooling import current_principal, tomo_tool
from tomo.models.common import Reply
from tomo.models.principal import Role
from tomo.services.health.health import HealthService


class HealthTools:
    """Liveness and self-check."""

    def __init__(self, health_service: HealthService) -> None:
        self.health = health_service

    @tomo_tool(read_only=True, idempotent=True, public=True, title="Health check")
    async def health_check(
        self,
        detailed: Annotated[bool, Field(description="Include database, migrations, SSH pool and disk checks.")] = False,
    ) -> Reply:
        """Check that Tomo is up and report its version and uptime.

        Use this first when something seems wrong, or to confirm the connection works. Anyone may call
        the basic form; detailed=true (any signed-in user) adds the database, migrations, SSH pool,
        scheduler, data directory free space and who you are acting as. Milliseconds; changes nothing.
        """
        if not detailed:
            return Reply("Tomo is running.", self.health.basic())
        principal = current_principal()
        if principal is None or not principal.has_role(Role.VIEWER):
            raise PermissionDenied("The detailed health check needs a signed-in caller; call it with detailed=false.")
        report = await self.health.detailed(principal)
        return Reply(f"Tomo is running ({report['status']}).", report)
