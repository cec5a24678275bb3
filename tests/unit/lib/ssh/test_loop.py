"""SSHLoop: coroutines run on the SSH thread and hand back results, errors and cancellation."""

from __future__ import annotations

import asyncio
import contextvars
import threading
from collections.abc import AsyncIterator

import pytest

from tomo.errors import ConnectionFailed
from tomo.lib.ssh.loop import SSHLoop

REQUEST = contextvars.ContextVar("request", default="none")


@pytest.fixture
async def ssh_loop() -> AsyncIterator[SSHLoop]:
    loop = SSHLoop(name="test-ssh")
    yield loop
    await loop.stop()


async def test_call_runs_on_the_ssh_thread_and_returns_its_result(ssh_loop: SSHLoop) -> None:
    async def where() -> str:
        await asyncio.sleep(0)
        return threading.current_thread().name

    assert await ssh_loop.call(where()) == "test-ssh"


async def test_call_raises_what_the_coroutine_raised(ssh_loop: SSHLoop) -> None:
    async def fail() -> None:
        raise KeyError("gone")

    with pytest.raises(KeyError, match="gone"):
        await ssh_loop.call(fail())


async def test_call_carries_the_callers_context_variables(ssh_loop: SSHLoop) -> None:
    async def read() -> str:
        return REQUEST.get()

    REQUEST.set("req-7")
    assert await ssh_loop.call(read()) == "req-7"


async def test_cancelling_the_caller_cancels_over_there_and_waits_for_the_unwinding(ssh_loop: SSHLoop) -> None:
    unwound = threading.Event()

    async def slow() -> None:
        try:
            await asyncio.sleep(30)
        finally:
            await asyncio.sleep(0.05)  # clean-up that itself awaits
            unwound.set()

    caller = asyncio.create_task(ssh_loop.call(slow()))
    await asyncio.sleep(0.05)
    caller.cancel()
    with pytest.raises(asyncio.CancelledError):
        await caller
    assert unwound.is_set()


async def test_cancelling_before_the_coroutine_started_does_not_hang(ssh_loop: SSHLoop) -> None:
    async def never() -> None:
        raise AssertionError("must not run")

    caller = asyncio.create_task(ssh_loop.call(never()))
    await asyncio.sleep(0)
    caller.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(caller, timeout=2)


async def test_stop_ends_the_thread_and_the_next_call_starts_a_new_one(ssh_loop: SSHLoop) -> None:
    async def thread() -> threading.Thread:
        return threading.current_thread()

    first = await ssh_loop.call(thread())
    await ssh_loop.stop()
    assert not ssh_loop.running and not first.is_alive()
    second = await ssh_loop.call(thread())
    assert second is not first and second.is_alive()


async def test_stopping_the_loop_fails_running_calls_with_connection_failed(ssh_loop: SSHLoop) -> None:
    started = threading.Event()

    async def slow() -> None:
        started.set()
        await asyncio.sleep(30)

    caller = asyncio.create_task(ssh_loop.call(slow()))
    await asyncio.to_thread(started.wait, 2)
    await ssh_loop.stop()
    with pytest.raises(ConnectionFailed, match="shut down"):
        await asyncio.wait_for(caller, timeout=2)
