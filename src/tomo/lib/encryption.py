"""Credential encryption at rest: Fernet with a key derived once at start.

The key comes from ``TOMO_MASTER_KEY`` (stretched with PBKDF2-HMAC-SHA256 and a
per-installation salt) or, when no master key is configured, from a random key
file created with mode 0600 in the data directory. Derivation is CPU-heavy, so it
runs once in a worker thread, started at boot; encrypt/decrypt await it and then
cost microseconds.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import secrets
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken

from tomo.errors import TomoError

PBKDF2_ITERATIONS = 600_000
KEY_FILE = "master.key"
SALT_FILE = "master.salt"


class DecryptionFailed(TomoError):
    """Stored ciphertext cannot be read with the current key (wrong TOMO_MASTER_KEY?)."""

    code = "DECRYPTION_FAILED"


def write_secret_file(path: Path, data: bytes) -> None:
    """Create ``path`` with mode 0600 atomically; never loosen an existing file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def read_or_create_secret(path: Path, size: int = 32) -> bytes:
    """Read a random secret file, creating it (0600) on first use."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        with contextlib.suppress(FileExistsError):
            write_secret_file(path, base64.urlsafe_b64encode(secrets.token_bytes(size)))
        return path.read_bytes()


def derive_key(master_key: str | None, data_dir: Path) -> bytes:
    """Return the Fernet key: PBKDF2 of the master key, or the key file's random key."""
    if master_key is None:
        return read_or_create_secret(data_dir / KEY_FILE)
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC

    salt = read_or_create_secret(data_dir / SALT_FILE, size=16)
    kdf = PBKDF2HMAC(algorithm=hashes.SHA256(), length=32, salt=salt, iterations=PBKDF2_ITERATIONS)
    return base64.urlsafe_b64encode(kdf.derive(master_key.encode()))


class Encryptor:
    """Encrypts and decrypts small secrets (credentials) with one Fernet key."""

    def __init__(self, master_key: str | None, data_dir: Path) -> None:
        self._master_key = master_key
        self._data_dir = data_dir
        self._fernet: Fernet | None = None
        self._task: asyncio.Task[Fernet] | None = None

    def start(self) -> None:
        """Begin deriving the key in a worker thread (idempotent)."""
        if self._task is None and self._fernet is None:
            self._task = asyncio.create_task(self._derive())

    async def _derive(self) -> Fernet:
        key = await asyncio.to_thread(derive_key, self._master_key, self._data_dir)
        self._fernet = Fernet(key)
        return self._fernet

    async def _ready(self) -> Fernet:
        if self._fernet is not None:
            return self._fernet
        if self._task is None:
            self._task = asyncio.create_task(self._derive())
        return await asyncio.shield(self._task)

    async def encrypt(self, plaintext: str) -> str:
        """Encrypt a string; the result is URL-safe text."""
        return (await self._ready()).encrypt(plaintext.encode()).decode()

    async def decrypt(self, token: str) -> str:
        """Decrypt what :meth:`encrypt` produced; raises DecryptionFailed for a foreign key."""
        fernet = await self._ready()
        try:
            return fernet.decrypt(token.encode()).decode()
        except InvalidToken as exc:
            raise DecryptionFailed(
                "Stored credentials cannot be decrypted: TOMO_MASTER_KEY or the key file changed. "
                "Restore the original key, or re-enter the credentials with update_server."
            ) from exc

    async def encrypt_json(self, value: dict[str, Any]) -> str:
        """Encrypt a JSON-serialisable mapping."""
        return await self.encrypt(json.dumps(value, separators=(",", ":")))

    async def decrypt_json(self, token: str) -> dict[str, Any]:
        """Decrypt a mapping stored with :meth:`encrypt_json`."""
        value: dict[str, Any] = json.loads(await self.decrypt(token))
        return value
