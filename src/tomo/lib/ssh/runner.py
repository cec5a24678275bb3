"""The one contract for acting on a registered server: run a command, stream one, move files.

Services that work on servers (apps, raw Docker, prepare_server) depend on :class:`RemoteRunner`, not on
the SSH service itself; ``tomo.services.servers.ssh.SSHService`` is the real runner (mypy checks that it
conforms), and the unit tests give them one recording fake (``tests/fakes.py``). Every command is an
argv list, quoted in one place (:func:`tomo.lib.ssh.command.to_shell`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

from tomo.lib.ssh.command import CommandResult

if TYPE_CHECKING:
    from tomo.lib.ssh.session import OnOutput


class RemoteRunner(Protocol):
    """Commands and files on a server named by id (or unique name); ``timeout`` is each call's budget."""

    async def run(self, server_id: str, argv: Sequence[str], *, timeout: float | None = None,  # noqa: ASYNC109
                  check: bool = False, max_output: int = ...) -> CommandResult:
        """Run ``argv``; the exit status and the last ``max_output`` bytes of each stream.

        ``check=True`` raises CommandFailed for a non-zero exit; a dead connection raises a RemoteError.
        """
        ...

    async def stream(self, server_id: str, argv: Sequence[str], on_output: OnOutput, *,
                     timeout: float | None = None, check: bool = False,  # noqa: ASYNC109
                     max_output: int = ...) -> CommandResult:
        """Run a long command, calling ``on_output(stream, line)`` for each line as it arrives."""
        ...

    async def put_file(self, server_id: str, remote_path: str, data: bytes, *, mode: int = 0o600,
                       timeout: float | None = None) -> None:  # noqa: ASYNC109
        """Write ``data`` to ``remote_path`` atomically, with ``mode``."""
        ...

    async def get_file(self, server_id: str, remote_path: str, *, max_bytes: int = ...,
                       timeout: float | None = None) -> bytes:  # noqa: ASYNC109
        """Read a remote file (ValidationError when larger than ``max_bytes``)."""
        ...

    async def makedirs(self, server_id: str, remote_path: str, mode: int = 0o755, *,
                       timeout: float | None = None) -> None:  # noqa: ASYNC109
        """``mkdir -p``."""
        ...
