"""Helpers for authentication tests: users, logins and acting as someone."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from tomo.main import TomoApp
from tomo.models.principal import Principal, Role
from tomo.models.user import LoginResult, User

PASSWORD = "river otter plays guitar"
OTHER_PASSWORD = "seven lanterns over quiet water"


async def ready(app: TomoApp) -> TomoApp:
    """Migrate and load settings without an MCP session (the client fixture does this through the lifespan)."""
    await app.database.migrate()
    await app.services["settings_service"].load()
    return app


async def make_user(app: TomoApp, username: str, role: Role = Role.ADMIN, password: str = PASSWORD) -> User:
    user: User = await app.services["user_service"].create(username, password, role)
    return user


async def login(app: TomoApp, username: str, password: str = PASSWORD, client_ip: str = "192.0.2.1") -> LoginResult:
    result: LoginResult = await app.services["auth_service"].login(username, password, client_ip, "pytest", "http")
    return result


async def principal_for(app: TomoApp, token: str) -> Principal:
    principal: Principal = await app.services["identity_service"].authenticate(token)
    return principal


def act_as(app: TomoApp, principal: Principal | None) -> None:
    app.services["identity_service"].act_as(principal)


async def act_as_user(app: TomoApp, username: str, role: Role) -> User:
    """Create a user and make every following call run as them."""
    user = await make_user(app, username, role)
    act_as(app, Principal(username=user.username, role=user.role, transport="http", user_id=user.id))
    return user


def table_rows(data_dir: Path, *tables: str) -> dict[str, list[Any]]:
    """Every row of the given tables, read straight from the SQLite file (for 'nothing changed' checks)."""
    with sqlite3.connect(data_dir / "tomo.db") as conn:
        return {t: sorted(map(repr, conn.execute(f"SELECT * FROM {t}").fetchall())) for t in tables}  # noqa: S608
