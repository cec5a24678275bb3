"""Password rules after NIST SP 800-63B: length and a blocklist, no composition rules.

A password must have at least ``password_min_length`` characters (setting, default 12)
and at most 128, must not be a commonly used password (the list ships with Tomo and is
read once, on first use), must not contain the username, and must not be a trivial
repetition such as 'aaaaaaaaaaaa'.
"""

from __future__ import annotations

import functools
from importlib import resources

from tomo.errors import ValidationError
from tomo.lib.security import normalize_password

MAX_LENGTH = 128
MIN_DISTINCT_CHARACTERS = 4
BLOCKLIST_RESOURCE = "data/common-passwords.txt"


@functools.cache
def common_passwords() -> frozenset[str]:
    """The shipped blocklist, lower-case (loaded once)."""
    text = resources.files("tomo").joinpath(BLOCKLIST_RESOURCE).read_text(encoding="utf-8")
    return frozenset(line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#"))


def check_password(password: str, username: str, min_length: int) -> None:
    """Raise ValidationError saying what to change when ``password`` breaks a rule; never echo it."""
    normalized = normalize_password(password)
    folded = normalized.casefold()
    if len(normalized) < min_length:
        raise ValidationError(f"The password is too short: use at least {min_length} characters "
                              "(a few unrelated words make a strong, memorable one).")
    if len(normalized) > MAX_LENGTH:
        raise ValidationError(f"The password is too long: use at most {MAX_LENGTH} characters.")
    if username and username.casefold() in folded:
        raise ValidationError("The password must not contain the username: choose another.")
    if len(set(folded)) < MIN_DISTINCT_CHARACTERS:
        raise ValidationError("The password repeats too few characters: choose a less predictable one.")
    if folded in common_passwords() or folded.strip() in common_passwords():
        raise ValidationError("That password is on the list of commonly used passwords: choose another.")
