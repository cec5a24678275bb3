"""How to reach one server: address, credentials and the pinned host key."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import asyncssh

from tomo.errors import ValidationError


@dataclass(frozen=True)
class SSHTarget:
    """Everything needed to reach one server; ``key`` names its pooled connection (normally the server id).

    ``pinned_fingerprint`` is the expected host key ("SHA256:..."); None trusts the first key seen.
    The secrets never appear in ``repr``.
    """

    key: str
    host: str
    port: int
    username: str
    password: str | None = field(default=None, repr=False)
    private_key: str | None = field(default=None, repr=False)
    passphrase: str | None = field(default=None, repr=False)
    pinned_fingerprint: str | None = None

    @property
    def address(self) -> str:
        """host:port as shown in messages (IPv6 literals in brackets)."""
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    def digest(self) -> str:
        """A hash of the fields a connection depends on, except the pin (see SSHPool._reusable)."""
        return _digest(self.host, str(self.port), self.username, self.password, self.private_key, self.passphrase)

    def key_digest(self) -> str:
        """A hash of the private key and its passphrase: the parsed-key cache key."""
        return _digest(self.private_key, self.passphrase)


@dataclass(frozen=True)
class ProbeResult:
    """A successful round trip: the host key fingerprint seen and the time `true` took."""

    fingerprint: str
    latency_ms: float
    reused: bool


def _digest(*parts: str | None) -> str:
    hasher = hashlib.sha256()
    for part in parts:
        encoded = b"\x00" if part is None else b"\x01" + part.encode("utf-8", errors="surrogatepass")
        hasher.update(len(encoded).to_bytes(8, "big") + encoded)
    return hasher.hexdigest()


def load_private_key(text: str, passphrase: str | None, *, validate: bool = True) -> asyncssh.SSHKey:
    """Parse a PEM/OpenSSH private key; CPU heavy (bcrypt KDF), so call it in a thread.

    ``validate=False`` skips cryptography's consistency check of RSA keys, which costs about
    200 ms per 3072-bit key *while holding the GIL* (a worker thread does not keep the event loop
    free during it). Use it only for keys already validated when they were stored.

    Raises ValidationError saying whether the key is malformed, needs a passphrase or the
    passphrase is wrong. Messages never include the key or the passphrase.
    """
    try:
        return asyncssh.import_private_key(
            text.strip() + "\n", passphrase or None, unsafe_skip_rsa_key_validation=not validate
        )
    except (asyncssh.KeyImportError, asyncssh.KeyEncryptionError, ValueError) as exc:  # ValueError: bad RSA numbers
        decrypting = bool(passphrase) and _encrypted_pem(text)
        raise ValidationError(_key_problem(str(exc).lower(), decrypting=decrypting)) from exc


def _encrypted_pem(text: str) -> bool:
    """A passphrase-protected PEM key (PKCS#1 with a Proc-Type header, or encrypted PKCS#8)."""
    return "Proc-Type: 4,ENCRYPTED" in text or "BEGIN ENCRYPTED PRIVATE KEY" in text


def _key_problem(reason: str, *, decrypting: bool) -> str:
    # asyncssh reports these as "Passphrase must be specified ...", "Incorrect passphrase" (OpenSSH
    # format) and "Unable to decrypt PKCS#1/PKCS#8 private key" (PEM formats). PEM encryption has no
    # check of its own: a wrong passphrase sometimes decrypts to valid padding and then fails to parse
    # ("Invalid PEM private key"), so any failure to read an encrypted PEM key with a passphrase counts
    # as a wrong passphrase.
    if "passphrase must be specified" in reason:
        return "The private key is encrypted: give its passphrase"
    if "incorrect passphrase" in reason or "unable to decrypt" in reason or decrypting:
        return "The private key could not be decrypted: wrong passphrase"
    if "requires bcrypt" in reason:
        return "The private key is encrypted in OpenSSH format, which needs the 'bcrypt' package installed"
    return "The private key is malformed: paste the whole OpenSSH or PEM private key, including its BEGIN and END lines"


def parse_private_key(text: str, passphrase: str | None = None, *, validate: bool = True) -> str:
    """Check a private key at add time and return its type (e.g. "ssh-ed25519").

    Synchronous and CPU heavy: callers run it with ``asyncio.to_thread`` (see ``load_private_key``
    about ``validate``).
    """
    return load_private_key(text, passphrase, validate=validate).get_algorithm()
