"""The connection table behind SSHPool: one live asyncssh connection per target key.

- A per-key lock makes concurrent first use open only one connection.
- Each connection lends at most ``max_channels`` channels at once (sshd's MaxSessions is 10 by default).
- A connection found closed is replaced; a channel that cannot be opened because the connection died
  is retried once on a fresh connection, but only when ``retryable()`` says nothing was started.
- A live connection whose sshd refuses a channel is retried after short waits first: sshd frees a
  closed session's MaxSessions slot a moment after the close, so a burst can briefly hit the limit.
- A target whose address or credentials changed, or whose pin no longer matches the key the connection
  was made with, gets a new connection; the old one closes when its last channel is released.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import asyncssh
import structlog

from tomo.lib.ssh.connect import lost_error, open_connection
from tomo.lib.ssh.target import SSHTarget, load_private_key

log = structlog.get_logger("tomo.ssh")

T = TypeVar("T")
Opener = Callable[[asyncssh.SSHClientConnection], Awaitable[T]]

#: Failures that mean "the connection is gone" when opening a channel (TimeoutError is an OSError).
_CHANNEL_ERRORS = (asyncssh.ChannelOpenError, asyncssh.DisconnectError, OSError)

#: Waits before retrying a channel that a live connection refused (seconds); then reconnect once.
_BUSY_BACKOFF = (0.02, 0.05, 0.1, 0.2, 0.4)


@dataclass(eq=False)
class PooledConnection:
    """One open connection, the host key it was made with, and its channel budget."""

    conn: asyncssh.SSHClientConnection
    fingerprint: str
    digest: str
    slots: asyncio.Semaphore
    in_use: int = 0
    retired: bool = False
    opened_at: float = field(default_factory=time.monotonic)

    async def acquire(self) -> None:
        await self.slots.acquire()
        self.in_use += 1

    def release(self) -> None:
        self.in_use -= 1
        self.slots.release()
        if self.retired and self.in_use == 0:
            self.conn.close()

    def retire(self) -> None:
        """Close now if idle, else when the last channel is released."""
        self.retired = True
        if self.in_use == 0:
            self.conn.close()


def _refused_while_open(exc: BaseException, entry: PooledConnection) -> bool:
    return isinstance(exc, asyncssh.ChannelOpenError) and not entry.conn.is_closed()


class ConnectionTable:
    """Open, reuse, replace and close pooled connections; lend channels on them."""

    def __init__(
        self, *, connect_timeout: float, keepalive_interval: float, keepalive_count_max: int, max_channels: int
    ) -> None:
        self.connect_timeout = connect_timeout
        self.max_channels = max_channels
        self._keepalive = (keepalive_interval, keepalive_count_max)
        self._pooled: dict[str, PooledConnection] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._client_keys: dict[str, tuple[str, asyncssh.SSHKey]] = {}
        self.connects = 0

    @contextlib.asynccontextmanager
    async def channel(
        self, target: SSHTarget, opener: Opener[T], retryable: Callable[[], bool] = lambda: True
    ) -> AsyncIterator[T]:
        """Hold one channel slot on the target's connection while the body uses what ``opener`` made."""
        entry, channel = await self._open_channel(target, opener, retryable)
        try:
            yield channel
        finally:
            entry.release()

    async def _open_channel(
        self, target: SSHTarget, opener: Opener[T], retryable: Callable[[], bool]
    ) -> tuple[PooledConnection, T]:
        busy_retries = iter(_BUSY_BACKOFF)
        reconnected = False
        while True:
            entry = await self.get(target)
            await entry.acquire()
            try:
                async with asyncio.timeout(self.connect_timeout):  # a half-dead link must not hang here
                    return entry, await opener(entry.conn)
            except _CHANNEL_ERRORS as exc:
                entry.release()
                if not retryable():
                    raise lost_error(target, exc, during="opening a channel") from exc
                delay = next(busy_retries, None) if _refused_while_open(exc, entry) else None
                if delay is not None:  # sshd has not yet freed just-closed sessions (MaxSessions)
                    log.debug("ssh.channel_busy", server=target.key, retry_in_s=delay)
                    await asyncio.sleep(delay)
                    continue
                if reconnected:
                    raise lost_error(target, exc, during="opening a channel") from exc
                log.warning("ssh.reconnect", server=target.key, reason=str(exc) or type(exc).__name__)
                self._discard(target.key, entry)
                reconnected = True
            except BaseException:
                entry.release()
                raise

    async def get(self, target: SSHTarget) -> PooledConnection:
        """The target's live connection, opening (or replacing) it under the per-key lock."""
        async with self._lock(target.key):
            entry = self._pooled.get(target.key)
            if entry is not None and self.reusable(target):
                return entry
            if entry is not None:
                log.info("ssh.replace", server=target.key, closed=entry.conn.is_closed())
                self._discard(target.key, entry)
            entry = await self._connect(target)
            self._pooled[target.key] = entry
            return entry

    def reusable(self, target: SSHTarget) -> bool:
        """Whether the pooled connection (if any) is open and was made with this target's settings."""
        entry = self._pooled.get(target.key)
        return (
            entry is not None
            and not entry.conn.is_closed()
            and entry.digest == target.digest()
            and target.pinned_fingerprint in (None, entry.fingerprint)
        )

    async def _connect(self, target: SSHTarget) -> PooledConnection:
        client_key = await self._client_key(target)
        conn, fingerprint = await open_connection(
            target,
            client_key,
            connect_timeout=self.connect_timeout,
            keepalive_interval=self._keepalive[0],
            keepalive_count_max=self._keepalive[1],
        )
        self.connects += 1
        log.info("ssh.connected", server=target.key, address=target.address, fingerprint=fingerprint)
        return PooledConnection(conn, fingerprint, target.digest(), asyncio.Semaphore(self.max_channels))

    async def _client_key(self, target: SSHTarget) -> asyncssh.SSHKey | None:
        """The parsed private key, parsed in a thread (bcrypt KDF) once per key text and passphrase.

        The RSA consistency check is skipped: it holds the GIL for ~200 ms, and keys are validated
        when they are stored (add_server / update_server).
        """
        if target.private_key is None:
            return None
        digest = target.key_digest()
        cached = self._client_keys.get(target.key)
        if cached is not None and cached[0] == digest:
            return cached[1]
        key = await asyncio.to_thread(load_private_key, target.private_key, target.passphrase, validate=False)
        self._client_keys[target.key] = (digest, key)
        return key

    def _discard(self, key: str, entry: PooledConnection) -> None:
        if self._pooled.get(key) is entry:
            del self._pooled[key]
        entry.retire()

    def _lock(self, key: str) -> asyncio.Lock:
        return self._locks.setdefault(key, asyncio.Lock())

    async def close(self, key: str) -> None:
        """Close one target's connection (its running commands fail) and forget its parsed key."""
        async with self._lock(key):
            entry = self._pooled.pop(key, None)
            self._client_keys.pop(key, None)
        if entry is None:
            return
        entry.conn.close()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self.connect_timeout):
                await entry.conn.wait_closed()

    def target_keys(self) -> list[str]:
        return list(self._pooled)

    def lookup(self, key: str) -> PooledConnection | None:
        return self._pooled.get(key)

    def stats(self) -> dict[str, Any]:
        """A snapshot; safe from another thread (the list is copied at once, entries are only read)."""
        live = {key: entry for key, entry in list(self._pooled.items()) if not entry.conn.is_closed()}
        return {
            "connections": len(live),
            "channels_in_use": sum(entry.in_use for entry in live.values()),
            "max_channels_per_connection": self.max_channels,
            "connects_total": self.connects,
            "targets": {
                key: {
                    "channels_in_use": entry.in_use,
                    "fingerprint": entry.fingerprint,
                    "age_s": round(time.monotonic() - entry.opened_at, 1),
                }
                for key, entry in live.items()
            },
        }
