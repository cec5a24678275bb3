"""Marketplace records: repositories, their apps (with the search index kept in step), ratings.

Rows come back as plain dicts; the marketplace service turns them into the models clients see.
Every write that adds, changes or removes apps also updates the SQLite full-text index in the same
transaction (see ``search.py``), so the index can never drift from the table.
"""

from __future__ import annotations

from collections.abc import Sequence, Set
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from tomo.database import paging
from tomo.database import tables_marketplace as t
from tomo.database.engine import Database, duplicate_as
from tomo.database.repositories import search
from tomo.database.upsert import upsert
from tomo.models.marketplace import SearchFilters

apps, repos, ratings = t.marketplace_apps, t.marketplace_repos, t.marketplace_ratings


@dataclass(frozen=True)
class StoredApp:
    """What a sync needs to know about an app already stored."""

    id: str
    content_hash: str
    source_path: str
    deprecated: bool


@dataclass
class AppChanges:
    """One sync's writes to a repository's apps, applied in one transaction."""

    insert: list[dict[str, Any]] = field(default_factory=list)
    update: list[dict[str, Any]] = field(default_factory=list)
    delete: list[str] = field(default_factory=list)
    deprecate: list[str] = field(default_factory=list)


class MarketplaceRepository:
    """Reads and writes the marketplace tables."""

    def __init__(self, database: Database) -> None:
        self.database = database

    @property
    def use_fts(self) -> bool:
        """Whether the SQLite FTS5 index is used (only SQLite has it)."""
        return self.database.is_sqlite

    async def insert_repo(self, values: dict[str, Any]) -> None:
        async with self.database.begin() as conn:
            with duplicate_as(f"A repository named '{values['name']}' already exists; see list_repos."):
                await conn.execute(repos.insert().values(**values))

    async def get_repo(self, repo_id: str) -> dict[str, Any] | None:
        async with self.database.connect() as conn:
            row = (await conn.execute(sa.select(repos).where(repos.c.id == repo_id))).first()
        return dict(row._mapping) if row else None

    async def get_repo_by_name(self, name: str) -> dict[str, Any] | None:
        async with self.database.connect() as conn:
            row = (await conn.execute(sa.select(repos).where(repos.c.name == name))).first()
        return dict(row._mapping) if row else None

    async def list_repos(self) -> list[dict[str, Any]]:
        query = sa.select(repos).order_by(repos.c.builtin.desc(), repos.c.name)
        async with self.database.connect() as conn:
            return [dict(row._mapping) for row in await conn.execute(query)]

    async def page_repos(self, limit: int, offset: int) -> tuple[list[dict[str, Any]], int]:
        """Repositories, the built-in one first, then by name, from ``offset``; and how many there are."""
        query = sa.select(repos).order_by(repos.c.builtin.desc(), repos.c.name)
        async with self.database.connect() as conn:
            return await paging.fetch_page(conn, query, limit, offset)

    async def update_repo(self, repo_id: str, values: dict[str, Any]) -> None:
        async with self.database.begin() as conn:
            await conn.execute(repos.update().where(repos.c.id == repo_id).values(**values))

    async def mark_interrupted_syncs(self, message: str, *, keep: Set[str] = frozenset(),
                                     only: str | None = None) -> list[str]:
        """Repositories left ``syncing`` (all, but those in ``keep``; or only ``only``) become ``interrupted``
        with ``message`` as their last error; returns their names."""
        syncing = repos.c.status == "syncing"
        if only is not None:
            syncing = syncing & (repos.c.id == only)
        elif keep:
            syncing = syncing & repos.c.id.not_in(sorted(keep))
        async with self.database.begin() as conn:
            names = list((await conn.execute(sa.select(repos.c.name).where(syncing))).scalars())
            if names:
                await conn.execute(repos.update().where(syncing).values(status="interrupted", last_error=message))
        return names

    async def delete_repo(self, repo_id: str) -> None:
        """Delete a repository with its apps (and their ratings, by cascade)."""
        async with self.database.begin() as conn:
            if self.use_fts:
                await search.unindex_repo(conn, repo_id)
            await conn.execute(apps.delete().where(apps.c.repo_id == repo_id))
            await conn.execute(repos.delete().where(repos.c.id == repo_id))

    async def retire_repo(self, repo_id: str, keep: Sequence[str], values: dict[str, Any], now: datetime) -> None:
        """Delete a repository's apps but ``keep``, which stay deprecated (installations use them), and update the
        repository's row with ``values``; in one transaction."""
        async with self.database.begin() as conn:
            query = sa.select(apps.c.id).where(apps.c.repo_id == repo_id, apps.c.id.not_in(list(keep)))
            gone = [str(app_id) for app_id in (await conn.execute(query)).scalars()]
            if self.use_fts:
                await search.unindex_apps(conn, [*gone, *keep])
            for chunk in search.chunks(gone):
                await conn.execute(apps.delete().where(apps.c.id.in_(chunk)))
            await self._deprecate(conn, keep, now)
            if self.use_fts:
                await search.index_apps(conn, keep)
            await conn.execute(repos.update().where(repos.c.id == repo_id).values(**values))

    async def stored_apps(self, repo_id: str) -> dict[str, StoredApp]:
        """The repository's apps by catalog app id."""
        query = sa.select(apps.c.app_id, apps.c.id, apps.c.content_hash, apps.c.source_path, apps.c.deprecated)
        async with self.database.connect() as conn:
            rows = await conn.execute(query.where(apps.c.repo_id == repo_id))
            return {row.app_id: StoredApp(row.id, row.content_hash, row.source_path, row.deprecated) for row in rows}

    async def apply_changes(self, repo_id: str, changes: AppChanges, now: datetime) -> int:
        """Write one sync's changes and the search index together; returns the repository's app count."""
        async with self.database.begin() as conn:
            if self.use_fts:
                await search.unindex_apps(conn, [*changes.delete, *(row["id"] for row in changes.update),
                                                 *changes.deprecate])
            for chunk in search.chunks(changes.delete):
                await conn.execute(apps.delete().where(apps.c.id.in_(chunk)))
            if changes.update:
                await conn.execute(
                    apps.update().where(apps.c.id == sa.bindparam("target_id")),
                    [{**row, "target_id": row["id"]} for row in changes.update],
                )
            if changes.insert:
                await conn.execute(apps.insert(), changes.insert)
            await self._deprecate(conn, changes.deprecate, now)
            if self.use_fts:
                await search.index_apps(conn, [*(row["id"] for row in [*changes.update, *changes.insert]),
                                               *changes.deprecate])
            count = await conn.execute(sa.select(sa.func.count()).select_from(apps).where(apps.c.repo_id == repo_id))
            return int(count.scalar_one())

    @staticmethod
    async def _deprecate(conn: AsyncConnection, app_ids: Sequence[str], now: datetime) -> None:
        """Flag apps gone upstream but still in use; the empty hash makes their return count as an update."""
        for app_id in app_ids:
            row = (await conn.execute(sa.select(apps.c.data).where(apps.c.id == app_id))).first()
            data = {**(row.data if row else {}), "deprecated": True}
            await conn.execute(apps.update().where(apps.c.id == app_id).values(
                deprecated=True, data=data, content_hash="", updated_at=now))

    async def get_app(self, app_id: str) -> dict[str, Any] | None:
        """One app with its full stored data and its repository's name and state."""
        query = sa.select(apps, repos.c.name.label("repo_name"), repos.c.enabled.label("repo_enabled"))
        query = query.select_from(apps.join(repos, repos.c.id == apps.c.repo_id)).where(apps.c.id == app_id)
        async with self.database.connect() as conn:
            row = (await conn.execute(query)).first()
        return dict(row._mapping) if row else None

    async def ids_for_app_id(self, app_id: str) -> list[str]:
        """Public ids of the apps with this catalog id in enabled repositories (for short ids)."""
        query = sa.select(apps.c.id).select_from(apps.join(repos, repos.c.id == apps.c.repo_id))
        query = query.where(apps.c.app_id == app_id, repos.c.enabled.is_(True)).order_by(repos.c.builtin.desc(),
                                                                                         apps.c.id)
        async with self.database.connect() as conn:
            return list((await conn.execute(query)).scalars())

    async def search(
        self, query: str | None, filters: SearchFilters, limit: int, offset: int
    ) -> tuple[list[dict[str, Any]], int]:
        """A page of app summaries and the total number of matches."""
        terms = search.query_terms(query)
        async with self.database.connect() as conn:
            if not terms:
                return await search.run_page(conn, search.browse_statements(filters), limit, offset)
            if self.use_fts:
                return await search.fts_search(conn, terms, filters, limit, offset)
            return await search.like_search(conn, terms, filters, limit, offset)

    async def category_counts(self) -> dict[str, int]:
        """App counts per category over enabled repositories."""
        query = (
            sa.select(apps.c.category, sa.func.count())
            .select_from(apps.join(repos, repos.c.id == apps.c.repo_id))
            .where(repos.c.enabled.is_(True))
            .group_by(apps.c.category)
        )
        async with self.database.connect() as conn:
            return {row[0]: int(row[1]) for row in await conn.execute(query)}

    async def rate(self, app_id: str, user_key: str, rating: int, now: datetime) -> tuple[float, int]:
        """Record (or replace) one user's rating and refresh the app's average; returns (average, count)."""
        async with self.database.begin() as conn:
            # Raters of one app take turns on its row (SQLite's writes already do), so each average counts every
            # rating committed before it; without the lock, PostgreSQL's snapshots missed concurrent ones.
            await conn.execute(sa.select(apps.c.id).where(apps.c.id == app_id).with_for_update())
            await upsert(conn, ratings, {"app_id": app_id, "user_key": user_key, "rating": rating, "rated_at": now},
                         ["app_id", "user_key"])
            stats = sa.select(sa.func.avg(ratings.c.rating), sa.func.count()).where(ratings.c.app_id == app_id)
            average, count = (await conn.execute(stats)).one()
            average = round(float(average), 2)
            await conn.execute(apps.update().where(apps.c.id == app_id).values(avg_rating=average,
                                                                                rating_count=count))
        return average, int(count)
