"""Stored setting values (only those that differ from the default are kept)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from tomo.database.engine import Database
from tomo.database.repositories.instances import InstanceRepository
from tomo.database.tables import settings
from tomo.database.upsert import upsert


class SettingsRepository:
    """Reads and writes the ``settings`` table."""

    def __init__(self, database: Database) -> None:
        self.database = database

    async def load_all(self) -> dict[str, Any]:
        async with self.database.connect() as conn:
            rows = (await conn.execute(sa.select(settings.c.key, settings.c.value))).all()
        return {row.key: row.value for row in rows}

    async def save(self, values: dict[str, Any], removed: list[str], by: str | None, now: datetime) -> None:
        """Upsert ``values`` and delete ``removed`` keys in one transaction."""
        async with self.database.begin() as conn:
            if removed:
                await conn.execute(settings.delete().where(settings.c.key.in_(removed)))
            for key, value in values.items():
                await upsert(conn, settings, {"key": key, "value": value, "updated_at": now, "updated_by": by}, ["key"])
            await InstanceRepository.bump_in(conn, "settings")
