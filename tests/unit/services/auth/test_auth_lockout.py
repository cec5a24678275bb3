"""Brute-force protection: lockouts per username and per client address, decay, expiry, unlock."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from tests.authkit import PASSWORD, act_as_user, login, make_user, ready
from tests.conftest import ToolCaller

from tomo.errors import AccountLocked, AuthenticationFailed
from tomo.main import TomoApp
from tomo.models.principal import Role

WRONG = "definitely not it"


class Clock:
    """A settable clock shared by the lockout service."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
async def clock(tomo_app: TomoApp) -> Clock:
    await ready(tomo_app)
    clock = Clock()
    tomo_app.services["lockout_service"].clock = clock
    return clock


async def fail(app: TomoApp, times: int, username: str = "alice", client_ip: str = "192.0.2.1") -> None:
    for _ in range(times):
        with pytest.raises((AuthenticationFailed, AccountLocked)):
            await login(app, username, WRONG, client_ip)


async def expect_locked(attempt: Callable[[], object]) -> None:
    with pytest.raises(AccountLocked):
        await attempt()  # type: ignore[misc]


async def test_ten_failures_lock_and_the_right_password_is_refused(tomo_app: TomoApp, clock: Clock) -> None:
    await make_user(tomo_app, "alice")
    await fail(tomo_app, 9)
    await fail(tomo_app, 1)
    await expect_locked(lambda: login(tomo_app, "alice"))
    clock.advance(minutes=14)
    await expect_locked(lambda: login(tomo_app, "alice"))
    clock.advance(minutes=2)
    assert (await login(tomo_app, "alice")).user.username == "alice"


async def test_the_tenth_failure_itself_reports_the_lock(tomo_app: TomoApp, clock: Clock) -> None:
    await make_user(tomo_app, "alice")
    await fail(tomo_app, 9)
    with pytest.raises(AccountLocked) as caught:
        await login(tomo_app, "alice", WRONG)
    assert "unlock_account" in caught.value.message


async def test_old_failures_decay(tomo_app: TomoApp, clock: Clock) -> None:
    await make_user(tomo_app, "alice")
    await fail(tomo_app, 9)
    clock.advance(minutes=16)
    await fail(tomo_app, 9)
    assert (await login(tomo_app, "alice")).user.username == "alice"


async def test_success_resets_the_username_counter(tomo_app: TomoApp, clock: Clock) -> None:
    await make_user(tomo_app, "alice")
    await fail(tomo_app, 9)
    await login(tomo_app, "alice")
    await fail(tomo_app, 9)
    assert (await login(tomo_app, "alice")).user.username == "alice"


async def test_unknown_usernames_lock_too(tomo_app: TomoApp, clock: Clock) -> None:
    await fail(tomo_app, 10, username="ghost")
    with pytest.raises(AccountLocked):
        await login(tomo_app, "ghost", WRONG)


async def test_one_address_spraying_usernames_is_locked(tomo_app: TomoApp, clock: Clock) -> None:
    await tomo_app.services["settings_service"].update({"lockout_ip_threshold": 5})
    await make_user(tomo_app, "alice")
    for name in ("u1", "u2", "u3", "u4", "u5"):
        await fail(tomo_app, 1, username=name, client_ip="198.51.100.7")
    await expect_locked(lambda: login(tomo_app, "alice", PASSWORD, "198.51.100.7"))
    assert (await login(tomo_app, "alice", PASSWORD, "192.0.2.50")).user.username == "alice"


async def test_admin_lists_and_unlocks(call: ToolCaller, tomo_app: TomoApp, clock: Clock) -> None:
    await make_user(tomo_app, "alice", Role.VIEWER)
    await act_as_user(tomo_app, "root", Role.ADMIN)
    await fail(tomo_app, 10)
    locks = (await call("get_locked_accounts")).data["locks"]
    assert [(lock["kind"], lock["subject"]) for lock in locks] == [("user", "alice")]
    assert (await call("unlock_account", username="alice")).envelope["success"] is True
    assert (await call("get_locked_accounts")).data["locks"] == []
    assert (await login(tomo_app, "alice")).user.username == "alice"
    assert (await call("unlock_account", username="alice")).error == "NOT_FOUND"


async def test_lockout_settings_apply(tomo_app: TomoApp, clock: Clock) -> None:
    await tomo_app.services["settings_service"].update({"lockout_threshold": 3, "lockout_minutes": 1})
    await make_user(tomo_app, "alice")
    await fail(tomo_app, 3)
    await expect_locked(lambda: login(tomo_app, "alice"))
    clock.advance(seconds=61)
    assert (await login(tomo_app, "alice")).user.username == "alice"
