"""Server records. The encrypted credentials column only leaves through :meth:`find_with_credentials`."""

from __future__ import annotations

from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from tomo.database.engine import Database, duplicate_as
from tomo.database.one_trip import OneTripSelect
from tomo.database.paging import take_total, with_total
from tomo.database.repositories.instances import InstanceRepository
from tomo.database.tables_servers import servers
from tomo.models.server import Server, SystemInfo

_PUBLIC = [column for column in servers.c if column.name != "credentials"]


def _to_server(row: sa.Row[Any] | dict[str, Any]) -> Server:
    values = dict(row) if isinstance(row, dict) else dict(row._mapping)
    values.pop("credentials", None)
    values.pop("created_by", None)
    info = values.pop("system_info")
    return Server(**values, system_info=SystemInfo.model_validate(info) if info else None)


def _find_by_ref(*columns: sa.ColumnElement[Any]) -> sa.Select[Any]:
    """The server with id ``:ref``, else the one named ``:name`` (lower-cased): built once, run with parameters.

    These lookups run on every server tool call; building the statement each time cost as much as the query.
    """
    ref, name = sa.bindparam("ref", type_=sa.String), sa.bindparam("name", type_=sa.String)
    matches = sa.or_(servers.c.id == ref, sa.func.lower(servers.c.name) == name)
    return sa.select(*columns).where(matches).order_by((servers.c.id == ref).desc()).limit(1)


_FIND = _find_by_ref(*_PUBLIC)
_LIST = OneTripSelect(sa.select(*_PUBLIC).order_by(sa.func.lower(servers.c.name)))
#: list_servers: a page and the total in one trip (the count is on every row).
_PAGE = OneTripSelect(
    with_total(sa.select(*_PUBLIC)).order_by(sa.func.lower(servers.c.name), servers.c.id)
    .limit(sa.bindparam("limit", type_=sa.Integer)).offset(sa.bindparam("offset", type_=sa.Integer))
)
_COUNT = OneTripSelect(sa.select(sa.func.count().label("count")).select_from(servers))
_FIND_WITH_CREDENTIALS = _find_by_ref(*servers.c)


def _unique_name(name: str | None) -> AbstractContextManager[None]:
    return duplicate_as(
        f"A server named '{name}' already exists; pick another name, or change that server with update_server."
    )


#: Columns that change how a server is reached: another instance's cached SSH target is then stale.
_REACH = frozenset({"name", "host", "port", "username", "credentials", "host_key_fingerprint"})


class ServerRepository:
    """Reads and writes the ``servers`` table."""

    def __init__(self, database: Database) -> None:
        self.database = database

    async def insert(self, values: dict[str, Any]) -> None:
        async with self.database.begin() as conn:
            with _unique_name(values.get("name")):
                await conn.execute(servers.insert().values(**values))

    async def find(self, ref: str) -> Server | None:
        """The server with this id, else the one with this name (case-insensitive)."""
        async with self.database.connect() as conn:
            row = (await conn.execute(_FIND, {"ref": ref, "name": ref.lower()})).first()
        return _to_server(row) if row else None

    async def find_with_credentials(self, ref: str) -> tuple[Server, str] | None:
        """Like :meth:`find`, plus the encrypted credentials token."""
        async with self.database.connect() as conn:
            row = (await conn.execute(_FIND_WITH_CREDENTIALS, {"ref": ref, "name": ref.lower()})).first()
        return (_to_server(row), row.credentials) if row else None

    async def name_owner(self, name: str) -> str | None:
        """The id of the server called ``name`` (case-insensitive), if any."""
        query = sa.select(servers.c.id).where(sa.func.lower(servers.c.name) == name.lower())
        async with self.database.connect() as conn:
            return (await conn.execute(query)).scalar()

    async def list_all(self) -> list[Server]:
        return [_to_server(row) for row in await _LIST.all(self.database)]

    async def page(self, limit: int, offset: int) -> tuple[list[Server], int]:
        """Servers by name from ``offset`` (at most ``limit``), and how many there are."""
        rows = await _PAGE.all(self.database, limit=limit, offset=offset)
        total = take_total(rows)
        if total is None:
            total = int((await _COUNT.all(self.database))[0]["count"]) if offset else 0
        return [_to_server(row) for row in rows], total

    async def update(self, server_id: str, values: dict[str, Any]) -> bool:
        async with self.database.begin() as conn:
            with _unique_name(values.get("name")):
                result = await conn.execute(servers.update().where(servers.c.id == server_id).values(**values))
            if result.rowcount and _REACH.intersection(values):
                await InstanceRepository.bump_in(conn, "servers")
        return bool(result.rowcount)

    async def pin_host_key(self, server_id: str, fingerprint: str, now: datetime, *, replace: bool) -> bool:
        """Store the host key; without ``replace`` only when none is pinned yet. Returns whether it was stored."""
        query = servers.update().where(servers.c.id == server_id)
        if not replace:
            query = query.where(servers.c.host_key_fingerprint.is_(None))
        async with self.database.begin() as conn:
            result = await conn.execute(query.values(host_key_fingerprint=fingerprint, host_key_pinned_at=now))
            if result.rowcount:
                await InstanceRepository.bump_in(conn, "servers")
        return bool(result.rowcount)

    async def delete(self, server_id: str) -> bool:
        async with self.database.begin() as conn:
            result = await conn.execute(servers.delete().where(servers.c.id == server_id))
            if result.rowcount:
                await InstanceRepository.bump_in(conn, "servers")
        return bool(result.rowcount)
