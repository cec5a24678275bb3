"""Who a call runs as: stdio's configured user, the bootstrap admin, and roles on every tool."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from fastmcp import Client
from tests.authkit import PASSWORD, act_as_user, make_user, ready, table_rows
from tests.conftest import ToolCaller

from tomo.lib.config import TomoConfig
from tomo.main import TomoApp, build_app
from tomo.models.principal import Role

# State-changing tools TOOLS.md grants viewers (V): their own account, ratings, their notifications.
SELF_SERVICE = {"logout", "change_password", "revoke_session", "create_api_token", "revoke_api_token",
                "rate_marketplace_app", "mark_notification_read", "dismiss_notification"}
ADMIN_ONLY = {"create_initial_admin", "create_user", "update_user", "delete_user", "list_users", "reset_user_password",
              "get_locked_accounts", "unlock_account", "update_settings", "reset_settings", "get_audit_log",
              "purge_logs"}
STATE_TABLES = ("users", "sessions", "api_tokens", "settings", "lockouts", "jobs")


@pytest.fixture
async def stdio_as(tmp_path: Path) -> AsyncIterator[Any]:
    apps: list[TomoApp] = []

    async def build(user: str | None) -> tuple[TomoApp, ToolCaller, Client[Any]]:
        app = build_app(TomoConfig(data_dir=tmp_path / "data", user=user))
        apps.append(app)
        client = Client(app.mcp)
        await client.__aenter__()
        clients.append(client)
        return app, ToolCaller(client), client

    clients: list[Client[Any]] = []
    yield build
    for client in clients:
        await client.__aexit__(None, None, None)


async def test_stdio_without_users_is_the_bootstrap_admin(call: ToolCaller) -> None:
    principal = (await call("health_check", detailed=True)).data["principal"]
    assert principal == {"username": "local-admin", "role": "admin", "transport": "stdio", "bootstrap": True}


async def test_stdio_acts_as_the_first_admin_once_users_exist(call: ToolCaller, tomo_app: TomoApp) -> None:
    await make_user(tomo_app, "first")
    await make_user(tomo_app, "second")
    principal = (await call("health_check", detailed=True)).data["principal"]
    assert (principal["username"], principal["bootstrap"]) == ("first", False)


async def test_stdio_acts_as_the_configured_user(stdio_as: Any) -> None:
    app, call, _ = await stdio_as("bob")
    await ready(app)
    await make_user(app, "root")
    await make_user(app, "bob", Role.VIEWER)
    principal = (await call("health_check", detailed=True)).data["principal"]
    assert (principal["username"], principal["role"]) == ("bob", "viewer")
    assert (await call("update_settings", settings={"allow_local_servers": True})).error == "PERMISSION_DENIED"


@pytest.mark.parametrize("state", ["missing", "inactive"])
async def test_stdio_refuses_calls_when_the_configured_user_is_unusable(stdio_as: Any, state: str) -> None:
    app, call, client = await stdio_as("bob")
    await ready(app)
    root = await make_user(app, "root")
    if state == "inactive":
        bob = await make_user(app, "bob", Role.ADMIN)
        await app.services["user_service"].users.update(bob.id, {"active": False})
    answer = await call("list_jobs")
    assert answer.error == "PERMISSION_DENIED"
    assert "'bob'" in answer.envelope["message"] and "--user" in answer.envelope["message"]
    assert {t.name for t in await client.list_tools()} == {"login", "health_check"}
    assert root.username == "root"


async def test_denied_before_argument_validation(call: ToolCaller, tomo_app: TomoApp) -> None:
    await make_user(tomo_app, "root")
    await act_as_user(tomo_app, "vic", Role.VIEWER)
    answer = await call("update_settings", settings="not even a dict")
    assert answer.error == "PERMISSION_DENIED"


async def test_viewer_is_denied_every_state_changing_tool_and_nothing_changes(
    call: ToolCaller, tomo_app: TomoApp, tomo_config: TomoConfig
) -> None:
    await make_user(tomo_app, "root")
    await act_as_user(tomo_app, "vic", Role.VIEWER)
    before = table_rows(tomo_config.data_dir, *STATE_TABLES)
    denied = [name for name, policy in tomo_app.policies.items()
              if not policy.read_only and not policy.public and name not in SELF_SERVICE]
    assert {"update_settings", "cancel_job", "create_user", "purge_logs"} <= set(denied)
    for name in denied:
        answer = await call(name)
        assert answer.error == "PERMISSION_DENIED", (name, answer.envelope)
    assert table_rows(tomo_config.data_dir, *STATE_TABLES) == before


async def test_operator_cannot_manage_users_or_settings(
    call: ToolCaller, tomo_app: TomoApp, tomo_config: TomoConfig
) -> None:
    await make_user(tomo_app, "root")
    await act_as_user(tomo_app, "olga", Role.OPERATOR)
    before = table_rows(tomo_config.data_dir, *STATE_TABLES)
    for name in sorted(ADMIN_ONLY):
        answer = await call(name)
        assert answer.error == "PERMISSION_DENIED", (name, answer.envelope)
    assert table_rows(tomo_config.data_dir, *STATE_TABLES) == before


async def test_tools_list_matches_what_each_role_may_call(tomo_app: TomoApp) -> None:
    await ready(tomo_app)
    await make_user(tomo_app, "root")
    for role in Role:
        await act_as_user(tomo_app, f"user-{role.value}", role)
        async with Client(tomo_app.mcp) as client:
            names = {tool.name for tool in await client.list_tools()}
        expected = {n for n, p in tomo_app.policies.items() if p.public or role.rank >= p.role.rank}
        assert names == expected
        assert (role is Role.ADMIN) == ("create_user" in names)


def test_tool_roles_fit_the_architecture(tomo_app: TomoApp) -> None:
    policies = tomo_app.policies
    assert {n for n, p in policies.items() if p.public} == {"login", "health_check"}
    assert all(policies[name].role is Role.ADMIN for name in ADMIN_ONLY)
    viewer_tools = {n for n, p in policies.items() if p.role is Role.VIEWER and not p.public}
    assert {n for n in viewer_tools if not policies[n].read_only} <= SELF_SERVICE



async def test_http_principal_is_checked_once_per_request_and_kept_in_its_scope(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = build_app(TomoConfig(data_dir=tmp_path / "data"), transport="http")
    await ready(app)
    await make_user(app, "root")
    token = (await app.services["auth_service"].login("root", PASSWORD, "192.0.2.1", None, "http")).token
    identity = app.services["identity_service"]
    checks: list[str] = []
    original = identity.authenticate

    async def counting(value: str) -> Any:
        checks.append(value)
        return await original(value)

    request = SimpleNamespace(scope={"type": "http", "headers": [(b"authorization", f"Bearer {token}".encode())]})
    monkeypatch.setattr(identity, "authenticate", counting)
    monkeypatch.setattr("tomo.services.auth.identity._current_request", lambda: request)
    first, second = await identity.resolve(), await identity.resolve()
    assert first == second and first.username == "root" and len(checks) == 1
    request.scope = {"type": "http", "headers": []}
    assert (await identity.resolve()).role is None
    await app.database.dispose()
