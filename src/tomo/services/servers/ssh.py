"""Remote commands and files on registered servers, by server id (or unique name).

This is what every feature that acts on a server calls (server tools, Docker, app deployment,
monitoring): ``run(server_id, argv)``, ``stream``, ``put_file``, ``get_file``, ``makedirs``.
It resolves the server to an :class:`~tomo.lib.ssh.SSHTarget` with decrypted credentials (cached
per server until the server changes) and runs everything through the one connection pool.

Host keys are pinned only on purpose: by :meth:`SSHService.probe` (an operator's test_connection, trust on
first use) or by an admin's trust_host_key. Every other use of a server whose key is not pinned yet fails
with HOST_KEY_UNKNOWN before anything is sent, so a viewer's read-only tool cannot decide which machine a
server's credentials go to.

The pool is created on first use: importing asyncssh costs about 120 ms, which start-up must not pay.
It takes ``ssh_connect_timeout``, ``ssh_keepalive_interval`` and ``ssh_max_channels`` from the
settings when it is created; when one of them changes, the next command gets a new pool with the new
values and the old pool closes once its running commands finish. ``ssh_command_timeout`` is read
on every call.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import structlog

from tomo.database.repositories.servers import ServerRepository
from tomo.database.types import utcnow
from tomo.errors import HostKeyUnknown, ServerNotFound
from tomo.lib.encryption import Encryptor
from tomo.lib.ssh.command import CommandResult
from tomo.models.server import Server
from tomo.services.settings.settings import SettingsService

if TYPE_CHECKING:
    from tomo.lib.ssh import OnOutput, SSHPool, SSHTarget

log = structlog.get_logger("tomo.ssh_service")

DEFAULT_MAX_OUTPUT = 1_000_000
DEFAULT_MAX_FILE_BYTES = 16 * 1024 * 1024
_RETIRE_POLL_S = 0.5


def host_key_unknown(name: str) -> HostKeyUnknown:
    """The error for a server whose host key nobody has pinned yet."""
    return HostKeyUnknown(
        f"Server '{name}' has no pinned SSH host key yet, so Tomo does not connect to it. An operator runs "
        f"test_connection(server_id='{name}') once: it logs in and pins the key the server presents (trust on "
        "first use); an admin can instead pin a fingerprint checked on the server with trust_host_key."
    )


def server_not_found(ref: str) -> ServerNotFound:
    """The error for an unknown server id or name."""
    return ServerNotFound(f"Server '{ref}' not found; call list_servers to see the registered servers (id or name).")


class LazySSHPool:
    """The SSH connection pool, built on first use from the ssh_* settings (see the module docstring)."""

    def __init__(self, settings_service: SettingsService, factory: Callable[..., SSHPool] | None = None) -> None:
        self.settings = settings_service
        self.factory = factory  # None: tomo.lib.ssh.SSHPool (tests pass a fake)
        self._pool: SSHPool | None = None
        self._options: dict[str, Any] = {}
        self._retiring: set[asyncio.Task[None]] = set()

    def options(self) -> dict[str, Any]:
        """Pool options from the current settings."""
        return {
            "connect_timeout": float(self.settings.get("ssh_connect_timeout")),
            "command_timeout": float(self.settings.get("ssh_command_timeout")),
            "keepalive_interval": float(self.settings.get("ssh_keepalive_interval")),
            "max_channels": int(self.settings.get("ssh_max_channels")),
        }

    def get(self) -> SSHPool:
        """The pool for the current settings, created (or replaced) as needed."""
        options = self.options()
        options_without_default_timeout = {k: v for k, v in options.items() if k != "command_timeout"}
        if self._pool is not None and options_without_default_timeout == self._options:
            return self._pool
        if self._pool is not None:
            log.info("ssh_pool.replaced", reason="settings changed", options=options_without_default_timeout)
            self._retire(self._pool)
        self._pool = (self.factory or _default_factory())(**options)
        self._options = options_without_default_timeout
        return self._pool

    def current(self) -> SSHPool | None:
        """The pool if it exists (no creation)."""
        return self._pool

    def _retire(self, pool: SSHPool) -> None:
        task = asyncio.get_running_loop().create_task(self._close_when_idle(pool))
        self._retiring.add(task)
        task.add_done_callback(self._retiring.discard)

    async def _close_when_idle(self, pool: SSHPool) -> None:
        deadline = asyncio.get_running_loop().time() + 3600 + 60  # the longest command timeout allowed
        # SSHPool has no "idle" event; polling its channel count twice a second is cheap.
        while pool.stats()["channels_in_use"] and asyncio.get_running_loop().time() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(_RETIRE_POLL_S)
        await pool.close_all()

    async def close(self, key: str) -> None:
        """Close one server's pooled connection, if any."""
        if self._pool is not None:
            await self._pool.close(key)

    async def close_all(self) -> None:
        """Close every connection (shutdown)."""
        for task in list(self._retiring):
            task.cancel()
        pools = [self._pool] if self._pool is not None else []
        self._pool = None
        await asyncio.gather(*(pool.close_all() for pool in pools), *self._retiring, return_exceptions=True)

    def stats(self) -> dict[str, Any]:
        """Pool figures for health_check (``idle`` until the first SSH use)."""
        if self._pool is None:
            return {"status": "idle", "connections": 0, "channels_in_use": 0}
        return {"status": "ok", **self._pool.stats(), "retiring_pools": len(self._retiring)}


def _default_factory() -> Callable[..., SSHPool]:
    from tomo.lib.ssh import SSHPool

    return SSHPool


@dataclass(frozen=True)
class ProbeOutcome:
    """A successful round trip to a server."""

    fingerprint: str
    latency_ms: float
    reused: bool
    newly_pinned: bool


class SSHService:
    """Run commands and move files on registered servers, by id or unique name."""

    def __init__(
        self,
        server_repository: ServerRepository,
        encryptor: Encryptor,
        settings_service: SettingsService,
        ssh_pool: LazySSHPool,
    ) -> None:
        self.repo = server_repository
        self.encryptor = encryptor
        self.settings = settings_service
        self.pool = ssh_pool
        self._targets: dict[str, SSHTarget] = {}  # by id and by lower-cased name
        self._generation = 0  # bumped by invalidate(): a lookup that raced with a change is not cached
        self._pin_locks: dict[str, asyncio.Lock] = {}

    async def target(self, server_id: str) -> SSHTarget:
        """How to reach the server (credentials decrypted); cached until the server changes."""
        cached = self._targets.get(server_id.lower())
        if cached is not None:
            return cached
        return (await self._load(server_id))[1]

    async def lookup(self, server_id: str) -> tuple[Server, SSHTarget]:
        """The server's current record and how to reach it, in one database read."""
        cached = self._targets.get(server_id.lower())
        if cached is None:
            return await self._load(server_id)
        server = await self.repo.find(cached.key)
        if server is None:  # deleted meanwhile
            raise server_not_found(server_id)
        return server, cached

    async def _load(self, server_id: str) -> tuple[Server, SSHTarget]:
        generation = self._generation
        found = await self.repo.find_with_credentials(server_id)
        if found is None:
            raise server_not_found(server_id)
        server, token = found
        secrets = await self.encryptor.decrypt_json(token)
        from tomo.lib.ssh import SSHTarget

        target = SSHTarget(
            key=server.id, host=server.host, port=server.port, username=server.username,
            password=secrets.get("password"), private_key=secrets.get("private_key"),
            passphrase=secrets.get("passphrase"), pinned_fingerprint=server.host_key_fingerprint,
        )  # fmt: skip
        if generation == self._generation:
            self._targets[server.id] = self._targets[server.name.lower()] = target
        return server, target

    def invalidate(self, server_id: str) -> None:
        """Forget the cached target of a server (after its record changed)."""
        self._generation += 1
        for ref in [ref for ref, target in self._targets.items() if target.key == server_id]:
            del self._targets[ref]

    async def forget_all(self) -> None:
        """A server changed (in any process): forget every cached target, so the next use reads the records again.

        Connections stay open, with their running commands: the pool replaces a connection when its server's
        address, credentials or pinned key no longer match (so one server's change, or this process's own pin,
        does not cut the commands running on the others). Only the connections of deleted servers close."""
        keys = {target.key for target in self._targets.values()}
        self._targets.clear()
        self._generation += 1
        for key in keys:
            if await self.repo.find(key) is None:
                await self.pool.close(key)

    async def forget(self, server_id: str) -> None:
        """Forget the cached target and close the pooled connection (next use reconnects)."""
        self.invalidate(server_id)
        await self.pool.close(server_id)

    async def run(
        self,
        server_id: str,
        argv: Sequence[str],
        *,
        timeout: float | None = None,  # noqa: ASYNC109 - the remote command's budget
        check: bool = False,
        stdin: str | bytes | None = None,
        max_output: int = DEFAULT_MAX_OUTPUT,
    ) -> CommandResult:
        """Run ``argv`` (a list: quoted in one place, never through a shell unless argv says ``sh -c``).

        Returns exit status and the last ``max_output`` bytes of stdout/stderr. Raises ServerNotFound,
        ConnectionFailed, AuthenticationFailed, HostKeyMismatch, CommandTimeout (the command is killed),
        and with ``check=True`` CommandFailed for a non-zero exit.
        """
        target = await self._pinned_target(server_id)
        return await self.pool.get().run(
            target, argv, timeout=self._timeout(timeout), stdin=stdin, check=check, max_output=max_output
        )

    async def stream(
        self,
        server_id: str,
        argv: Sequence[str],
        on_output: OnOutput,
        *,
        timeout: float | None = None,  # noqa: ASYNC109 - the remote command's budget
        check: bool = False,
        max_output: int = DEFAULT_MAX_OUTPUT,
    ) -> CommandResult:
        """Run a long command, calling ``on_output(stream, line)`` for each line as it arrives."""
        target = await self._pinned_target(server_id)
        return await self.pool.get().stream(
            target, argv, on_output, timeout=self._timeout(timeout), check=check, max_output=max_output
        )

    async def put_file(
        self,
        server_id: str,
        remote_path: str,
        data: bytes,
        *,
        mode: int = 0o600,
        timeout: float | None = None,  # noqa: ASYNC109 - the transfer's budget
    ) -> None:
        """Write ``data`` to ``remote_path`` over SFTP, atomically, with ``mode``."""
        target = await self._pinned_target(server_id)
        await self.pool.get().put_file(target, remote_path, data, mode=mode, timeout=self._timeout(timeout))

    async def get_file(
        self,
        server_id: str,
        remote_path: str,
        *,
        max_bytes: int = DEFAULT_MAX_FILE_BYTES,
        timeout: float | None = None,  # noqa: ASYNC109 - the transfer's budget
    ) -> bytes:
        """Read a remote file over SFTP (ValidationError when larger than ``max_bytes``)."""
        target = await self._pinned_target(server_id)
        return await self.pool.get().get_file(target, remote_path, max_bytes=max_bytes, timeout=self._timeout(timeout))

    async def makedirs(
        self,
        server_id: str,
        remote_path: str,
        mode: int = 0o755,
        *,
        timeout: float | None = None,  # noqa: ASYNC109 - the operation's budget
    ) -> None:
        """``mkdir -p`` over SFTP."""
        target = await self._pinned_target(server_id)
        await self.pool.get().makedirs(target, remote_path, mode, timeout=self._timeout(timeout))

    async def probe(self, server_id: str, *, reconnect: bool = False) -> ProbeOutcome:
        """Connect (reusing the pooled connection unless ``reconnect``) and run ``true``; pins on first use."""
        target = await self.target(server_id)
        if target.pinned_fingerprint is None:
            async with self._pin_lock(target.key):
                target = await self.target(server_id)
                if target.pinned_fingerprint is None:
                    probe = await self.pool.get().probe(target, reconnect=reconnect)
                    await self._pin(target, probe.fingerprint)
                    return ProbeOutcome(probe.fingerprint, probe.latency_ms, probe.reused, newly_pinned=True)
        probe = await self.pool.get().probe(target, reconnect=reconnect)
        return ProbeOutcome(probe.fingerprint, probe.latency_ms, probe.reused, newly_pinned=False)

    async def presented_fingerprint(self, server_id: str) -> str:
        """The host key fingerprint the server presents right now (key exchange only: nothing is sent)."""
        return await self.pool.get().host_key_fingerprint(await self.target(server_id))

    async def _pinned_target(self, server_id: str) -> SSHTarget:
        """The target of a server whose host key is pinned; HostKeyUnknown otherwise (nothing is sent)."""
        target = await self.target(server_id)
        if target.pinned_fingerprint is not None:
            return target
        server, target = await self._load(server_id)  # the cache may predate another instance's pin
        if target.pinned_fingerprint is None:
            raise host_key_unknown(server.name)
        return target

    async def _pin(self, target: SSHTarget, fingerprint: str) -> None:
        stored = await self.repo.pin_host_key(target.key, fingerprint, utcnow(), replace=False)
        self.invalidate(target.key)
        if stored:
            log.info("host_key_pinned", server_id=target.key, fingerprint=fingerprint)

    def _pin_lock(self, key: str) -> asyncio.Lock:
        return self._pin_locks.setdefault(key, asyncio.Lock())

    def _timeout(self, timeout: float | None) -> float:
        return float(self.settings.get("ssh_command_timeout")) if timeout is None else timeout

