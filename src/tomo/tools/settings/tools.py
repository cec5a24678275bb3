"""Settings tools."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field

from tomo.lib.mcp.tooling import tomo_tool
from tomo.models.common import Reply
from tomo.models.principal import Role
from tomo.services.settings.registry import SETTINGS
from tomo.services.settings.settings import SettingsService

Category = Annotated[str | None, Field(description="Settings category, e.g. 'servers'; omit for all.")]


class SettingsTools:
    """Read and change Tomo's runtime settings."""

    def __init__(self, settings_service: SettingsService) -> None:
        self.settings = settings_service

    @tomo_tool(read_only=True, idempotent=True, title="Get settings")
    async def get_settings(self, category: Category = None) -> Reply:
        """Show Tomo's settings with their current value, default, type and description.

        Secret values are masked. Categories: jobs, logs, servers, ssh, security.
        """
        values = self.settings.values(category)
        return Reply(f"{len(values)} setting(s).", {"settings": values})

    @tomo_tool(role=Role.ADMIN, idempotent=True, title="Update settings")
    async def update_settings(
        self,
        settings: Annotated[
            dict[str, Any], Field(description="Setting key to new value, e.g. {'allow_local_servers': true}.")
        ],
    ) -> Reply:
        """Change one or more settings at once; all are validated before any is stored.

        Each change is audited with its old and new value. An unknown key, a wrong type or an
        out-of-range value rejects the whole call; get_settings_schema lists keys, types and ranges.
        """
        changed, audit_ids = await self.settings.update(settings)
        message = f"Changed {len(changed)} setting(s)." if changed else "Nothing changed: the values were already set."
        return Reply(message, {"changed": changed, "audit_ids": audit_ids})

    @tomo_tool(role=Role.ADMIN, destructive=True, idempotent=True, title="Reset settings")
    async def reset_settings(self, category: Category = None, confirm: bool = False) -> Reply:
        """Return settings (one category, or all) to their defaults.

        Destructive: custom values are lost (each reset is audited). Call with confirm=true after the
        user agreed; without it nothing changes.

        Args:
            confirm: must be true to proceed.
        """
        keys = await self.settings.reset(category)
        return Reply(f"Reset {len(keys)} setting(s) to default.", {"reset": keys})

    @tomo_tool(read_only=True, idempotent=True, title="Settings schema")
    async def get_settings_schema(self) -> Reply:
        """Describe every setting: key, category, type, default, allowed range or options, description.

        Use it before update_settings to know what values are accepted.
        """
        return Reply(f"{len(SETTINGS)} settings.", {"settings": [d.model_dump(exclude_none=True) for d in SETTINGS]})
