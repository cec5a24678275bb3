"""SSHPool: one pooled asyncssh connection per server, shared by every command and transfer.

- One connection per ``SSHTarget.key``; a per-key lock makes concurrent first use open only one.
- At most ``max_channels`` channels at once per connection (sshd's MaxSessions defaults to 10).
- A connection found closed is replaced; a channel that cannot be opened because the connection
  died is retried once on a fresh connection, but only if the command never started.
- A target whose address or credentials changed, or whose pin no longer matches the key the
  connection was made with, gets a new connection; the old one closes when its channels finish.
- Timeouts: ``connect_timeout`` for connecting and logging in, ``command_timeout`` (or the
  per-call ``timeout``) from the moment the channel is open until the command ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import asyncssh
import structlog

from tomo.errors import CommandFailed, CommandTimeout
from tomo.lib.ssh import sftp as sftp_ops
from tomo.lib.ssh.command import CommandResult, to_shell
from tomo.lib.ssh.connect import fetch_host_key_fingerprint, lost_error, open_connection
from tomo.lib.ssh.session import CommandSession, LineSink, OnOutput, TailSink, drive
from tomo.lib.ssh.target import ProbeResult, SSHTarget, load_private_key

log = structlog.get_logger("tomo.ssh")

T = TypeVar("T")

#: Failures that mean "the connection is gone" when opening a channel.
_CHANNEL_ERRORS = (asyncssh.ChannelOpenError, asyncssh.DisconnectError, OSError)
_STDERR_TAIL_CHARS = 600


@dataclass(eq=False)
class _Pooled:
    """One open connection and its channel budget."""

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


class SSHPool:
    """Pooled SSH connections to managed servers; see the module docstring for the rules."""

    def __init__(
        self,
        *,
        connect_timeout: float = 10,
        command_timeout: float = 60,
        keepalive_interval: float = 30,
        keepalive_count_max: int = 3,
        max_channels: int = 8,
    ) -> None:
        self._connect_timeout = connect_timeout
        self._command_timeout = command_timeout
        self._keepalive_interval = keepalive_interval
        self._keepalive_count_max = keepalive_count_max
        self._max_channels = max_channels
        self._pooled: dict[str, _Pooled] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._client_keys: dict[str, tuple[str, asyncssh.SSHKey]] = {}
        self._connects = 0

    # -- commands ---------------------------------------------------------------------------------

    async def run(
        self,
        target: SSHTarget,
        argv: Sequence[str],
        *,
        timeout: float | None = None,
        stdin: str | bytes | None = None,
        check: bool = False,
        max_output: int = 1_000_000,
    ) -> CommandResult:
        """Run ``argv`` on the server and return its exit status and (tails of) its output.

        Raises CommandTimeout (the command is killed), ConnectionFailed, AuthenticationFailed,
        HostKeyMismatch, and with ``check=True`` CommandFailed for a non-zero exit.
        """
        command = to_shell(argv)
        data = stdin.encode() if isinstance(stdin, str) else stdin
        sink = TailSink(max_output)
        started = time.perf_counter()
        status = await self._execute(target, argv, command, sink, timeout, data)
        result = _result(status, sink, started)
        if check and status != 0:
            raise _command_failed(target, argv, result)
        return result

    async def stream(
        self,
        target: SSHTarget,
        argv: Sequence[str],
        on_output: OnOutput,
        *,
        timeout: float | None = None,
        check: bool = False,
        max_output: int = 1_000_000,
    ) -> CommandResult:
        """Run a long command, calling ``on_output(stream_name, line)`` for each line as it arrives.

        ``stream_name`` is "stdout" or "stderr"; ``on_output`` may be sync or async, and the command
        is paused (not buffered without bound) while it lags. An exception in it kills the command.
        """
        command = to_shell(argv)
        sink = LineSink(max_output)
        started = time.perf_counter()
        runner = asyncio.ensure_future(self._execute(target, argv, command, sink, timeout, None))
        runner.add_done_callback(lambda _: sink.finish())
        pump = asyncio.ensure_future(sink.pump(on_output))
        try:
            done, _ = await asyncio.wait({runner, pump}, return_when=asyncio.FIRST_EXCEPTION)
            if pump in done:
                pump.result()
            await pump
            status = runner.result()
        finally:
            for task in (runner, pump):
                task.cancel()
            await asyncio.gather(runner, pump, return_exceptions=True)
        result = _result(status, sink, started)
        if check and status != 0:
            raise _command_failed(target, argv, result)
        return result

    async def probe(self, target: SSHTarget) -> ProbeResult:
        """Connect (or reuse the connection) and run ``true``: the host key fingerprint and the round trip."""
        reused = self._reusable(target)
        entry = await self._connection(target)
        result = await self.run(target, ["true"], check=True)
        return ProbeResult(fingerprint=entry.fingerprint, latency_ms=result.duration_ms, reused=reused)

    async def host_key_fingerprint(self, target: SSHTarget) -> str:
        """The SHA256 host key fingerprint a fresh connection sees (key exchange only, no login, no pin)."""
        return await fetch_host_key_fingerprint(target, connect_timeout=self._connect_timeout)

    # -- files ----------------------------------------------------------------------------------

    async def put_file(
        self, target: SSHTarget, remote_path: str, data: bytes, *, mode: int = 0o600, timeout: float | None = None
    ) -> None:
        """Write ``data`` to ``remote_path`` atomically (temporary file + rename) with ``mode``."""
        path = sftp_ops.check_remote_path(remote_path)
        await self._sftp_call(target, "write", path, lambda s: sftp_ops.write_atomic(s, path, data, mode), timeout)

    async def get_file(
        self,
        target: SSHTarget,
        remote_path: str,
        *,
        max_bytes: int = sftp_ops.DEFAULT_MAX_FILE_BYTES,
        timeout: float | None = None,
    ) -> bytes:
        """Read a whole remote file (ValidationError if larger than ``max_bytes``)."""
        path = sftp_ops.check_remote_path(remote_path)
        return await self._sftp_call(target, "read", path, lambda s: sftp_ops.read_bounded(s, path, max_bytes), timeout)

    async def makedirs(
        self, target: SSHTarget, remote_path: str, mode: int = 0o755, *, timeout: float | None = None
    ) -> None:
        """Create ``remote_path`` and its missing parents (like ``mkdir -p``)."""
        path = sftp_ops.check_remote_path(remote_path)
        await self._sftp_call(target, "mkdir", path, lambda s: sftp_ops.make_dirs(s, path, mode), timeout)

    # -- lifecycle --------------------------------------------------------------------------------

    async def close(self, key: str) -> None:
        """Close the connection of one target (running commands on it fail) and forget its parsed key."""
        async with self._lock(key):
            entry = self._pooled.pop(key, None)
            self._client_keys.pop(key, None)
        if entry is not None:
            entry.conn.close()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._connect_timeout):
                    await entry.conn.wait_closed()

    async def close_all(self) -> None:
        await asyncio.gather(*(self.close(key) for key in list(self._pooled)))

    def stats(self) -> dict[str, Any]:
        """Connections open and channels in use, in total and per target key (for health_check)."""
        live = {key: entry for key, entry in self._pooled.items() if not entry.conn.is_closed()}
        return {
            "connections": len(live),
            "channels_in_use": sum(entry.in_use for entry in live.values()),
            "max_channels_per_connection": self._max_channels,
            "connects_total": self._connects,
            "targets": {
                key: {"channels_in_use": entry.in_use, "fingerprint": entry.fingerprint,
                      "age_s": round(time.monotonic() - entry.opened_at, 1)}
                for key, entry in live.items()
            },
        }

    # -- internals --------------------------------------------------------------------------------

    async def _execute(
        self, target: SSHTarget, argv: Sequence[str], command: str, sink: TailSink,
        timeout: float | None, stdin: bytes | None,
    ) -> int:
        limit = self._command_timeout if timeout is None else timeout
        log.debug("ssh.command", server=target.key, command=command)
        session = CommandSession(sink)

        async def open_exec(conn: asyncssh.SSHClientConnection) -> asyncssh.SSHClientChannel[bytes]:
            channel, _ = await conn.create_session(
                lambda: session, command, encoding=None, request_pty=False,
                x11_forwarding=False, agent_forwarding=False,
            )
            return channel

        async with self._channel(target, open_exec, retryable=lambda: not session.started) as channel:
            try:
                await drive(channel, session, stdin, limit)
            except TimeoutError as exc:
                raise CommandTimeout(
                    f"'{argv[0]}' did not finish within {limit:g}s on {target.address} and was stopped; "
                    "retry with a longer timeout if it is expected to be slow",
                    details={"timeout_s": limit, "program": argv[0]},
                ) from exc
        status = session.final_status()
        if status is None:
            raise lost_error(target, session.error or ConnectionError("channel closed"),
                             during=f"'{argv[0]}' (it may or may not have completed)") from session.error
        return status

    async def _sftp_call(
        self, target: SSHTarget, operation: str, path: str,
        work: Callable[[asyncssh.SFTPClient], Awaitable[T]], timeout: float | None,
    ) -> T:
        limit = self._command_timeout if timeout is None else timeout
        log.debug("ssh.sftp", server=target.key, operation=operation, path=path)
        async with self._channel(target, lambda conn: conn.start_sftp_client()) as sftp:
            try:
                async with asyncio.timeout(limit):
                    return await work(sftp)
            except TimeoutError as exc:
                raise CommandTimeout(
                    f"SFTP {operation} of {path} on {target.address} did not finish within {limit:g}s",
                    details={"timeout_s": limit, "path": path},
                ) from exc
            except asyncssh.SFTPError as exc:
                raise sftp_ops.sftp_error(target, operation, path, exc) from exc
            finally:
                sftp.exit()

    @contextlib.asynccontextmanager
    async def _channel(
        self, target: SSHTarget, opener: Callable[[asyncssh.SSHClientConnection], Awaitable[T]],
        retryable: Callable[[], bool] = lambda: True,
    ) -> AsyncIterator[T]:
        """Hold one channel slot on the target's connection while the body uses what ``opener`` made."""
        entry, channel = await self._open_channel(target, opener, retryable)
        try:
            yield channel
        finally:
            entry.release()

    async def _open_channel(
        self, target: SSHTarget, opener: Callable[[asyncssh.SSHClientConnection], Awaitable[T]],
        retryable: Callable[[], bool],
    ) -> tuple[_Pooled, T]:
        for attempt in (1, 2):
            entry = await self._connection(target)
            await entry.acquire()
            try:
                return entry, await opener(entry.conn)
            except _CHANNEL_ERRORS as exc:
                entry.release()
                if attempt == 2 or not retryable():
                    raise lost_error(target, exc, during="opening a channel") from exc
                log.warning("ssh.reconnect", server=target.key, reason=str(exc) or type(exc).__name__)
                self._discard(target.key, entry)
            except BaseException:
                entry.release()
                raise
        raise AssertionError("unreachable")

    async def _connection(self, target: SSHTarget) -> _Pooled:
        """The target's live connection, opening (or replacing) it under the per-key lock."""
        async with self._lock(target.key):
            entry = self._pooled.get(target.key)
            if entry is not None and self._reusable(target):
                return entry
            if entry is not None:
                log.info("ssh.replace", server=target.key, closed=entry.conn.is_closed())
                self._discard(target.key, entry)
            entry = await self._connect(target)
            self._pooled[target.key] = entry
            return entry

    def _reusable(self, target: SSHTarget) -> bool:
        entry = self._pooled.get(target.key)
        return (
            entry is not None
            and not entry.conn.is_closed()
            and entry.digest == target.digest()
            and target.pinned_fingerprint in (None, entry.fingerprint)
        )

    async def _connect(self, target: SSHTarget) -> _Pooled:
        client_key = await self._client_key(target)
        conn, fingerprint = await open_connection(
            target, client_key, connect_timeout=self._connect_timeout,
            keepalive_interval=self._keepalive_interval, keepalive_count_max=self._keepalive_count_max,
        )
        self._connects += 1
        log.info("ssh.connected", server=target.key, address=target.address, fingerprint=fingerprint)
        return _Pooled(conn, fingerprint, target.digest(), asyncio.Semaphore(self._max_channels))

    async def _client_key(self, target: SSHTarget) -> asyncssh.SSHKey | None:
        """The parsed private key, parsed in a thread (bcrypt KDF) once per key text and passphrase."""
        if target.private_key is None:
            return None
        digest = target.key_digest()
        cached = self._client_keys.get(target.key)
        if cached is not None and cached[0] == digest:
            return cached[1]
        key = await asyncio.to_thread(load_private_key, target.private_key, target.passphrase)
        self._client_keys[target.key] = (digest, key)
        return key

    def _discard(self, key: str, entry: _Pooled) -> None:
        if self._pooled.get(key) is entry:
            del self._pooled[key]
        entry.retire()

    def _lock(self, key: str) -> asyncio.Lock:
        return self._locks.setdefault(key, asyncio.Lock())

    def _connection_for_tests(self, key: str) -> asyncssh.SSHClientConnection | None:
        entry = self._pooled.get(key)
        return None if entry is None else entry.conn


def _result(status: int, sink: TailSink, started: float) -> CommandResult:
    return CommandResult(
        exit_status=status,
        stdout=sink.text("stdout"),
        stderr=sink.text("stderr"),
        duration_ms=(time.perf_counter() - started) * 1000,
        truncated=sink.truncated,
    )


def _command_failed(target: SSHTarget, argv: Sequence[str], result: CommandResult) -> CommandFailed:
    tail = result.stderr.strip()[-_STDERR_TAIL_CHARS:]
    return CommandFailed(
        f"'{argv[0]}' exited with status {result.exit_status} on {target.address}"
        + (f": {tail.splitlines()[-1]}" if tail else ""),
        details={"exit_status": result.exit_status, "program": argv[0], "stderr_tail": tail},
    )
