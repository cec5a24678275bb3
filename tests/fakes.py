"""The one fake of :class:`tomo.lib.ssh.runner.RemoteRunner` for unit tests: it records, a handler answers.

Every command goes through the real quoting (``to_shell``) and is recorded as a :class:`Call` with the
exact argv, server, timeout and flags, so tests assert on what would be sent. A handler, given the argv,
answers with a CommandResult (or raises, as a dropped connection would); ``check=True`` turns a non-zero
exit into CommandFailed as SSHService does. Files written are kept in ``files`` (path -> data, mode) and
read back from there; ``on_file`` sees each file operation first (to fail it, or to keep a model of the
server in step).
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from tomo.errors import CommandFailed
from tomo.lib.ssh import CommandResult, to_shell

OnOutput = Callable[[str, str], Awaitable[None] | None]
Answer = CommandResult | Awaitable[CommandResult]
Handler = Callable[[list[str]], Answer]
StreamHandler = Callable[[list[str], OnOutput], Awaitable[CommandResult]]
FileHook = Callable[["Call"], Awaitable[None] | None]


@dataclass
class Call:
    """One operation the code under test asked for."""

    op: str  # run, stream, put_file, get_file, makedirs
    server_id: str
    argv: list[str]  # the command; for a file operation, [remote_path]
    timeout: float | None
    check: bool = False
    max_output: int | None = None
    mode: int | None = None


def ok(stdout: str = "", stderr: str = "") -> CommandResult:
    """A command that succeeded."""
    return CommandResult(exit_status=0, stdout=stdout, stderr=stderr, duration_ms=5.0)


def failed(stderr: str, exit_status: int = 1, stdout: str = "") -> CommandResult:
    """A command that failed."""
    return CommandResult(exit_status=exit_status, stdout=stdout, stderr=stderr, duration_ms=5.0)


class RecordingRunner:
    """Stands in for SSHService: records every argv and file operation, answers from ``handler``."""

    def __init__(
        self,
        handler: Handler | None = None,
        *,
        stream: StreamHandler | None = None,
        on_file: FileHook | None = None,
        files: dict[str, tuple[bytes, int]] | None = None,
    ) -> None:
        self.handler = handler or (lambda argv: ok())
        self.stream_handler = stream
        self.on_file = on_file
        self.calls: list[Call] = []
        self.files: dict[str, tuple[bytes, int]] = {} if files is None else files

    def argvs(self) -> list[list[str]]:
        """The commands run or streamed, in order."""
        return [call.argv for call in self.calls if call.op in ("run", "stream")]

    async def run(self, server_id: str, argv: Sequence[str], *, timeout: float | None = None, check: bool = False,
                  max_output: int = 1_000_000) -> CommandResult:
        self._record("run", server_id, argv, timeout, check, max_output)
        return _checked(argv, await _resolve(self.handler(list(argv))), check)

    async def stream(self, server_id: str, argv: Sequence[str], on_output: OnOutput, *,
                     timeout: float | None = None, check: bool = False,
                     max_output: int = 1_000_000) -> CommandResult:
        """Without a stream handler, the handler's answer is delivered line by line (stdout, then stderr)."""
        self._record("stream", server_id, argv, timeout, check, max_output)
        if self.stream_handler is not None:
            return _checked(argv, await self.stream_handler(list(argv), on_output), check)
        result = await _resolve(self.handler(list(argv)))
        for name, text in (("stdout", result.stdout), ("stderr", result.stderr)):
            for line in text.splitlines():
                await _resolve_none(on_output(name, line))
        return _checked(argv, result, check)

    async def put_file(self, server_id: str, remote_path: str, data: bytes, *, mode: int = 0o600,
                       timeout: float | None = None) -> None:
        await self._file(Call("put_file", server_id, [remote_path], timeout, mode=mode))
        self.files[remote_path] = (data, mode)

    async def get_file(self, server_id: str, remote_path: str, *, max_bytes: int = 16 * 1024 * 1024,
                       timeout: float | None = None) -> bytes:
        await self._file(Call("get_file", server_id, [remote_path], timeout, max_output=max_bytes))
        if remote_path not in self.files:
            raise CommandFailed(f"SFTP read of {remote_path} on the fake server failed: No such file")
        return self.files[remote_path][0][:max_bytes]

    async def makedirs(self, server_id: str, remote_path: str, mode: int = 0o755, *,
                       timeout: float | None = None) -> None:
        await self._file(Call("makedirs", server_id, [remote_path], timeout, mode=mode))

    def _record(self, op: str, server_id: str, argv: Sequence[str], timeout: float | None, check: bool,
                max_output: int) -> None:
        to_shell(argv)  # the real quoting must accept it
        self.calls.append(Call(op, server_id, list(argv), timeout, check, max_output))

    async def _file(self, call: Call) -> None:
        if self.on_file is not None:
            await _resolve_none(self.on_file(call))
        self.calls.append(call)


def _checked(argv: Sequence[str], result: CommandResult, check: bool) -> CommandResult:
    if check and not result.ok:
        raise CommandFailed(f"'{argv[0]}' exited with status {result.exit_status}",
                            details={"exit_status": result.exit_status})
    return result


async def _resolve(answer: Answer) -> CommandResult:
    return await answer if inspect.isawaitable(answer) else answer


async def _resolve_none(value: Awaitable[None] | None) -> None:
    if inspect.isawaitable(value):
        await value
