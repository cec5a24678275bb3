"""The SSH event loop: a private asyncio loop in a daemon thread where every asyncssh object lives.

Why: key exchange, authentication (RSA signatures), packet encryption and the per-packet protocol
work of asyncssh cost about 12 ms of CPU per new connection and several ms per command. On Tomo's
own loop that work queued in front of every other call (health_check answered in 50-100 ms while
servers were tested). On this loop it runs beside the caller's loop: Python switches threads at
least every ``sys.getswitchinterval()`` (5 ms), and OpenSSL releases the GIL while it signs.

asyncssh requires that everything touching one connection runs on one loop, so callers never
touch asyncssh objects: :meth:`SSHLoop.call` is the one crossing. It runs a coroutine here and
hands its result or exception back; cancelling the caller cancels the coroutine here and waits
(briefly) until it has unwound, so a killed command or a released channel slot is really done.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from tomo.errors import ConnectionFailed

T = TypeVar("T")

#: How long a cancelled caller waits for the SSH side to unwind (kill the command, free the slot).
UNWIND_TIMEOUT_S = 5.0
#: How long stop() waits for the thread to finish its clean-up.
STOP_TIMEOUT_S = 5.0


class SSHLoop:
    """An event loop running in its own daemon thread, started on first use, stopped by :meth:`stop`."""

    def __init__(self, name: str = "tomo-ssh") -> None:
        self.name = name
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    async def call(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` on the SSH loop; return (or raise) what it returns (or raises), in the caller's loop."""
        caller = asyncio.get_running_loop()
        loop = self._started()
        outcome: asyncio.Future[T] = caller.create_future()
        outcome.add_done_callback(_mark_retrieved)
        tasks: list[asyncio.Task[T]] = []
        cancelling: list[bool] = []  # set when the caller cancels; any other cancellation is a shutdown
        context = contextvars.copy_context()  # log fields bound by the caller stay bound over there

        def start() -> None:
            task = loop.create_task(coro, context=context)
            tasks.append(task)
            task.add_done_callback(lambda done: caller.call_soon_threadsafe(_copy_outcome, done, outcome, cancelling))

        loop.call_soon_threadsafe(start)
        try:
            return await asyncio.shield(outcome)
        except asyncio.CancelledError:
            cancelling.append(True)
            with contextlib.suppress(RuntimeError):  # the SSH loop is already closed: nothing left to cancel
                loop.call_soon_threadsafe(_cancel_all, tasks)  # runs after start(): one thread, FIFO
            await asyncio.wait({outcome}, timeout=UNWIND_TIMEOUT_S)
            raise

    def call_soon(self, callback: Callable[[], object]) -> None:
        """Schedule a plain callback on the SSH loop from any thread (fire and forget)."""
        if self._loop is not None:
            self._loop.call_soon_threadsafe(callback)

    async def stop(self) -> None:
        """Stop the loop and its thread after cancelling what still runs there; a later call starts anew."""
        with self._lock:
            loop, thread = self._loop, self._thread
            self._loop = self._thread = None
        if loop is None or thread is None:
            return
        loop.call_soon_threadsafe(loop.stop)
        await asyncio.to_thread(thread.join, STOP_TIMEOUT_S)

    def _started(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None:
                self._loop = asyncio.new_event_loop()
                self._thread = threading.Thread(target=_serve, args=(self._loop,), name=self.name, daemon=True)
                self._thread.start()
            return self._loop


def _serve(loop: asyncio.AbstractEventLoop) -> None:
    asyncio.set_event_loop(loop)
    try:
        loop.run_forever()
    finally:
        leftovers = asyncio.all_tasks(loop)
        for task in leftovers:
            task.cancel()
        with contextlib.suppress(Exception):
            loop.run_until_complete(asyncio.gather(*leftovers, return_exceptions=True))
            loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()


def _copy_outcome(task: asyncio.Task[T], outcome: asyncio.Future[T], cancelling: list[bool]) -> None:
    if outcome.done():
        return
    if task.cancelled() and cancelling:
        outcome.cancel()
    elif task.cancelled():
        outcome.set_exception(
            ConnectionFailed("Tomo's SSH connections were shut down while this call was running; retry it")
        )
    elif (exc := task.exception()) is not None:
        outcome.set_exception(exc)
    else:
        outcome.set_result(task.result())


def _cancel_all(tasks: list[asyncio.Task[T]]) -> None:
    for task in tasks:
        task.cancel()


def _mark_retrieved(outcome: asyncio.Future[Any]) -> None:
    """An error that arrives after the caller gave up must not be logged as 'never retrieved'."""
    if not outcome.cancelled():
        outcome.exception()
