"""Opening one SSH connection: isolation from ~/.ssh, host key pinning, error translation.

Host key verification. asyncssh only consults ``SSHClient.validate_host_public_key``
when ``known_hosts`` is not None and the key is not already trusted by it; ``known_hosts=None``
would switch verification off and an empty value would read ``~/.ssh/known_hosts``. So we pass
an explicit, empty trust list (:data:`_TRUST_NO_STORED_KEY`) and let :class:`_HostKeyGate`
decide every key by its SHA256 fingerprint: with no pin it accepts and records the key (trust on
first use), with a pin a different key is refused. asyncssh then aborts during key exchange, before
authentication, so no password or signature is ever sent to an impostor. After accepting, asyncssh
still checks that the server holds the matching private key.

Every asyncssh/OSError failure met while connecting becomes a domain error here, once.
"""

from __future__ import annotations

import asyncio
import hmac
import socket
from typing import Any

import asyncssh

from tomo.errors import AuthenticationFailed, ConnectionFailed, HostKeyMismatch, RemoteError, ValidationError
from tomo.lib.ssh.target import SSHTarget

#: Trusted host keys, CA keys, revoked keys: none, so every host key reaches _HostKeyGate.
_TRUST_NO_STORED_KEY: tuple[tuple[()], tuple[()], tuple[()]] = ((), (), ())

#: Options that keep asyncssh away from the user's ~/.ssh (config, keys, agent, known_hosts, CAs).
_ISOLATED: dict[str, Any] = {
    "config": None,
    "agent_path": None,
    "agent_forwarding": False,
    "ignore_encrypted": True,
    "pkcs11_provider": None,
    "x509_trusted_certs": None,
    "x509_trusted_cert_paths": None,
    "gss_host": None,
    "gss_kex": False,
    "gss_auth": False,
    "host_based_auth": False,
    "client_host_keysign": False,
}


class _HostKeyGate(asyncssh.SSHClient):
    """Accept the server's host key when it matches the pin, or any key when nothing is pinned."""

    def __init__(self, pinned: str | None) -> None:
        self.pinned = pinned.strip() if pinned else None
        self.seen: str | None = None

    def validate_host_public_key(self, host: str, addr: str, port: int, key: asyncssh.SSHKey) -> bool:
        self.seen = key.get_fingerprint("sha256")
        return self.pinned is None or hmac.compare_digest(self.seen, self.pinned)

    @property
    def mismatch(self) -> bool:
        return self.pinned is not None and self.seen is not None and self.seen != self.pinned


def _auth_options(target: SSHTarget, client_key: asyncssh.SSHKey | None) -> dict[str, Any]:
    methods = (["publickey"] if client_key else []) + (["keyboard-interactive", "password"] if target.password else [])
    if not methods:
        raise ValidationError(f"No password or private key is stored for {target.address}; add one with update_server")
    return {
        "username": target.username,
        "password": target.password,
        "client_keys": [client_key] if client_key else None,
        "preferred_auth": methods,
        "public_key_auth": client_key is not None,
        "password_auth": target.password is not None,
        "kbdint_auth": target.password is not None,
    }


async def open_connection(
    target: SSHTarget,
    client_key: asyncssh.SSHKey | None,
    *,
    connect_timeout: float,
    keepalive_interval: float,
    keepalive_count_max: int = 3,
) -> tuple[asyncssh.SSHClientConnection, str]:
    """Connect and authenticate; return the connection and the host key fingerprint it presented."""
    gate = _HostKeyGate(target.pinned_fingerprint)
    options = {**_ISOLATED, **_auth_options(target, client_key)}
    try:
        conn = await asyncssh.connect(
            target.host,
            target.port,
            client_factory=lambda: gate,
            known_hosts=_TRUST_NO_STORED_KEY,
            connect_timeout=connect_timeout,
            login_timeout=connect_timeout,
            keepalive_interval=keepalive_interval,
            keepalive_count_max=keepalive_count_max,
            **options,
        )
    except (OSError, asyncssh.Error) as exc:
        raise connect_error(target, exc, connect_timeout, gate) from exc
    if gate.seen is None:  # only with GSS key exchange, which _ISOLATED disables
        conn.abort()
        raise ConnectionFailed(f"{target.address} presented no host key; Tomo needs one to pin")
    return conn, gate.seen


async def fetch_host_key_fingerprint(target: SSHTarget, *, connect_timeout: float) -> str:
    """Key exchange only (no login, no credentials sent): the SHA256 fingerprint of the host key."""
    try:
        async with asyncio.timeout(connect_timeout):
            options = await asyncssh.SSHClientConnectionOptions.construct(client_keys=None, **_ISOLATED)
            key = await asyncssh.get_server_host_key(target.host, target.port, config=None, options=options)
    except (OSError, asyncssh.Error) as exc:
        raise connect_error(target, exc, connect_timeout, None) from exc
    if key is None:
        raise ConnectionFailed(f"{target.address} presented no host key; Tomo needs one to pin")
    return key.get_fingerprint("sha256")


def connect_error(
    target: SSHTarget, exc: BaseException, timeout: float, gate: _HostKeyGate | None
) -> RemoteError | AuthenticationFailed:
    """Translate a failure to connect into the domain error that tells the caller what to check."""
    where = target.address
    if isinstance(exc, asyncssh.PermissionDenied):
        return AuthenticationFailed(
            f"SSH login as '{target.username}' to {where} was rejected; "
            "check the username and the password or key with update_server"
        )
    if isinstance(exc, asyncssh.HostKeyNotVerifiable) and gate is not None and gate.mismatch:
        return HostKeyMismatch(
            f"The SSH host key of {where} changed (expected {gate.pinned}, got {gate.seen}); nothing was sent. "
            "If the server was reinstalled or its keys regenerated, an admin can accept the new key with "
            "trust_host_key; otherwise treat it as a possible attack",
            details={"expected": gate.pinned, "actual": gate.seen},
        )
    if isinstance(exc, TimeoutError):
        return ConnectionFailed(
            f"Timed out after {timeout:g}s connecting to {where}; check that the server is on, "
            "the address and port are right and no firewall drops SSH"
        )
    if isinstance(exc, socket.gaierror):
        return ConnectionFailed(f"Cannot resolve host '{target.host}'; check the hostname or use an IP address")
    if isinstance(exc, ConnectionRefusedError):
        return ConnectionFailed(
            f"{where} refused the connection; check that sshd runs and listens on port {target.port}"
        )
    if isinstance(exc, OSError):
        reason = exc.strerror or type(exc).__name__
        return ConnectionFailed(f"Cannot reach {where} ({reason}); check the address, the network and any firewall")
    return lost_error(target, exc, during="setup")


def lost_error(target: SSHTarget, exc: BaseException, *, during: str) -> ConnectionFailed:
    """The connection broke (or refused a channel) after it was open."""
    reason = getattr(exc, "reason", "") or str(exc) or type(exc).__name__
    if isinstance(exc, asyncssh.ChannelOpenError):
        return ConnectionFailed(
            f"{target.address} refused to open an SSH channel ({reason}); check sshd's MaxSessions and logs"
        )
    return ConnectionFailed(
        f"The SSH connection to {target.address} failed during {during} ({reason}); "
        "check that the server is up and that the port runs an SSH server"
    )
