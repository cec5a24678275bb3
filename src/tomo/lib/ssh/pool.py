"""SSHPool: run commands and move files on managed servers over pooled SSH connections.

Connection rules (one per server, bounded channels, reconnect once, replace on change) live in
:mod:`tomo.lib.ssh.connections`. Timeouts: ``connect_timeout`` covers connecting and logging in;
``command_timeout`` (or a call's ``timeout``) runs from the moment the channel is open until the
command ends, after which the command is killed and CommandTimeout raised.

Loops: the connections live on the pool's own SSH loop (:mod:`tomo.lib.ssh.loop`), so SSH work
never queues in front of the caller's other tasks. Each public coroutine crosses over exactly once
(``self._ssh.call``); the private ``_on_ssh_*`` coroutines run over there. ``close_all`` closes
every connection and stops that loop; the next call starts it again.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

import asyncssh
import structlog

from tomo.errors import CommandFailed, CommandTimeout
from tomo.lib.ssh import sftp as sftp_ops
from tomo.lib.ssh.command import CommandResult, to_shell
from tomo.lib.ssh.connect import fetch_host_key_fingerprint, lost_error
from tomo.lib.ssh.connections import ConnectionTable
from tomo.lib.ssh.loop import SSHLoop
from tomo.lib.ssh.session import CommandSession, LineSink, OnOutput, OutputSink, RelaySink, TailSink, drive
from tomo.lib.ssh.target import ProbeResult, SSHTarget

log = structlog.get_logger("tomo.ssh")

T = TypeVar("T")

_STDERR_TAIL_CHARS = 600


class SSHPool:
    """Pooled SSH access to managed servers; every failure surfaces as a tomo.errors RemoteError/AuthError."""

    def __init__(
        self,
        *,
        connect_timeout: float = 10,
        command_timeout: float = 60,
        keepalive_interval: float = 30,
        keepalive_count_max: int = 3,
        max_channels: int = 8,
    ) -> None:
        self._command_timeout = command_timeout
        self._table_options: dict[str, Any] = {
            "connect_timeout": connect_timeout,
            "keepalive_interval": keepalive_interval,
            "keepalive_count_max": keepalive_count_max,
            "max_channels": max_channels,
        }
        self._table = ConnectionTable(**self._table_options)
        self._ssh = SSHLoop()

    async def run(
        self,
        target: SSHTarget,
        argv: Sequence[str],
        *,
        timeout: float | None = None,  # noqa: ASYNC109 - the remote command's budget
        stdin: str | bytes | None = None,
        check: bool = False,
        max_output: int = 1_000_000,
    ) -> CommandResult:
        """Run ``argv`` on the server; return its exit status and the last ``max_output`` bytes of each stream.

        Raises CommandTimeout (the command is killed), ConnectionFailed, AuthenticationFailed,
        HostKeyMismatch, and with ``check=True`` CommandFailed for a non-zero exit.
        """
        command = to_shell(argv)
        data = stdin.encode() if isinstance(stdin, str) else stdin
        limit = self._limit(timeout)
        return await self._ssh.call(self._on_ssh_run(target, argv, command, limit, data, check, max_output))

    async def stream(
        self,
        target: SSHTarget,
        argv: Sequence[str],
        on_output: OnOutput,
        *,
        timeout: float | None = None,  # noqa: ASYNC109 - the remote command's budget
        check: bool = False,
        max_output: int = 1_000_000,
    ) -> CommandResult:
        """Run a long command, calling ``on_output(stream_name, line)`` for each line as it arrives.

        ``stream_name`` is "stdout" or "stderr"; ``on_output`` may be sync or async. Reading pauses
        while it lags, and an exception it raises kills the command and propagates.
        """
        command = to_shell(argv)
        sink = LineSink(max_output, pause=lambda: self._ssh.call_soon(relay.pause),
                        resume=lambda: self._ssh.call_soon(relay.resume))  # fmt: skip
        relay = RelaySink(asyncio.get_running_loop(), sink)
        started = time.perf_counter()
        execute = self._execute(target, argv, command, relay, self._limit(timeout), None)
        runner = asyncio.ensure_future(self._ssh.call(execute))
        runner.add_done_callback(lambda _: sink.finish())  # after every chunk: both cross in order
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
        return _finish(target, argv, status, sink, started, check)

    async def probe(self, target: SSHTarget, *, reconnect: bool = False) -> ProbeResult:
        """Connect (or reuse the connection unless ``reconnect``) and run ``true``: host key and round-trip time."""
        return await self._ssh.call(self._on_ssh_probe(target, reconnect))

    async def host_key_fingerprint(self, target: SSHTarget) -> str:
        """The SHA256 host key fingerprint a fresh connection sees (key exchange only: no login, no pin)."""
        timeout = self._table.connect_timeout
        return await self._ssh.call(fetch_host_key_fingerprint(target, connect_timeout=timeout))

    async def put_file(
        self,
        target: SSHTarget,
        remote_path: str,
        data: bytes,
        *,
        mode: int = 0o600,
        timeout: float | None = None,  # noqa: ASYNC109 - the transfer's budget
    ) -> None:
        """Write ``data`` to ``remote_path`` atomically (temporary file beside it, then rename) with ``mode``."""
        path = sftp_ops.check_remote_path(remote_path)
        await self._sftp_call(
            target, "write", path, self._limit(timeout), lambda sftp: sftp_ops.write_atomic(sftp, path, data, mode)
        )

    async def get_file(
        self,
        target: SSHTarget,
        remote_path: str,
        *,
        max_bytes: int = sftp_ops.DEFAULT_MAX_FILE_BYTES,
        timeout: float | None = None,  # noqa: ASYNC109 - the transfer's budget
    ) -> bytes:
        """Read a whole remote file; ValidationError when it is larger than ``max_bytes``."""
        path = sftp_ops.check_remote_path(remote_path)
        return await self._sftp_call(
            target, "read", path, self._limit(timeout), lambda sftp: sftp_ops.read_bounded(sftp, path, max_bytes)
        )

    async def makedirs(
        self,
        target: SSHTarget,
        remote_path: str,
        mode: int = 0o755,
        *,
        timeout: float | None = None,  # noqa: ASYNC109 - the operation's budget
    ) -> None:
        """Create ``remote_path`` and its missing parents, like ``mkdir -p``."""
        path = sftp_ops.check_remote_path(remote_path)
        await self._sftp_call(
            target, "mkdir", path, self._limit(timeout), lambda sftp: sftp_ops.make_dirs(sftp, path, mode)
        )

    async def close(self, key: str) -> None:
        """Close one target's connection (commands running on it fail) and forget its parsed key."""
        if self._ssh.running:
            await self._ssh.call(self._table.close(key))

    async def close_all(self) -> None:
        """Close every connection and stop the SSH loop (a later call starts afresh)."""
        if self._ssh.running:
            table = self._table
            await self._ssh.call(_close_every(table))
        self._table = ConnectionTable(**self._table_options)  # its locks belonged to the stopped loop
        await self._ssh.stop()

    def stats(self) -> dict[str, Any]:
        """Connections open, channels in use (total and per target), connections opened so far."""
        return self._table.stats()

    async def _on_ssh_run(
        self, target: SSHTarget, argv: Sequence[str], command: str, limit: float, stdin: bytes | None, check: bool,
        max_output: int,
    ) -> CommandResult:  # fmt: skip
        sink = TailSink(max_output)
        started = time.perf_counter()
        status = await self._execute(target, argv, command, sink, limit, stdin)
        return _finish(target, argv, status, sink, started, check)

    async def _on_ssh_probe(self, target: SSHTarget, reconnect: bool) -> ProbeResult:
        if reconnect:
            await self._table.close(target.key)
        reused = self._table.reusable(target)
        entry = await self._table.get(target)
        result = await self._on_ssh_run(target, ["true"], "true", self._command_timeout, None, True, 1024)
        return ProbeResult(fingerprint=entry.fingerprint, latency_ms=result.duration_ms, reused=reused)

    async def _execute(
        self, target: SSHTarget, argv: Sequence[str], command: str, sink: OutputSink, limit: float, stdin: bytes | None
    ) -> int:
        log.debug("ssh.command", server=target.key, command=command)
        session = CommandSession(sink)

        async def open_exec(conn: asyncssh.SSHClientConnection) -> asyncssh.SSHClientChannel[bytes]:
            channel, _ = await conn.create_session(
                lambda: session, command, encoding=None, request_pty=False, x11_forwarding=False
            )
            return channel

        async with self._table.channel(target, open_exec, retryable=lambda: not session.started) as channel:
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
            cause = session.error or ConnectionError("channel closed without an exit status")
            raise lost_error(target, cause, during=f"'{argv[0]}' (it may or may not have completed)") from cause
        return status

    async def _sftp_call(
        self,
        target: SSHTarget,
        operation: str,
        path: str,
        limit: float,
        work: Callable[[asyncssh.SFTPClient], Awaitable[T]],
    ) -> T:
        return await self._ssh.call(self._on_ssh_sftp(target, operation, path, limit, work))

    async def _on_ssh_sftp(
        self,
        target: SSHTarget,
        operation: str,
        path: str,
        limit: float,
        work: Callable[[asyncssh.SFTPClient], Awaitable[T]],
    ) -> T:
        log.debug("ssh.sftp", server=target.key, operation=operation, path=path)
        async with self._table.channel(target, lambda conn: conn.start_sftp_client()) as sftp:
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
                await _close_sftp(sftp)

    def _limit(self, timeout: float | None) -> float:
        return self._command_timeout if timeout is None else timeout

    def _connection_for_tests(self, key: str) -> asyncssh.SSHClientConnection | None:
        """The pooled connection, for reading its details (call its methods through _abort_for_tests)."""
        entry = self._table.lookup(key)
        return None if entry is None else entry.conn

    async def _abort_for_tests(self, key: str) -> None:
        """Drop the pooled connection abruptly, as a network failure would (on the SSH loop, where it lives)."""
        entry = self._table.lookup(key)
        if entry is not None:
            await self._ssh.call(_abort(entry.conn))


async def _close_every(table: ConnectionTable) -> None:
    await asyncio.gather(*(table.close(key) for key in table.target_keys()))


async def _abort(conn: asyncssh.SSHClientConnection) -> None:
    conn.abort()


async def _close_sftp(sftp: asyncssh.SFTPClient) -> None:
    """End the SFTP session and wait briefly for its channel to close, so the slot is really free."""
    sftp.exit()
    with contextlib.suppress(TimeoutError, asyncssh.Error, OSError):
        async with asyncio.timeout(5):
            await sftp.wait_closed()


def _finish(
    target: SSHTarget, argv: Sequence[str], status: int, sink: TailSink, started: float, check: bool
) -> CommandResult:
    result = CommandResult(
        exit_status=status,
        stdout=sink.text("stdout"),
        stderr=sink.text("stderr"),
        duration_ms=(time.perf_counter() - started) * 1000,
        truncated=sink.truncated,
    )
    log.debug("ssh.command.done", server=target.key, exit_status=status, duration_ms=round(result.duration_ms, 1))
    if check and status != 0:
        tail = result.stderr.strip()[-_STDERR_TAIL_CHARS:]
        raise CommandFailed(
            f"'{argv[0]}' exited with status {status} on {target.address}"
            + (f": {tail.splitlines()[-1]}" if tail else ""),
            details={"exit_status": status, "program": argv[0], "stderr_tail": tail},
        )
    return result
