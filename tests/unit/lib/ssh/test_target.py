"""SSHTarget hides its secrets; parse_private_key says what is wrong with a key."""

from __future__ import annotations

import asyncssh
import pytest

from tomo.errors import ValidationError
from tomo.lib.ssh import SSHTarget, parse_private_key


def _key_text(algorithm: str, passphrase: str | None, fmt: str = "openssh") -> str:
    key = asyncssh.generate_private_key(algorithm)
    return key.export_private_key(fmt, passphrase, rounds=16, ignore_few_rounds=True).decode()  # fast KDF for tests


def test_repr_hides_password_key_and_passphrase() -> None:
    target = SSHTarget("nas", "10.0.0.5", 22, "root", password="hunter2", private_key="PEM-TEXT", passphrase="sesame")
    text = repr(target)
    assert "hunter2" not in text and "PEM-TEXT" not in text and "sesame" not in text
    assert "10.0.0.5" in text


def test_digest_changes_with_credentials_but_not_with_the_pin() -> None:
    base = SSHTarget("nas", "10.0.0.5", 22, "root", password="a")
    assert base.digest() != SSHTarget("nas", "10.0.0.5", 22, "root", password="b").digest()
    assert base.digest() != SSHTarget("nas", "10.0.0.5", 2222, "root", password="a").digest()
    assert base.digest() == SSHTarget("nas", "10.0.0.5", 22, "root", password="a", pinned_fingerprint="x").digest()


@pytest.mark.parametrize(
    ("algorithm", "fmt", "expected"),
    [
        ("ssh-ed25519", "openssh", "ssh-ed25519"),
        ("ecdsa-sha2-nistp256", "pkcs8-pem", "ecdsa-sha2-nistp256"),
        ("ssh-rsa", "openssh", "ssh-rsa"),
    ],
)
def test_parse_private_key_returns_the_key_type_with_a_passphrase(algorithm: str, fmt: str, expected: str) -> None:
    assert parse_private_key(_key_text(algorithm, "pass phrase", fmt), "pass phrase") == expected


def test_parse_private_key_accepts_an_unencrypted_key_without_passphrase() -> None:
    assert parse_private_key(_key_text("ssh-ed25519", None)) == "ssh-ed25519"


@pytest.mark.parametrize(
    ("algorithm", "fmt"),
    [("ssh-ed25519", "openssh"), ("ecdsa-sha2-nistp256", "pkcs1-pem"), ("ecdsa-sha2-nistp256", "pkcs8-pem")],
)
def test_parse_private_key_reports_a_wrong_passphrase(algorithm: str, fmt: str) -> None:
    with pytest.raises(ValidationError, match="wrong passphrase"):
        parse_private_key(_key_text(algorithm, "right", fmt), "wrong")


def test_a_wrong_passphrase_that_decrypts_a_pem_key_to_garbage_is_still_a_wrong_passphrase() -> None:
    """PEM encryption has no check: some wrong passphrases give valid padding, then unparseable bytes."""
    text = _key_text("ecdsa-sha2-nistp256", "right", "pkcs1-pem")
    wrong = (f"wrong-{n}" for n in range(20_000))
    garbage = next(word for word in wrong if _import_error(text, word) == "Invalid PEM private key")
    with pytest.raises(ValidationError, match="wrong passphrase"):
        parse_private_key(text, garbage)


def _import_error(text: str, passphrase: str) -> str:
    try:
        asyncssh.import_private_key(text, passphrase)
    except asyncssh.KeyImportError as exc:
        return str(exc)
    return ""


def test_parse_private_key_reports_a_missing_passphrase() -> None:
    with pytest.raises(ValidationError, match="give its passphrase"):
        parse_private_key(_key_text("ssh-ed25519", "right"), None)


@pytest.mark.parametrize("text", ["", "not a key", "-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n", "ключ"])
def test_parse_private_key_reports_a_malformed_key(text: str) -> None:
    with pytest.raises(ValidationError, match="malformed"):
        parse_private_key(text, None)
