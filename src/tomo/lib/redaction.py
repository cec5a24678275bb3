"""Masking of secrets wherever they might travel: logs, audit records, tool output.

Two rules: a value whose *key* names a secret is masked whole, and a string that
*looks* like a secret (a private key block, a bearer token, a JWT) is masked
wherever it appears.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from typing import Any

MASK = "***"

_SECRET_KEY = re.compile(
    r"(pass(word|phrase|wd)?|secret|token|private_?key|api_?key|authorization|credential|cookie|master_?key)",
    re.IGNORECASE,
)
#: Shapes of secrets in free text. Run by RE2 (google-re2), which matches in time linear in the text: these
#: patterns see whatever a caller sends (a 1 MiB tool argument is redacted for its audit record), and Python's
#: backtracking engine took 18 s on 2,000 characters of "passwordpassword..." with the former patterns.
_SHAPES = (
    r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----(?s:.*?)(?:-----END [A-Z0-9 ]*PRIVATE KEY-----|$)"
    r"|\bBearer\s+[A-Za-z0-9._~+/=-]+"
    r"|\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*"
    r"|\btomo_[A-Za-z0-9_-]{20,}"
)
#: ``'password': '...'`` or ``token="..."`` as libraries print arguments: the key, then a quoted value.
_QUOTED_PAIR = (
    r"""(?P<key>['"]?[\w-]*(?i:""" + _SECRET_KEY.pattern + r""")[\w-]*['"]?\s*[:=]\s*)"""
    r"""(?:'(?P<single>(?:\\.|[^'\\\n])*)'|"(?P<double>(?:\\.|[^"\\\n])*)")"""
)


#: Words (lower-cased) of which either pattern needs one: text with none of them is returned as it is, after a
#: few substring scans (about 1 ms a MiB each) instead of a regex pass.
_CANDIDATES = ("-----begin", "bearer", "eyj", "tomo_", "pass", "secret", "token", "key", "authorization",
               "credential", "cookie")


def _may_hold_secrets(text: str) -> bool:
    low = text.lower()
    return any(word in low for word in _CANDIDATES)


@functools.cache
def _patterns() -> tuple[Any, Any]:
    """The compiled RE2 patterns (imported on first use: ~25 ms that a start without secrets to mask skips)."""
    import re2

    return re2.compile(_QUOTED_PAIR), re2.compile(_SHAPES)


def _masked_pair(match: Any) -> str:
    quote = "'" if match.group("single") is not None else '"'
    return f"{match.group('key')}{quote}{MASK}{quote}"


def is_secret_key(key: str) -> bool:
    """Whether a field name denotes a secret (password, token, private_key, ...)."""
    return bool(_SECRET_KEY.search(key))


def redact_text(text: str) -> str:
    """Mask secret-looking substrings (key blocks, bearer tokens, JWTs, Tomo API tokens) and the quoted
    values of secret-named keys in printed mappings (``'password': '...'``, as libraries log arguments)."""
    if not _may_hold_secrets(text):  # most text: nothing either pattern could match, and RE2 stays unloaded
        return str(text)
    pair, value = _patterns()
    return str(value.sub(MASK, pair.sub(_masked_pair, str(text))))


def redact(value: Any, *, extra_keys: frozenset[str] = frozenset()) -> Any:
    """Return a copy of ``value`` with secrets masked, recursing into mappings and lists."""
    if isinstance(value, Mapping):
        return {
            k: (MASK if _masked_key(str(k), extra_keys) and v not in (None, "") else redact(v, extra_keys=extra_keys))
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [redact(item, extra_keys=extra_keys) for item in value]
    if isinstance(value, str):
        return redact_text(value)
    return value


def mask_values(value: Any, secrets: set[str]) -> Any:
    """Return a copy of ``value`` with every occurrence of the given secret strings replaced by the mask."""
    if not secrets:
        return value
    if isinstance(value, Mapping):
        return {k: mask_values(v, secrets) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [mask_values(item, secrets) for item in value]
    if isinstance(value, str):
        for secret in sorted(secrets, key=len, reverse=True):
            value = value.replace(secret, MASK)
    return value


def _masked_key(key: str, extra_keys: frozenset[str]) -> bool:
    return key in extra_keys or is_secret_key(key)
