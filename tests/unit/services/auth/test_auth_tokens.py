"""API tokens: shown once, stored hashed, role-capped, expiring, revocable."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest
from tests.authkit import act_as, act_as_user, login, make_user, principal_for, table_rows
from tests.conftest import ToolCaller

from tomo.errors import InvalidToken
from tomo.lib.config import TomoConfig
from tomo.lib.redaction import redact_text
from tomo.main import TomoApp
from tomo.models.principal import Role


async def test_token_is_shown_once_and_stored_as_sha256(call: ToolCaller, tomo_app: TomoApp,
                                                        tomo_config: TomoConfig) -> None:
    await act_as_user(tomo_app, "root", Role.ADMIN)
    created = (await call("create_api_token", name="claude-desktop", expires_days=30)).data
    token = created["token"]
    assert token.startswith("tomo_") and len(token) >= 40
    assert redact_text(f"Bearer-less {token}") == "Bearer-less ***"
    row = table_rows(tomo_config.data_dir, "api_tokens")["api_tokens"][0]
    assert hashlib.sha256(token.encode()).hexdigest() in row and token not in row
    listed = (await call("list_api_tokens")).data["tokens"]
    assert token not in str(listed) and listed[0]["prefix"] == token[:12]
    principal = await principal_for(tomo_app, token)
    assert (principal.username, principal.role, principal.token_id) == ("root", Role.ADMIN, created["api_token"]["id"])


async def test_revoked_token_stops_working(call: ToolCaller, tomo_app: TomoApp) -> None:
    await act_as_user(tomo_app, "root", Role.ADMIN)
    created = (await call("create_api_token", name="ci")).data
    await call("revoke_api_token", token_id=created["api_token"]["id"])
    with pytest.raises(InvalidToken):
        await principal_for(tomo_app, created["token"])


async def test_expired_token_is_refused(call: ToolCaller, tomo_app: TomoApp) -> None:
    await act_as_user(tomo_app, "root", Role.ADMIN)
    created = (await call("create_api_token", name="short", expires_days=1)).data
    tokens = tomo_app.services["token_service"]
    tokens.clock = lambda: datetime.now(UTC) + timedelta(days=1, minutes=1)
    with pytest.raises(InvalidToken):
        await principal_for(tomo_app, created["token"])


async def test_token_role_cannot_exceed_the_creator(call: ToolCaller, tomo_app: TomoApp) -> None:
    await make_user(tomo_app, "root")
    await act_as_user(tomo_app, "vic", Role.VIEWER)
    refused = await call("create_api_token", name="escalate", role="admin")
    assert refused.error == "PERMISSION_DENIED"
    created = await call("create_api_token", name="mine")
    assert created.data["api_token"]["role"] == "viewer"


async def test_token_is_capped_by_its_owner_current_role(call: ToolCaller, tomo_app: TomoApp) -> None:
    await make_user(tomo_app, "root")
    bob = await act_as_user(tomo_app, "bob", Role.ADMIN)
    token = (await call("create_api_token", name="bob-admin")).data["token"]
    await tomo_app.services["user_service"].update(bob.id, Role.VIEWER, None)
    assert (await principal_for(tomo_app, token)).role is Role.VIEWER


async def test_viewer_sees_and_revokes_only_own_tokens(call: ToolCaller, tomo_app: TomoApp) -> None:
    await act_as_user(tomo_app, "root", Role.ADMIN)
    admin_token = (await call("create_api_token", name="root-token")).data["api_token"]
    await act_as_user(tomo_app, "vic", Role.VIEWER)
    await call("create_api_token", name="vic-token")
    assert [t["name"] for t in (await call("list_api_tokens")).data["tokens"]] == ["vic-token"]
    assert (await call("list_api_tokens", user_id="root")).error == "PERMISSION_DENIED"
    assert (await call("revoke_api_token", token_id=admin_token["id"])).error == "PERMISSION_DENIED"
    assert (await call("create_api_token", name="for-root", user_id="root")).error == "PERMISSION_DENIED"


async def test_admin_creates_tokens_for_others_and_lists_all(call: ToolCaller, tomo_app: TomoApp) -> None:
    await act_as_user(tomo_app, "root", Role.ADMIN)
    await make_user(tomo_app, "bob", Role.OPERATOR)
    made = await call("create_api_token", name="bob-ci", user_id="bob", role="viewer")
    assert made.data["api_token"]["username"] == "bob" and made.data["api_token"]["role"] == "viewer"
    assert {t["username"] for t in (await call("list_api_tokens")).data["tokens"]} == {"bob"}


async def test_bootstrap_admin_has_no_tokens_of_its_own(call: ToolCaller) -> None:
    answer = await call("create_api_token", name="nobody")
    assert answer.error == "CONFLICT" and "bootstrap" in answer.envelope["message"]


async def test_logout_with_an_api_token_explains_revocation(call: ToolCaller, tomo_app: TomoApp) -> None:
    await act_as_user(tomo_app, "root", Role.ADMIN)
    token = (await call("create_api_token", name="ci")).data["token"]
    act_as(tomo_app, await principal_for(tomo_app, token))
    answer = await call("logout")
    assert answer.error == "CONFLICT" and "revoke_api_token" in answer.envelope["message"]
    assert (await login(tomo_app, "root")).token
