"""Login, login tokens (JWT bound to a session), logout and sessions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import jwt
import pytest
from tests.authkit import PASSWORD, act_as, login, make_user, principal_for, ready
from tests.conftest import ToolCaller

from tomo.errors import AuthenticationFailed, InvalidToken
from tomo.lib.security import decode_jwt, encode_jwt
from tomo.main import TomoApp
from tomo.models.principal import Role


async def test_login_tool_returns_a_bearer_token_with_the_user(call: ToolCaller, tomo_app: TomoApp) -> None:
    await make_user(tomo_app, "alice", Role.OPERATOR)
    answer = await call("login", username="Alice", password=PASSWORD)
    assert answer.envelope["success"] is True
    data = answer.data
    assert data["token_type"] == "bearer"
    assert data["user"]["username"] == "alice" and data["user"]["role"] == "operator"
    assert "password_hash" not in str(data) and PASSWORD not in str(data)


async def test_jwt_carries_the_required_claims_and_lasts_session_hours(tomo_app: TomoApp) -> None:
    await ready(tomo_app)
    user = await make_user(tomo_app, "alice")
    result = await login(tomo_app, "alice")
    secret = await tomo_app.services["auth_service"].secret()
    claims = jwt.decode(result.token, secret, algorithms=["HS256"], issuer="tomo")
    assert set(claims) == {"sub", "role", "sid", "iss", "iat", "exp", "jti"}
    assert (claims["sub"], claims["role"], claims["sid"]) == (user.id, "admin", result.session_id)
    assert claims["exp"] - claims["iat"] == 24 * 3600


async def test_wrong_and_unknown_logins_fail_alike(tomo_app: TomoApp) -> None:
    await ready(tomo_app)
    await make_user(tomo_app, "alice")
    with pytest.raises(AuthenticationFailed) as wrong:
        await login(tomo_app, "alice", "not the right passphrase")
    with pytest.raises(AuthenticationFailed) as unknown:
        await login(tomo_app, "mallory", "not the right passphrase")
    assert wrong.value.message == unknown.value.message


async def test_unknown_user_still_costs_a_password_verification(tomo_app: TomoApp) -> None:
    await ready(tomo_app)
    await make_user(tomo_app, "alice")
    hasher = tomo_app.services["auth_service"].hasher
    calls: list[str] = []
    original = hasher.verify

    async def counting(stored: str, password: str) -> bool:
        calls.append(stored)
        return await original(stored, password)

    hasher.verify = counting
    with pytest.raises(AuthenticationFailed):
        await login(tomo_app, "nobody-here", "some wrong passphrase")
    assert len(calls) == 1 and calls[0].startswith("$argon2id$")


async def test_logout_ends_the_session_at_once(call: ToolCaller, tomo_app: TomoApp) -> None:
    await make_user(tomo_app, "alice")
    token = (await call("login", username="alice", password=PASSWORD)).data["token"]
    principal = await principal_for(tomo_app, token)
    act_as(tomo_app, principal)
    assert (await call("logout")).envelope["success"] is True
    with pytest.raises(InvalidToken):
        await principal_for(tomo_app, token)


@pytest.mark.parametrize("case", ["other-secret", "alg-none", "expired", "wrong-issuer", "garbage", "no-sid"])
async def test_forged_or_stale_jwts_are_refused(tomo_app: TomoApp, case: str) -> None:
    await ready(tomo_app)
    user = await make_user(tomo_app, "alice")
    session_id = (await login(tomo_app, "alice")).session_id
    secret = await tomo_app.services["auth_service"].secret()
    now = datetime.now(UTC)
    claims = {"sub": user.id, "role": "admin", "sid": session_id, "iss": "tomo", "iat": int(now.timestamp()),
              "exp": int((now + timedelta(hours=1)).timestamp()), "jti": "x"}
    tokens = {
        "other-secret": jwt.encode(claims, b"another-secret-of-32-bytes-length!!", algorithm="HS256"),
        "alg-none": jwt.encode(claims, None, algorithm="none"),
        "expired": encode_jwt(secret, user.id, "admin", session_id, now - timedelta(hours=2), now - timedelta(hours=1)),
        "wrong-issuer": jwt.encode({**claims, "iss": "evil"}, secret, algorithm="HS256"),
        "garbage": "eyJhbGciOiJIUzI1NiJ9.bm9wZQ.bm9wZQ",
        "no-sid": jwt.encode({k: v for k, v in claims.items() if k != "sid"}, secret, algorithm="HS256"),
    }
    with pytest.raises(InvalidToken):
        await principal_for(tomo_app, tokens[case])


async def test_role_comes_from_the_user_record_not_the_token(tomo_app: TomoApp) -> None:
    await ready(tomo_app)
    await make_user(tomo_app, "root")
    bob = await make_user(tomo_app, "bob", Role.ADMIN)
    token = (await login(tomo_app, "bob")).token
    await tomo_app.services["user_service"].update(bob.id, Role.VIEWER, None)
    assert decode_jwt(await tomo_app.services["auth_service"].secret(), token).role == "admin"
    assert (await principal_for(tomo_app, token)).role is Role.VIEWER


@pytest.mark.parametrize("change", ["deactivate", "delete"])
async def test_token_of_a_disabled_or_deleted_user_is_refused(tomo_app: TomoApp, change: str) -> None:
    await ready(tomo_app)
    await make_user(tomo_app, "root")
    bob = await make_user(tomo_app, "bob", Role.OPERATOR)
    token = (await login(tomo_app, "bob")).token
    users = tomo_app.services["user_service"]
    await (users.update(bob.id, None, False) if change == "deactivate" else users.delete(bob.id))
    with pytest.raises(InvalidToken):
        await principal_for(tomo_app, token)


async def test_sessions_are_listed_and_revocable_by_their_owner(call: ToolCaller, tomo_app: TomoApp) -> None:
    await make_user(tomo_app, "root")
    await make_user(tomo_app, "bob", Role.VIEWER)
    first, second = await login(tomo_app, "bob"), await login(tomo_app, "bob")
    act_as(tomo_app, await principal_for(tomo_app, first.token))
    sessions = (await call("list_sessions")).data["sessions"]
    assert {s["id"] for s in sessions} == {first.session_id, second.session_id}
    assert [s["current"] for s in sessions if s["id"] == first.session_id] == [True]
    assert (await call("revoke_session", session_id=second.session_id)).envelope["success"] is True
    with pytest.raises(InvalidToken):
        await principal_for(tomo_app, second.token)


async def test_viewer_cannot_see_or_revoke_other_users_sessions(call: ToolCaller, tomo_app: TomoApp) -> None:
    root = await make_user(tomo_app, "root")
    await make_user(tomo_app, "bob", Role.VIEWER)
    root_session = await login(tomo_app, "root")
    act_as(tomo_app, await principal_for(tomo_app, (await login(tomo_app, "bob")).token))
    assert (await call("list_sessions", user_id=root.id)).error == "PERMISSION_DENIED"
    assert (await call("revoke_session", session_id=root_session.session_id)).error == "PERMISSION_DENIED"
    assert (await principal_for(tomo_app, root_session.token)).username == "root"


async def test_change_password_keeps_this_session_and_ends_the_others(call: ToolCaller, tomo_app: TomoApp) -> None:
    await make_user(tomo_app, "alice")
    mine, other = await login(tomo_app, "alice"), await login(tomo_app, "alice")
    act_as(tomo_app, await principal_for(tomo_app, mine.token))
    wrong = await call("change_password", current_password="not my passphrase", new_password="brand new passphrase")
    assert wrong.error == "AUTHENTICATION_FAILED"
    answer = await call("change_password", current_password=PASSWORD, new_password="brand new passphrase")
    assert answer.envelope["success"] is True
    assert (await principal_for(tomo_app, mine.token)).username == "alice"
    with pytest.raises(InvalidToken):
        await principal_for(tomo_app, other.token)
    await login(tomo_app, "alice", "brand new passphrase")


async def test_admin_reset_password_ends_all_sessions(call: ToolCaller, tomo_app: TomoApp) -> None:
    await make_user(tomo_app, "root")
    bob = await make_user(tomo_app, "bob", Role.VIEWER)
    session = await login(tomo_app, "bob")
    act_as(tomo_app, await principal_for(tomo_app, (await login(tomo_app, "root")).token))
    weak = await call("reset_user_password", user_id=bob.id, new_password="password1234")
    assert weak.error == "VALIDATION_ERROR"
    assert (await call("reset_user_password", user_id="bob", new_password="fresh start passphrase")).data is None
    with pytest.raises(InvalidToken):
        await principal_for(tomo_app, session.token)
    await login(tomo_app, "bob", "fresh start passphrase")
