"""Password hashing, login tokens (JWT) and API token digests.

Passwords: argon2id with OWASP's recommended parameters (19 MiB, 2 passes, 1 lane),
always in a dedicated pool of ``max_parallel`` worker threads (default: one less than
the CPUs) running at lower priority, so a burst of logins neither blocks nor starves
the event loop and cannot eat the machine's memory; extra hashes queue. Login tokens:
HS256 JWTs with issuer and expiry, verified with HS256 only (``alg: none`` and
every other algorithm are refused). API tokens: ``tomo_`` plus 256 random bits,
stored as their SHA-256 (a slow hash buys nothing for secrets this random).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import secrets
import threading
import unicodedata
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from tomo.errors import InvalidToken, ValidationError
from tomo.lib.encryption import read_or_create_secret

if TYPE_CHECKING:
    from argon2 import PasswordHasher as Argon2Hasher

ISSUER = "tomo"
ALGORITHM = "HS256"
API_TOKEN_PREFIX = "tomo_"  # noqa: S105 - a prefix, not a secret
_REQUIRED_CLAIMS = ["sub", "role", "sid", "iss", "iat", "exp", "jti"]
JWT_SECRET_FILE = "jwt.secret"  # noqa: S105 - a file name
MIN_SECRET_LENGTH = 32
HASH_THREAD_NICE = 10
_T = TypeVar("_T")


def normalize_password(password: str) -> str:
    """NFKC form, as NIST SP 800-63B asks before hashing (so look-alike input verifies the same)."""
    return unicodedata.normalize("NFKC", password)


def _lower_thread_priority() -> None:
    """Let every other thread (the event loop first) pre-empt password hashing (Linux: per-thread nice)."""
    with contextlib.suppress(AttributeError, OSError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), HASH_THREAD_NICE)


class PasswordHasher:
    """argon2id hashing and verification in a few low-priority worker threads, never on the event loop."""

    def __init__(self, max_parallel: int | None = None) -> None:
        self._argon2: Argon2Hasher | None = None
        self._workers = max_parallel or max(1, (os.cpu_count() or 2) - 1)
        self._executor: ThreadPoolExecutor | None = None
        self._dummy: str | None = None

    @property
    def _hasher(self) -> Argon2Hasher:
        if self._argon2 is None:  # imported on first use: start-up does not pay for it
            from argon2 import PasswordHasher as Argon2Hasher

            self._argon2 = Argon2Hasher(time_cost=2, memory_cost=19456, parallelism=1)
        return self._argon2

    async def _run(self, function: Callable[..., _T], *args: Any) -> _T:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(self._workers, "tomo-argon2", initializer=_lower_thread_priority)
        return await asyncio.get_running_loop().run_in_executor(self._executor, function, *args)

    def close(self) -> None:
        """Let the worker threads end once idle (a later call starts new ones)."""
        executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=False)

    async def hash(self, password: str) -> str:
        """The argon2id hash of ``password`` (salted; the parameters are in the string)."""
        return await self._run(self._hasher.hash, normalize_password(password))

    async def verify(self, stored_hash: str, password: str) -> bool:
        """Whether ``password`` matches ``stored_hash``; a malformed hash never matches."""
        return await self._run(self._verify, stored_hash, normalize_password(password))

    def _verify(self, stored_hash: str, password: str) -> bool:
        from argon2.exceptions import InvalidHashError, VerificationError

        try:
            return self._hasher.verify(stored_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, stored_hash: str) -> bool:
        """Whether the hash was made with other parameters than today's."""
        from argon2.exceptions import InvalidHashError

        try:
            return self._hasher.check_needs_rehash(stored_hash)
        except InvalidHashError:
            return True

    async def burn(self, password: str) -> None:
        """Spend the time of one verification (used for unknown users, so timing reveals nothing)."""
        if self._dummy is None:
            self._dummy = await self.hash(secrets.token_urlsafe(16))
        await self.verify(self._dummy, password)


@dataclass(frozen=True)
class TokenClaims:
    """The verified claims of a login token."""

    user_id: str
    role: str
    session_id: str
    token_id: str
    expires_at: datetime


def load_jwt_secret(configured: str | None, data_dir: Path) -> bytes:
    """The signing secret: ``TOMO_JWT_SECRET`` or a random 0600 file in the data directory (blocking I/O)."""
    if configured is not None:
        if len(configured) < MIN_SECRET_LENGTH:
            raise ValidationError(f"TOMO_JWT_SECRET is too short: use at least {MIN_SECRET_LENGTH} random characters.")
        return configured.encode()
    return read_or_create_secret(data_dir / JWT_SECRET_FILE)


def encode_jwt(secret: bytes, user_id: str, role: str, session_id: str, issued: datetime, expires: datetime) -> str:
    """Sign a login token bound to ``session_id``."""
    import jwt

    claims = {"sub": user_id, "role": role, "sid": session_id, "iss": ISSUER, "iat": int(issued.timestamp()),
              "exp": int(expires.timestamp()), "jti": secrets.token_hex(16)}
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def decode_jwt(secret: bytes, token: str) -> TokenClaims:
    """Verify signature (HS256 only), issuer, expiry and required claims; raise InvalidToken otherwise."""
    import jwt

    try:
        claims: dict[str, Any] = jwt.decode(token, secret, algorithms=[ALGORITHM], issuer=ISSUER,
                                            options={"require": _REQUIRED_CLAIMS})
    except jwt.ExpiredSignatureError as exc:
        raise InvalidToken("The login token has expired: call login again.") from exc
    except jwt.PyJWTError as exc:
        raise InvalidToken("The bearer token is not valid: call login, or use an API token.") from exc
    if not all(isinstance(claims[k], str) for k in ("sub", "role", "sid", "jti")):
        raise InvalidToken("The bearer token is not valid: call login, or use an API token.")
    return TokenClaims(user_id=claims["sub"], role=claims["role"], session_id=claims["sid"],
                       token_id=claims["jti"], expires_at=datetime.fromtimestamp(claims["exp"], UTC))


def new_api_token() -> str:
    """A fresh API token: ``tomo_`` and 43 URL-safe characters (256 bits)."""
    return API_TOKEN_PREFIX + secrets.token_urlsafe(32)


def api_token_digest(token: str) -> str:
    """The SHA-256 hex digest under which an API token is stored and looked up."""
    return hashlib.sha256(token.encode()).hexdigest()
