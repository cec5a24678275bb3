"""Redaction masks secrets by key name and by shape."""

from __future__ import annotations

from tomo.lib.redaction import redact, redact_text

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
