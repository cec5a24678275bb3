"""Users, login sessions, API tokens, failed logins and lockouts."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from tomo.database.engine import Database, duplicate_as
from tomo.database.one_trip import OneTripSelect
from tomo.database.paging import fetch_page
from tomo.database.tables_auth import api_tokens, lockouts, login_failures, sessions, users
from tomo.database.upsert import upsert
from tomo.models.principal import Role
from tomo.models.user import ApiToken, Lockout, LockoutKind, LoginSession, User

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncConnection

_USER_COLUMNS = [c for c in users.c if c.name != "password_hash"]


def _to_user(row: sa.Row[Any]) -> User:
    return _owner(row._mapping)


def _owner(values: Mapping[Any, Any], prefix: str = "") -> User:
    return User.model_validate({c.name: values[prefix + c.name] for c in _USER_COLUMNS})


def _to_session(row: sa.Row[Any] | Mapping[str, Any], now: datetime) -> LoginSession:
    m = row._mapping if isinstance(row, sa.Row) else row
    return LoginSession(
        id=m["id"], user_id=m["user_id"], username=m["username"], created_at=m["created_at"],
        expires_at=m["expires_at"], revoked_at=m["revoked_at"], client_ip=m["client_ip"],
        user_agent=m["user_agent"], active=m["revoked_at"] is None and m["expires_at"] > now,
    )


def _to_token(row: sa.Row[Any], now: datetime) -> ApiToken:
    return _token(row._mapping, now)


def _token(m: Mapping[Any, Any], now: datetime) -> ApiToken:
    expired = m["expires_at"] is not None and m["expires_at"] <= now
    return ApiToken(
        id=m["id"], user_id=m["user_id"], username=m["username"], name=m["name"], prefix=m["prefix"],
        role=Role(m["role"]), created_at=m["created_at"], expires_at=m["expires_at"],
        last_used_at=m["last_used_at"], revoked_at=m["revoked_at"], active=m["revoked_at"] is None and not expired,
    )


#: The two lookups behind every bearer-authenticated HTTP call, each one trip to the database (see one_trip.py).
_ACTIVE_SESSION_USER = OneTripSelect(
    sa.select(*_USER_COLUMNS).select_from(sessions.join(users, sessions.c.user_id == users.c.id))
    .where(sessions.c.id == sa.bindparam("session_id"), sessions.c.user_id == sa.bindparam("user_id"),
           sessions.c.revoked_at.is_(None), sessions.c.expires_at > sa.bindparam("now"), users.c.active.is_(True))
)
_USABLE_TOKEN = OneTripSelect(
    sa.select(api_tokens, users.c.username, *[c.label(f"owner__{c.name}") for c in _USER_COLUMNS])
    .select_from(api_tokens.join(users, api_tokens.c.user_id == users.c.id))
    .where(api_tokens.c.token_hash == sa.bindparam("token_hash"), api_tokens.c.revoked_at.is_(None),
           users.c.active.is_(True),
           sa.or_(api_tokens.c.expires_at.is_(None), api_tokens.c.expires_at > sa.bindparam("now")))
)


class UserRepository:
    """Reads and writes the ``users`` table; password hashes only leave through the credential methods.

    ``generation`` counts this process's writes, so in-process caches know when users changed.
    """

    def __init__(self, database: Database) -> None:
        self.database = database
        self.generation = 0

    async def insert(self, values: dict[str, Any]) -> None:
        self.generation += 1
        async with self.database.begin() as conn:
            with duplicate_as(f"A user named '{values['username']}' already exists; pick another name or see "
                              "list_users."):
                await conn.execute(users.insert().values(**values))

    async def get(self, user_id: str) -> User | None:
        return await self._one(users.c.id == user_id)

    async def get_by_username(self, username: str) -> User | None:
        return await self._one(users.c.username == username)

    async def _one(self, condition: sa.ColumnElement[bool]) -> User | None:
        async with self.database.connect() as conn:
            row = (await conn.execute(sa.select(*_USER_COLUMNS).where(condition))).first()
        return _to_user(row) if row else None

    async def credentials(self, username: str) -> tuple[User, str] | None:
        """A user and their password hash, in one query (login's hot path)."""
        async with self.database.connect() as conn:
            row = (await conn.execute(sa.select(users).where(users.c.username == username))).first()
        return (_to_user(row), row.password_hash) if row else None

    async def password_hash(self, user_id: str) -> str | None:
        async with self.database.connect() as conn:
            return (await conn.execute(sa.select(users.c.password_hash).where(users.c.id == user_id))).scalar()

    async def page(self, limit: int, offset: int) -> tuple[list[User], int]:
        """Users, oldest first, from ``offset`` (at most ``limit``), and how many there are."""
        query = sa.select(*_USER_COLUMNS).order_by(users.c.created_at, users.c.id)
        async with self.database.connect() as conn:
            rows, total = await fetch_page(conn, query, limit, offset)
        return [_owner(row) for row in rows], total

    async def update(self, user_id: str, values: dict[str, Any]) -> None:
        self.generation += 1
        async with self.database.begin() as conn:
            await conn.execute(users.update().where(users.c.id == user_id).values(**values))

    async def delete(self, user_id: str) -> None:
        self.generation += 1
        async with self.database.begin() as conn:
            await conn.execute(users.delete().where(users.c.id == user_id))

    async def count(self) -> int:
        async with self.database.connect() as conn:
            return int((await conn.execute(sa.select(sa.func.count()).select_from(users))).scalar_one())

    async def active_admins(self) -> list[User]:
        """Active admins, oldest first (the first one is stdio's default user)."""
        query = (sa.select(*_USER_COLUMNS).where(users.c.role == Role.ADMIN.value, users.c.active.is_(True))
                 .order_by(users.c.created_at, users.c.id))
        async with self.database.connect() as conn:
            return [_to_user(r) for r in (await conn.execute(query)).all()]


class SessionRepository:
    """Reads and writes login sessions."""

    def __init__(self, database: Database) -> None:
        self.database = database

    async def open(self, values: dict[str, Any], username: str, purge_before: datetime) -> None:
        """Start a session after a successful login, in one transaction: insert it, record the login time,
        forget the username's failed logins and drop the user's sessions that expired before ``purge_before``."""
        user_id, now = values["user_id"], values["created_at"]
        async with self.database.begin() as conn:
            await conn.execute(sessions.delete().where(sessions.c.user_id == user_id,
                                                       sessions.c.expires_at < purge_before))
            await conn.execute(sessions.insert().values(**values))
            await conn.execute(users.update().where(users.c.id == user_id).values(last_login_at=now))
            await conn.execute(login_failures.delete().where(login_failures.c.username == username))

    async def active_user(self, session_id: str, user_id: str, now: datetime) -> User | None:
        """The session's user when the session is neither revoked nor expired and the user is active."""
        found = await _ACTIVE_SESSION_USER.first(self.database, session_id=session_id, user_id=user_id, now=now)
        return _owner(found) if found else None

    async def get(self, session_id: str, now: datetime) -> LoginSession | None:
        rows = await self._select(sessions.c.id == session_id, now)
        return rows[0] if rows else None

    async def list_sessions(self, user_id: str | None, now: datetime, limit: int,
                            offset: int) -> tuple[list[LoginSession], int]:
        """A page of the sessions not yet expired (revoked ones included), newest first, and their number."""
        condition: sa.ColumnElement[bool] = sessions.c.expires_at > now
        if user_id is not None:
            condition = condition & (sessions.c.user_id == user_id)
        query = (sa.select(sessions, users.c.username)
                 .select_from(sessions.join(users, sessions.c.user_id == users.c.id))
                 .where(condition).order_by(sessions.c.created_at.desc(), sessions.c.id))
        async with self.database.connect() as conn:
            rows, total = await fetch_page(conn, query, limit, offset)
        return [_to_session(row, now) for row in rows], total

    async def _select(self, condition: sa.ColumnElement[bool], now: datetime) -> list[LoginSession]:
        query = (sa.select(sessions, users.c.username)
                 .select_from(sessions.join(users, sessions.c.user_id == users.c.id))
                 .where(condition).order_by(sessions.c.created_at.desc()).limit(500))
        async with self.database.connect() as conn:
            return [_to_session(r, now) for r in (await conn.execute(query)).all()]

    async def revoke(self, now: datetime, *, session_id: str | None = None, user_id: str | None = None,
                     keep: str | None = None) -> int:
        """Revoke one session, or every session of a user (except ``keep``); returns how many."""
        condition: sa.ColumnElement[bool] = sessions.c.revoked_at.is_(None)
        if session_id is not None:
            condition = condition & (sessions.c.id == session_id)
        if user_id is not None:
            condition = condition & (sessions.c.user_id == user_id)
        if keep is not None:
            condition = condition & (sessions.c.id != keep)
        async with self.database.begin() as conn:
            return int((await conn.execute(sessions.update().where(condition).values(revoked_at=now))).rowcount)


class TokenRepository:
    """Reads and writes API tokens (looked up by the SHA-256 of the secret)."""

    def __init__(self, database: Database) -> None:
        self.database = database

    async def insert(self, values: dict[str, Any]) -> None:
        async with self.database.begin() as conn:
            await conn.execute(api_tokens.insert().values(**values))

    async def find_usable(self, token_hash: str, now: datetime) -> tuple[ApiToken, User] | None:
        """The token and its user when the token is unrevoked, unexpired and the user active."""
        found = await _USABLE_TOKEN.first(self.database, token_hash=token_hash, now=now)
        return (_token(found, now), _owner(found, "owner__")) if found else None

    async def get(self, token_id: str, now: datetime) -> ApiToken | None:
        rows = await self._select(api_tokens.c.id == token_id, now)
        return rows[0] if rows else None

    async def list_tokens(self, user_id: str | None, now: datetime, limit: int,
                          offset: int) -> tuple[list[ApiToken], int]:
        """A page of one user's or everyone's tokens, newest first, and their number."""
        condition: sa.ColumnElement[bool] = sa.true() if user_id is None else api_tokens.c.user_id == user_id
        query = (sa.select(api_tokens, users.c.username)
                 .select_from(api_tokens.join(users, api_tokens.c.user_id == users.c.id))
                 .where(condition).order_by(api_tokens.c.created_at.desc(), api_tokens.c.id))
        async with self.database.connect() as conn:
            rows, total = await fetch_page(conn, query, limit, offset)
        return [_token(row, now) for row in rows], total

    async def _select(self, condition: sa.ColumnElement[bool], now: datetime) -> list[ApiToken]:
        query = (sa.select(api_tokens, users.c.username)
                 .select_from(api_tokens.join(users, api_tokens.c.user_id == users.c.id))
                 .where(condition).order_by(api_tokens.c.created_at.desc()).limit(500))
        async with self.database.connect() as conn:
            return [_to_token(r, now) for r in (await conn.execute(query)).all()]

    async def revoke(self, token_id: str, now: datetime) -> None:
        async with self.database.begin() as conn:
            await conn.execute(api_tokens.update().where(api_tokens.c.id == token_id).values(revoked_at=now))

    async def touch(self, token_id: str, now: datetime) -> None:
        async with self.database.begin() as conn:
            await conn.execute(api_tokens.update().where(api_tokens.c.id == token_id).values(last_used_at=now))


class LockoutRepository:
    """Failed logins (one row each, so counts decay by age) and active lockouts."""

    def __init__(self, database: Database) -> None:
        self.database = database

    async def add_failure(self, username: str, client_ip: str, now: datetime) -> None:
        async with self.database.begin() as conn:
            await conn.execute(login_failures.insert().values(username=username, client_ip=client_ip, failed_at=now))

    async def count_failures(self, kind: LockoutKind, subject: str, since: datetime) -> int:
        column = login_failures.c.username if kind is LockoutKind.USER else login_failures.c.client_ip
        query = sa.select(sa.func.count()).where(column == subject, login_failures.c.failed_at >= since)
        async with self.database.connect() as conn:
            return int((await conn.execute(query)).scalar_one())

    async def purge_failures(self, before: datetime) -> None:
        async with self.database.begin() as conn:
            await conn.execute(login_failures.delete().where(login_failures.c.failed_at < before))

    async def lock(self, lockout: Lockout) -> None:
        """Store a lockout (replacing an older one for the same subject) and forget its failures."""
        async with self.database.begin() as conn:
            await upsert(conn, lockouts, lockout.model_dump(mode="python"), ["kind", "subject"])
            await self._forget_failures(conn, lockout.kind, lockout.subject)

    async def unlock(self, kind: LockoutKind, subject: str) -> int:
        """Remove a lockout and the failures counted for its subject; returns lockouts removed."""
        async with self.database.begin() as conn:
            return await self._remove(conn, kind, subject)

    @classmethod
    async def _remove(cls, conn: AsyncConnection, kind: LockoutKind, subject: str) -> int:
        removed = await conn.execute(lockouts.delete().where(lockouts.c.kind == kind.value,
                                                             lockouts.c.subject == subject))
        await cls._forget_failures(conn, kind, subject)
        return int(removed.rowcount)

    @staticmethod
    async def _forget_failures(conn: AsyncConnection, kind: LockoutKind, subject: str) -> None:
        column = login_failures.c.username if kind is LockoutKind.USER else login_failures.c.client_ip
        await conn.execute(login_failures.delete().where(column == subject))

    async def active(self, now: datetime, subjects: list[tuple[LockoutKind, str]] | None = None) -> list[Lockout]:
        """Lockouts still in force (optionally only for the given subjects), soonest expiry first."""
        condition: sa.ColumnElement[bool] = lockouts.c.locked_until > now
        if subjects is not None:
            condition = condition & sa.or_(
                *[(lockouts.c.kind == kind.value) & (lockouts.c.subject == subject) for kind, subject in subjects]
            )
        query = sa.select(lockouts).where(condition).order_by(lockouts.c.locked_until)
        async with self.database.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [Lockout.model_validate(dict(r._mapping)) for r in rows]
