"""File transfer over SFTP (file contents never travel through a shell command)."""

from __future__ import annotations

import contextlib
import posixpath
import secrets

import asyncssh

from tomo.errors import CommandFailed, ConnectionFailed, RemoteError, ValidationError
from tomo.lib.ssh.target import SSHTarget

DEFAULT_MAX_FILE_BYTES = 16 * 1024 * 1024


def check_remote_path(path: str) -> str:
    """An absolute POSIX path without NUL bytes; returned normalised."""
    if not isinstance(path, str) or not path.startswith("/") or "\x00" in path:
        raise ValidationError(f"Remote path must be an absolute POSIX path, e.g. /opt/tomo/apps; got {path!r}")
    normalised = posixpath.normpath(path)
    return "/" + normalised.lstrip("/")


async def write_atomic(sftp: asyncssh.SFTPClient, path: str, data: bytes, mode: int) -> None:
    """Write ``data`` to a temporary file beside ``path``, set ``mode``, then rename it over ``path``."""
    temp = f"{path}.tomo-{secrets.token_hex(6)}.tmp"
    attrs = asyncssh.SFTPAttrs(permissions=mode)
    try:
        async with await sftp.open(temp, "wb", attrs, encoding=None) as remote:
            await remote.write(data)
        await sftp.chmod(temp, mode)  # the server's umask may have narrowed the mode given at creation
        await _replace(sftp, temp, path)
    except BaseException:
        with contextlib.suppress(asyncssh.Error, OSError):
            await sftp.remove(temp)
        raise


async def _replace(sftp: asyncssh.SFTPClient, source: str, destination: str) -> None:
    try:
        await sftp.posix_rename(source, destination)
    except asyncssh.SFTPOpUnsupported:
        with contextlib.suppress(asyncssh.SFTPNoSuchFile):
            await sftp.remove(destination)
        await sftp.rename(source, destination)


async def read_bounded(sftp: asyncssh.SFTPClient, path: str, max_bytes: int) -> bytes:
    """Read a whole remote file, refusing one larger than ``max_bytes``."""
    async with await sftp.open(path, "rb", encoding=None) as remote:
        size = (await remote.stat()).size
        if size is not None and size > max_bytes:
            raise _too_large(path, max_bytes)
        data: bytes = await remote.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise _too_large(path, max_bytes)
    return data


def _too_large(path: str, max_bytes: int) -> ValidationError:
    return ValidationError(
        f"Remote file {path} is larger than the {max_bytes}-byte limit; read it in another way or raise max_bytes",
        details={"path": path, "max_bytes": max_bytes},
    )


async def make_dirs(sftp: asyncssh.SFTPClient, path: str, mode: int) -> None:
    """mkdir -p with ``mode`` for the directories created (subject to the server's umask)."""
    await sftp.makedirs(path, asyncssh.SFTPAttrs(permissions=mode), exist_ok=True)


def sftp_error(target: SSHTarget, operation: str, path: str, exc: asyncssh.SFTPError) -> RemoteError:
    """Translate an SFTP status into a domain error."""
    if isinstance(exc, asyncssh.SFTPConnectionLost | asyncssh.SFTPNoConnection):
        return ConnectionFailed(
            f"The SSH connection to {target.address} was lost during SFTP {operation} of {path}; "
            "check that the server is up, then retry"
        )
    return CommandFailed(
        f"SFTP {operation} of {path} on {target.address} failed: {exc.reason}; "
        "check that the path exists and that the SSH user may access it",
        details={"path": path, "operation": operation, "reason": exc.reason, "sftp_code": exc.code},
    )
