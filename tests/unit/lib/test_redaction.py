"""Redaction masks secrets by key name and by shape."""

from __future__ import annotations

import enum
import time

import pytest

from tomo.lib.redaction import MASK, redact, redact_text

PEM = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----"


def test_secret_keys_are_masked_recursively() -> None:
    value = {"host": "nas", "credentials": {"password": "x"}, "items": [{"api_token": "t"}], "passphrase": ""}
    assert redact(value) == {"host": "nas", "credentials": "***", "items": [{"api_token": "***"}], "passphrase": ""}


def test_secret_shapes_are_masked_in_text() -> None:
    text = f"key {PEM} header Bearer abc.def.ghi jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.sig"
    masked = redact_text(text)
    assert "b3BlbnNzaC1rZXktdjEAAAAA" not in masked
    assert "abc.def.ghi" not in masked
    assert "eyJzdWIiOiIxMjM0NTY3ODkwIn0" not in masked
    assert masked.startswith("key ***")


def test_quoted_values_of_secret_keys_are_masked_in_text() -> None:
    logged = "call_tool login with {'username': 'alice', 'password': 'it\\'s a secret'} and new_password=\"x y\""
    masked = redact_text(logged)
    assert masked == "call_tool login with {'username': 'alice', 'password': '***'} and new_password=\"***\""


def test_both_quote_styles_and_escapes_keep_their_quotes() -> None:
    logged = """{"api_token": "a\\"b", 'Passphrase' : 'p', "user": "bob", token='t'}"""
    assert redact_text(logged) == """{"api_token": "***", 'Passphrase' : '***', "user": "bob", token='***'}"""


def test_an_unclosed_quote_is_left_alone() -> None:
    assert redact_text("password: 'never closed") == "password: 'never closed"


def test_text_without_secrets_is_unchanged() -> None:
    text = "docker compose -p jellyfin up -d --wait (élan, 東京)"
    assert redact_text(text) == text


HOSTILE = ["password", "'password': '", "eyJ-", "a", "Bearer ", "-----BEGIN RSA PRIVATE KEY-----", "x_token_",
           '"secret"="']


def _seconds_to_redact(unit: str, size: int) -> float:
    text = unit * (size // len(unit))
    started = time.perf_counter()
    redact_text(text)
    return time.perf_counter() - started


@pytest.mark.parametrize("unit", HOSTILE)
def test_hostile_text_is_redacted_in_linear_time(unit: str) -> None:
    # With Python's backtracking engine, 2,000 characters of "password" repeated took 18 s (the time grew with the
    # cube of the length). RE2 is linear: eight times the text takes about eight times as long (64 times if it were
    # quadratic); the slowest shape (a match every 10 characters) costs ~3 us a match in the Python binding.
    small, large = _seconds_to_redact(unit, 65_536), _seconds_to_redact(unit, 524_288)
    assert large < 20 * small + 0.05, (small, large)
    assert large < 5.0


def test_a_str_subclass_such_as_an_enum_value_is_redacted_as_its_text() -> None:
    class Kind(enum.StrEnum):
        KEY = "Bearer abcdefghijklmnopqrstuvwx"
        PLAIN = "ssh"

    assert (redact_text(Kind.KEY), redact_text(Kind.PLAIN)) == (MASK, "ssh")
