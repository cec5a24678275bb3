"""Generated secrets: length, alphabet, freshness."""

from __future__ import annotations

import base64
import string

import pytest

from tomo.lib.catalog import generate_secret
from tomo.models.marketplace import GenerateSpec, SecretCharset

ALPHABETS = {
    "alnum": set(string.ascii_letters + string.digits),
    "hex": set("0123456789abcdef"),
    "urlsafe": set(string.ascii_letters + string.digits + "-_"),
}


@pytest.mark.parametrize("charset", ["alnum", "hex", "urlsafe"])
def test_secret_has_the_length_and_alphabet_asked(charset: SecretCharset) -> None:
    secret = generate_secret(GenerateSpec(length=40, charset=charset))
    assert len(secret) == 40
    assert set(secret) <= ALPHABETS[charset]


def test_base64_secret_encodes_length_random_bytes() -> None:
    secret = generate_secret(GenerateSpec(length=32, charset="base64"))
    assert len(base64.b64decode(secret, validate=True)) == 32


def test_default_secret_is_32_alphanumeric_characters() -> None:
    secret = generate_secret()
    assert len(secret) == 32
    assert set(secret) <= ALPHABETS["alnum"]


def test_secrets_are_fresh_each_time() -> None:
    assert len({generate_secret() for _ in range(50)}) == 50


def test_too_short_secrets_are_refused() -> None:
    with pytest.raises(ValueError, match="greater than or equal to 8"):
        GenerateSpec(length=4)
