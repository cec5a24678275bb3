"""Installation records. The encrypted ``secrets`` column travels as an opaque token; nothing here decrypts."""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from tomo.database.engine import Database, duplicate_as
from tomo.database.paging import fetch_page
from tomo.database.tables_apps import installations

HISTORY_LIMIT = 20


@dataclass
class InstallationRecord:
    """One row of ``installations``; ``secrets`` is the Fernet token of the secret input values."""

    id: str
    server_id: str
    name: str
    app_id: str
    app_title: str
    app_version: str
    status: str
    inputs: dict[str, Any]
    ports: list[dict[str, Any]]
    project_dir: str
    created_at: datetime
    updated_at: datetime
    secrets: str | None = None
    status_note: str | None = None
    services: list[dict[str, Any]] = field(default_factory=list)
    urls: list[str] = field(default_factory=list)
    history: list[dict[str, Any]] = field(default_factory=list)
    last_job_id: str | None = None
    created_by: str | None = None
    status_checked_at: datetime | None = None
    trail: dict[str, Any] | None = None

    def values(self) -> dict[str, Any]:
        """The row as column values."""
        return dict(self.__dict__)


def _record(row: sa.Row[Any]) -> InstallationRecord:
    return InstallationRecord(**dict(row._mapping))


def _unique_name(name: str) -> AbstractContextManager[None]:
    return duplicate_as(
        f"An installation named '{name}' already exists on this server; pick another name with "
        "config.name, or manage that one (get_installation, update_app, uninstall_app)."
    )


class InstallationRepository:
    """Reads and writes the ``installations`` table."""

    def __init__(self, database: Database) -> None:
        self.database = database

    async def insert(self, record: InstallationRecord) -> None:
        async with self.database.begin() as conn:
            with _unique_name(record.name):
                await conn.execute(installations.insert().values(**record.values()))

    async def get(self, installation_id: str) -> InstallationRecord | None:
        query = sa.select(installations).where(installations.c.id == installation_id)
        async with self.database.connect() as conn:
            row = (await conn.execute(query)).first()
        return _record(row) if row else None

    async def find_by_name(self, server_id: str, name: str) -> InstallationRecord | None:
        query = sa.select(installations).where(installations.c.server_id == server_id, installations.c.name == name)
        async with self.database.connect() as conn:
            row = (await conn.execute(query)).first()
        return _record(row) if row else None

    async def list_all(self, server_id: str | None = None) -> list[InstallationRecord]:
        query = sa.select(installations).order_by(installations.c.server_id, installations.c.name)
        if server_id is not None:
            query = query.where(installations.c.server_id == server_id)
        async with self.database.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [_record(row) for row in rows]

    async def page(self, server_id: str | None, limit: int, offset: int) -> tuple[list[InstallationRecord], int]:
        """Installations by server and name from ``offset`` (at most ``limit``), and how many match."""
        query = sa.select(installations).order_by(installations.c.server_id, installations.c.name)
        if server_id is not None:
            query = query.where(installations.c.server_id == server_id)
        async with self.database.connect() as conn:
            rows, total = await fetch_page(conn, query, limit, offset)
        return [InstallationRecord(**row) for row in rows], total

    async def update(self, installation_id: str, values: dict[str, Any]) -> None:
        async with self.database.begin() as conn:
            await conn.execute(installations.update().where(installations.c.id == installation_id).values(**values))

    async def add_event(self, installation_id: str, event: dict[str, Any], values: dict[str, Any]) -> None:
        """Append to the history (keeping the last HISTORY_LIMIT events) and update other columns."""
        async with self.database.begin() as conn:
            query = sa.select(installations.c.history).where(installations.c.id == installation_id)
            history = list((await conn.execute(query)).scalar() or [])
            history = [*history, event][-HISTORY_LIMIT:]
            await conn.execute(
                installations.update().where(installations.c.id == installation_id).values(history=history, **values)
            )

    async def delete(self, installation_id: str) -> None:
        async with self.database.begin() as conn:
            await conn.execute(installations.delete().where(installations.c.id == installation_id))

    async def count_on_server(self, server_id: str) -> int:
        query = sa.select(sa.func.count()).select_from(installations).where(installations.c.server_id == server_id)
        async with self.database.connect() as conn:
            return int((await conn.execute(query)).scalar_one())

    async def app_ids(self) -> set[str]:
        """Marketplace app ids with at least one installation."""
        async with self.database.connect() as conn:
            rows = await conn.execute(sa.select(installations.c.app_id).distinct())
            return {str(row[0]) for row in rows}
