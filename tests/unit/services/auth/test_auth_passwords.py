"""Password policy (NIST SP 800-63B) and hashing (argon2id, off the event loop)."""

from __future__ import annotations

import asyncio
import time

import pytest
from tests.conftest import heap_frozen

from tomo.errors import ValidationError
from tomo.lib.security import PasswordHasher
from tomo.services.auth.password_policy import check_password, common_passwords


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("short-pass1", "too short"),
        ("x" * 100 + "abcdefghijklmnopqrstuvwxyz0123", "too long"),
        ("password1234", "commonly used"),
        ("Qwertyuiop123", "commonly used"),
        ("aliceinwonderland", "username"),
        ("ababababababab", "too few"),
    ],
)
def test_policy_rejects_with_a_reason(password: str, reason: str) -> None:
    with pytest.raises(ValidationError) as caught:
        check_password(password, "alice", 12)
    assert reason in caught.value.message
    assert password not in caught.value.message


@pytest.mark.parametrize("password", ["river otter plays guitar", "correct-horse-nine-lamps", "ß" * 2 + "ünïcødé pass"])
def test_policy_accepts_passphrases_without_composition_rules(password: str) -> None:
    check_password(password, "alice", 12)


def test_minimum_length_follows_the_setting() -> None:
    check_password("tiny otter!", "alice", 8)
    with pytest.raises(ValidationError):
        check_password("tiny otter!", "alice", 16)


def test_blocklist_ships_with_the_package_and_is_large() -> None:
    passwords = common_passwords()
    assert len(passwords) >= 1000
    assert {"123456", "password", "qwerty", "iloveyou", "dragon"} <= passwords


async def test_hash_is_argon2id_and_verifies() -> None:
    hasher = PasswordHasher()
    hashed = await hasher.hash("river otter plays guitar")
    assert hashed.startswith("$argon2id$")
    assert "river" not in hashed
    assert await hasher.verify(hashed, "river otter plays guitar")
    assert not await hasher.verify(hashed, "river otter plays guitaR")
    assert not await hasher.verify("not-a-hash", "anything")


async def test_nfkc_equivalent_passwords_verify() -> None:
    hasher = PasswordHasher()
    hashed = await hasher.hash("ｆｕｌｌｗｉｄｔｈ passphrase")
    assert await hasher.verify(hashed, "fullwidth passphrase")


async def test_hashing_does_not_block_the_event_loop() -> None:
    hasher = PasswordHasher(max_parallel=1)
    ticks: list[float] = []

    async def ticker() -> None:
        while True:
            ticks.append(time.perf_counter())
            await asyncio.sleep(0.005)

    with heap_frozen():
        task = asyncio.create_task(ticker())
        await asyncio.gather(*(hasher.hash(f"passphrase number {i}") for i in range(4)))
        task.cancel()
    gaps = [b - a for a, b in zip(ticks, ticks[1:], strict=False)]
    assert len(ticks) > 10
    assert max(gaps) < 0.05
