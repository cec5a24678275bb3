"""Generated secrets for ``secret`` inputs (database passwords, signing keys), from :mod:`secrets`."""

from __future__ import annotations

import base64
import secrets
import string
from typing import Final

from tomo.models.marketplace import GenerateSpec

_ALPHABETS: Final[dict[str, str]] = {
    "alnum": string.ascii_letters + string.digits,
    "hex": "0123456789abcdef",
    "urlsafe": string.ascii_letters + string.digits + "-_",
}


def generate_secret(spec: GenerateSpec | None = None) -> str:
    """Return a fresh random secret following ``spec`` (default: 32 alphanumeric characters).

    For charset ``base64`` the length is the number of random bytes, encoded as standard base64
    (the shape of keys such as Laravel's APP_KEY); for the other charsets it is the number of
    characters, each drawn uniformly from the charset.
    """
    spec = spec or GenerateSpec()
    if spec.charset == "base64":
        return base64.b64encode(secrets.token_bytes(spec.length)).decode("ascii")
    alphabet = _ALPHABETS[spec.charset]
    return "".join(secrets.choice(alphabet) for _ in range(spec.length))
