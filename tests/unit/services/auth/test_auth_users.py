"""Users: the first admin, creation rules, admin guards, and the audit trail of every auth event."""

from __future__ import annotations

import asyncio
import json

import pytest
from tests.authkit import OTHER_PASSWORD, PASSWORD, act_as, act_as_user, login, make_user, principal_for, table_rows
from tests.conftest import ToolCaller

from tomo.errors import AccountLocked, AuthenticationFailed
from tomo.lib.config import TomoConfig
from tomo.main import TomoApp
from tomo.models.log import AuditQuery
from tomo.models.principal import Role


async def test_initial_admin_only_while_no_user_exists(call: ToolCaller) -> None:
    first = await call("create_initial_admin", username="alice", password=PASSWORD)
    assert first.data["user"]["role"] == "admin"
    second = await call("create_initial_admin", username="mallory", password=PASSWORD)
    assert second.error in {"CONFLICT", "PERMISSION_DENIED"}


async def test_password_is_stored_as_an_argon2_hash_only(call: ToolCaller, tomo_config: TomoConfig) -> None:
    await call("create_initial_admin", username="alice", password=PASSWORD)
    rows = table_rows(tomo_config.data_dir, "users")["users"]
    assert "$argon2id$" in rows[0] and PASSWORD not in rows[0]


async def test_create_user_rejects_duplicates_weak_and_bad_names(call: ToolCaller, tomo_app: TomoApp) -> None:
    await act_as_user(tomo_app, "root", Role.ADMIN)
    assert (await call("create_user", username="bob", password=PASSWORD, role="viewer")).envelope["success"]
    assert (await call("create_user", username="BOB", password=PASSWORD, role="viewer")).error == "ALREADY_EXISTS"
    assert (await call("create_user", username="carol", password="123456789012", role="viewer")).error == \
        "VALIDATION_ERROR"
    assert (await call("create_user", username="no spaces", password=PASSWORD, role="viewer")).error == \
        "VALIDATION_ERROR"
    assert (await call("create_user", username="dave", password=PASSWORD, role="root")).error == "VALIDATION_ERROR"


async def test_the_same_name_created_twice_at_once_is_one_user_and_one_already_exists(
    call: ToolCaller, tomo_app: TomoApp
) -> None:
    """Both calls pass the duplicate check while their passwords hash; the second insert used to fail as
    DATABASE_ERROR ("try again") instead of saying the name is taken."""
    await act_as_user(tomo_app, "root", Role.ADMIN)
    answers = await asyncio.gather(*(call("create_user", username="bob", password=PASSWORD, role="viewer")
                                     for _ in range(2)))  # fmt: skip
    assert sorted(str(answer.error) for answer in answers) == ["ALREADY_EXISTS", "None"], answers
    users = (await call("list_users")).data["users"]
    assert [user["username"] for user in users].count("bob") == 1


async def test_last_admin_cannot_be_demoted_disabled_or_deleted(call: ToolCaller, tomo_app: TomoApp) -> None:
    root = await make_user(tomo_app, "root")
    other = await act_as_user(tomo_app, "helper", Role.ADMIN)
    assert (await call("update_user", user_id=other.id, active=False)).data["user"]["active"] is False
    for attempt in ({"role": "operator"}, {"active": False}):
        assert (await call("update_user", user_id=root.id, **attempt)).error == "CONFLICT"
    assert (await call("delete_user", user_id=root.id)).error == "CONFLICT"


async def test_admin_cannot_delete_themselves(call: ToolCaller, tomo_app: TomoApp) -> None:
    await make_user(tomo_app, "root")
    me = await act_as_user(tomo_app, "helper", Role.ADMIN)
    answer = await call("delete_user", user_id=me.id)
    assert answer.error == "CONFLICT" and "own account" in answer.envelope["message"]


async def test_user_ids_or_usernames_are_accepted(call: ToolCaller, tomo_app: TomoApp) -> None:
    await act_as_user(tomo_app, "root", Role.ADMIN)
    await make_user(tomo_app, "bob", Role.VIEWER)
    assert (await call("update_user", user_id="bob", role="operator")).data["user"]["role"] == "operator"
    assert (await call("update_user", user_id="nobody", role="operator")).error == "USER_NOT_FOUND"
    assert [u["username"] for u in (await call("list_users")).data["users"]] == ["root", "bob"]


async def test_get_current_user_shows_bootstrap_then_the_signed_in_user(call: ToolCaller, tomo_app: TomoApp) -> None:
    bootstrap = await call("get_current_user")
    assert bootstrap.data["user"]["bootstrap"] is True
    health = await call("health_check", detailed=True)
    assert health.data["principal"]["bootstrap"] is True
    await make_user(tomo_app, "alice", Role.OPERATOR)
    act_as(tomo_app, await principal_for(tomo_app, (await login(tomo_app, "alice")).token))
    me = await call("get_current_user")
    assert (me.data["user"]["username"], me.data["user"]["role"], me.data["auth"]) == ("alice", "operator",
                                                                                         "login session")


async def test_every_auth_event_is_audited_without_secrets(call: ToolCaller, tomo_app: TomoApp) -> None:
    await call("create_initial_admin", username="root", password=PASSWORD)
    root_token = (await call("login", username="root", password=PASSWORD)).data["token"]
    await call("login", username="root", password="wrong wrong wrong")
    act_as(tomo_app, await principal_for(tomo_app, root_token))
    bob = (await call("create_user", username="bob", password=OTHER_PASSWORD, role="viewer")).data["user"]
    await call("update_user", user_id=bob["id"], role="operator")
    await call("reset_user_password", user_id=bob["id"], new_password="another fresh passphrase")
    api_token = (await call("create_api_token", name="ci")).data
    await call("revoke_api_token", token_id=api_token["api_token"]["id"])
    await call("change_password", current_password=PASSWORD, new_password="second passphrase for admin")
    await call("delete_user", user_id=bob["id"])
    await call("logout")
    act_as(tomo_app, None)
    entries, _ = await tomo_app.services["audit_service"].query(_all())
    actions = {e.tool for e in entries}
    assert {"user_created", "login_succeeded", "login_failed", "user_updated", "password_reset", "api_token_created",
            "api_token_revoked", "password_changed", "user_deleted", "logout", "login"} <= actions
    dump = json.dumps([e.model_dump(mode="json") for e in entries])
    for secret in (PASSWORD, OTHER_PASSWORD, "another fresh passphrase", "second passphrase for admin",
                   "wrong wrong wrong", root_token, api_token["token"], "$argon2"):
        assert secret not in dump
    login_call = next(e for e in entries if e.tool == "login")
    assert login_call.arguments == {"username": "root", "password": "***"}


async def test_lockout_is_audited(tomo_app: TomoApp, call: ToolCaller) -> None:
    await make_user(tomo_app, "alice")
    await tomo_app.services["settings_service"].update({"lockout_threshold": 2})
    for _ in range(2):
        with pytest.raises((AuthenticationFailed, AccountLocked)):
            await login(tomo_app, "alice", "guess guess guess")
    entries, _ = await tomo_app.services["audit_service"].query(_all())
    locked = [e for e in entries if e.tool == "account_locked"]
    assert locked and locked[0].arguments["subject"] == "alice"


def _all() -> AuditQuery:
    return AuditQuery(limit=500)
