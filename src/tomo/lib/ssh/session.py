"""One remote command on one SSH channel: collect bounded output, wait with a timeout, kill on expiry.

Everything here runs on the SSH loop (:mod:`tomo.lib.ssh.loop`) except :class:`LineSink`, which
lives on the caller's loop and is fed across by :class:`RelaySink`.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import signal
from collections.abc import Awaitable, Callable
from typing import Protocol

import asyncssh

from tomo.lib.ssh.command import LineSplitter, OutputTail

OnOutput = Callable[[str, str], Awaitable[None] | None]

#: Streaming pauses reading from the channel while this many lines wait for on_output.
_QUEUE_HIGH = 1024
_QUEUE_LOW = 256


class OutputSink(Protocol):
    def feed(self, stream: str, data: bytes) -> None: ...

    def attach(self, channel: asyncssh.SSHClientChannel[bytes]) -> None: ...


class TailSink:
    """Keep the last ``limit`` bytes of stdout and of stderr."""

    def __init__(self, limit: int) -> None:
        self.tails = {"stdout": OutputTail(limit), "stderr": OutputTail(limit)}

    def feed(self, stream: str, data: bytes) -> None:
        self.tails[stream].feed(data)

    def attach(self, channel: asyncssh.SSHClientChannel[bytes]) -> None:
        """The channel opened (a TailSink never pauses it)."""

    def text(self, stream: str) -> str:
        return self.tails[stream].text()

    @property
    def truncated(self) -> bool:
        return any(tail.truncated for tail in self.tails.values())


class LineSink(TailSink):
    """Cut the output into lines and queue them for ``on_output`` on the caller's loop.

    It lives on the caller's loop; a :class:`RelaySink` on the SSH loop feeds it. ``pause`` and
    ``resume`` stop and restart reading from the channel while ``on_output`` lags behind.
    """

    def __init__(self, limit: int, pause: Callable[[], None], resume: Callable[[], None]) -> None:
        super().__init__(limit)
        self.queue: asyncio.Queue[tuple[str, str] | None] = asyncio.Queue()
        self._pause, self._resume = pause, resume
        self._paused = False
        self._splitters = {name: LineSplitter(self._emitter(name)) for name in self.tails}

    def _emitter(self, stream: str) -> Callable[[str], None]:
        return lambda line: self.queue.put_nowait((stream, line))

    def feed(self, stream: str, data: bytes) -> None:
        super().feed(stream, data)
        self._splitters[stream].feed(data)
        if not self._paused and self.queue.qsize() >= _QUEUE_HIGH:
            self._paused = True
            self._pause()

    def finish(self) -> None:
        """Flush unterminated last lines and tell the pump to stop."""
        for splitter in self._splitters.values():
            splitter.close()
        self.queue.put_nowait(None)

    async def pump(self, on_output: OnOutput) -> None:
        """Deliver queued lines to ``on_output`` (sync or async) until ``finish``."""
        while (item := await self.queue.get()) is not None:
            result = on_output(*item)
            if inspect.isawaitable(result):
                await result
            if self._paused and self.queue.qsize() <= _QUEUE_LOW:
                self._paused = False
                self._resume()


class RelaySink:
    """On the SSH loop: hand each chunk of output to a :class:`LineSink` on the caller's loop, in order."""

    def __init__(self, caller: asyncio.AbstractEventLoop, lines: LineSink) -> None:
        self._caller = caller
        self._lines = lines
        self.channel: asyncssh.SSHClientChannel[bytes] | None = None

    def feed(self, stream: str, data: bytes) -> None:
        self._caller.call_soon_threadsafe(self._lines.feed, stream, data)

    def attach(self, channel: asyncssh.SSHClientChannel[bytes]) -> None:
        self.channel = channel

    def pause(self) -> None:
        if self.channel is not None:
            self.channel.pause_reading()

    def resume(self) -> None:
        if self.channel is not None:
            self.channel.resume_reading()


class CommandSession(asyncssh.SSHClientSession[bytes]):
    """asyncssh callbacks for one exec channel; ``started`` tells whether the channel ever opened."""

    def __init__(self, sink: OutputSink) -> None:
        self._sink = sink
        self.channel: asyncssh.SSHClientChannel[bytes] | None = None
        self.exit_status: int | None = None
        self.exit_signal: str | None = None
        self.error: Exception | None = None
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    @property
    def started(self) -> bool:
        return self.channel is not None

    def connection_made(self, chan: asyncssh.SSHClientChannel[bytes]) -> None:
        self.channel = chan
        self._sink.attach(chan)

    def data_received(self, data: bytes, datatype: asyncssh.DataType) -> None:
        stream = "stderr" if datatype == asyncssh.EXTENDED_DATA_STDERR else "stdout"
        self._sink.feed(stream, data)

    def exit_status_received(self, status: int) -> None:
        self.exit_status = status

    def exit_signal_received(self, signal: str, core_dumped: bool, msg: str, lang: str) -> None:
        self.exit_signal = signal

    def connection_lost(self, exc: Exception | None) -> None:
        self.error = exc
        if not self.done.done():
            self.done.set_result(None)

    def final_status(self) -> int | None:
        """Exit status, 128+N for a signal (shell convention), None if the channel died without one."""
        if self.exit_status is not None:
            return self.exit_status
        if self.exit_signal is not None:
            with contextlib.suppress(KeyError):
                return 128 + signal.Signals[f"SIG{self.exit_signal}"].value
            return 255
        return None


async def drive(
    channel: asyncssh.SSHClientChannel[bytes], session: CommandSession, stdin: bytes | None, limit: float
) -> None:
    """Send stdin, then wait for the command to end; on timeout or cancellation kill it and re-raise."""
    try:
        if stdin:
            channel.write(stdin)
        channel.write_eof()
        async with asyncio.timeout(limit):
            await session.done
    except BaseException:
        kill(channel)
        raise


def kill(channel: asyncssh.SSHClientChannel[bytes]) -> None:
    """Ask sshd to SIGKILL the command, then close the channel (never raises)."""
    with contextlib.suppress(OSError, asyncssh.Error):
        channel.send_signal("KILL")
    channel.close()
