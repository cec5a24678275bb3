"""Git for catalog repositories: validated URLs and branches, shallow checkouts, a bounded subprocess.

A catalog URL comes from a user and its content from whoever controls the repository, so:

* URLs are https://, ssh://, scp-style ``user@host:path``, ``file://`` or an absolute local directory;
  nothing starting with ``-``, no ``<transport>::`` helpers (``ext::``), no plain http or git://;
* branch names follow a strict subset of git's ref rules and never start with ``-``;
* git runs as an argument list (never a shell) with ``--`` before URLs and paths, no hooks, no
  templates, only the https, ssh and file protocols, no terminal prompts, and a timeout after which
  the whole process group is killed;
* errors become :class:`~tomo.errors.SyncFailed` with a short stderr tail, credentials masked.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import signal
import uuid
from collections.abc import Sequence
from contextlib import suppress
from pathlib import Path
from typing import Final
from urllib.parse import unquote, urlsplit

from tomo.errors import SyncFailed, ValidationError

ALLOWED_PROTOCOLS: Final = "https:ssh:file"
SAFE_CONFIG: Final = (
    "-c", "core.hooksPath=/dev/null",
    "-c", "core.fsmonitor=false",
    "-c", "protocol.allow=never",
    "-c", "protocol.https.allow=always",
    "-c", "protocol.ssh.allow=always",
    "-c", "protocol.file.allow=always",
    "-c", "submodule.recurse=false",
)
KEPT_GIT_ENV: Final = frozenset({"GIT_SSH", "GIT_SSH_COMMAND", "GIT_SSL_CAINFO", "GIT_SSL_CAPATH"})
STDERR_TAIL: Final = 400

_BRANCH = re.compile(
    r"^(?![-./])(?!.*\.\.)(?!.*//)(?!.*/\.)(?!.*@\{)(?!.*\.lock(?:/|$))[A-Za-z0-9._/+-]{1,200}(?<![./])$"
)
_TRANSPORT_HELPER = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*::")
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")
_SCP = re.compile(r"^(?P<user>[A-Za-z0-9._-]+)@(?P<host>[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\]):(?P<path>[^\s].*)$")
_USERINFO = re.compile(r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.-]*://)(?P<userinfo>[^/@\s]+)@")


def validate_branch(branch: str) -> str:
    """Return the branch name if it is a plain, safe git branch name; raise ValidationError otherwise."""
    if not _BRANCH.match(branch) or branch == "@":
        raise ValidationError(
            f"Branch {branch[:80]!r} is not a valid branch name: use letters, digits and . _ / + - "
            "(not starting with '-', '.' or '/'), e.g. 'main'."
        )
    return branch


def validate_url(url: str) -> str:
    """Return the URL (trimmed) if Tomo may fetch it; raise ValidationError saying what is accepted."""
    value = url.strip()
    if not value or len(value) > 2000 or any(ord(char) < 32 or ord(char) == 127 for char in value):
        raise ValidationError("The repository URL is empty, too long or contains control characters.")
    if value.startswith("-"):
        raise ValidationError("A repository URL must not start with '-' (it would be read as a git option).")
    if _TRANSPORT_HELPER.match(value):
        raise ValidationError(f"Transport helpers such as '{value.split('::')[0]}::' are not allowed; {_ACCEPTED}")
    scheme = _SCHEME.match(value)
    if scheme:
        return _validate_scheme_url(value, scheme.group(1).lower())
    scp = _SCP.match(value)
    if scp:
        if scp["host"].startswith("-") or scp["path"].startswith("-"):
            raise ValidationError("The host and path of an ssh URL must not start with '-'.")
        return value
    if value.startswith("/"):
        return str(_local_repository(Path(value)))
    raise ValidationError(f"Unsupported repository URL {mask_url(value)!r}; {_ACCEPTED}")


_ACCEPTED = (
    "use https://host/owner/repo.git, ssh://user@host/path, user@host:path, "
    "or the absolute path of a local git repository."
)


def _validate_scheme_url(value: str, scheme: str) -> str:
    parts = urlsplit(value)
    if scheme == "file":
        if parts.netloc not in ("", "localhost"):
            raise ValidationError("file:// URLs must name a local path, e.g. file:///srv/catalog.")
        _local_repository(Path(unquote(parts.path)))
        return value
    if scheme not in ("https", "ssh"):
        raise ValidationError(f"The {scheme}:// protocol is not allowed; {_ACCEPTED}")
    host = parts.hostname or ""
    if not host or host.startswith("-") or parts.path.startswith("/-"):
        raise ValidationError(f"The URL {mask_url(value)!r} has no valid host or its path starts with '-'.")
    return value


def _local_repository(path: Path) -> Path:
    """An absolute local directory that is a git repository (worktree or bare)."""
    if not path.is_absolute() or not path.is_dir():
        raise ValidationError(f"Local repository {str(path)[:200]!r} is not an existing absolute directory.")
    if not ((path / ".git").exists() or (path / "HEAD").is_file()):
        raise ValidationError(
            f"{str(path)[:200]!r} is not a git repository; run `git init && git add -A && git commit -m catalog` "
            "there first (Tomo syncs committed content only)."
        )
    return path


def mask_url(text: str) -> str:
    """Hide credentials in URLs inside ``text`` (https userinfo entirely; passwords elsewhere)."""

    def hide(match: re.Match[str]) -> str:
        scheme, userinfo = match["scheme"], match["userinfo"]
        if scheme.lower().startswith("ssh") and ":" not in userinfo:
            return match.group(0)
        return f"{scheme}***@"

    return _USERINFO.sub(hide, text)


def remote_for(url: str) -> str:
    """What git is given: local directories as file:// URLs (so shallow clones work), others unchanged."""
    return Path(url).as_uri() if url.startswith("/") else url


def _environment() -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("GIT_") or key in KEPT_GIT_ENV}
    env.update(GIT_TERMINAL_PROMPT="0", GIT_ALLOW_PROTOCOL=ALLOWED_PROTOCOLS, GIT_ASKPASS="", LC_ALL="C")
    env.setdefault("GIT_SSH_COMMAND", "ssh -o BatchMode=yes")
    return env


def _kill(proc: asyncio.subprocess.Process) -> None:
    with suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)


def _tail(stderr: bytes) -> str:
    text = mask_url(stderr.decode("utf-8", errors="replace")).strip()
    lines = [line for line in text.splitlines() if line.strip()]
    tail = " / ".join(lines[-3:])
    return tail[-STDERR_TAIL:] or "no error output"


async def run_git(args: Sequence[str], *, timeout: float, cwd: Path | None = None) -> str:
    """Run ``git <args>`` with the safe configuration; return stdout or raise SyncFailed."""
    try:
        proc = await asyncio.create_subprocess_exec(
            "git", *SAFE_CONFIG, *args, cwd=cwd, env=_environment(), stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, start_new_session=True,
        )
    except FileNotFoundError as exc:
        raise SyncFailed("git is not installed on the Tomo host; install it (e.g. apt install git).") from exc
    try:
        stdout, stderr = await asyncio.wait_for(proc.communicate(), timeout)
    except TimeoutError:
        _kill(proc)
        await proc.wait()
        raise SyncFailed(
            f"git {args[0]} did not finish within {timeout:g} s and was stopped; check the URL and the "
            "network, or raise the marketplace_sync_timeout setting."
        ) from None
    except asyncio.CancelledError:
        _kill(proc)
        raise
    if proc.returncode != 0:
        raise SyncFailed(f"git {args[0]} failed: {_tail(stderr)}")
    return stdout.decode("utf-8", errors="replace")


async def checkout(url: str, branch: str, dest: Path, *, timeout: float) -> str:
    """Bring ``dest`` to the newest commit of ``branch`` and return that commit id.

    The first time a shallow single-branch clone is made (into a temporary sibling, renamed on
    success); later, the branch is fetched shallowly and the work tree hard-reset and cleaned.
    """
    remote = remote_for(validate_url(url))
    validate_branch(branch)
    if await _is_checkout(dest, timeout):
        await run_git(["fetch", "--quiet", "--depth", "1", "--no-tags", "--", remote,
                       f"+refs/heads/{branch}:refs/remotes/origin/{branch}"], timeout=timeout, cwd=dest)
        await run_git(["reset", "--quiet", "--hard", "FETCH_HEAD", "--"], timeout=timeout, cwd=dest)
        await run_git(["clean", "-ffdxq"], timeout=timeout, cwd=dest)
    else:
        await _clone(remote, branch, dest, timeout)
    return (await run_git(["rev-parse", "HEAD"], timeout=timeout, cwd=dest)).strip()


async def _is_checkout(dest: Path, timeout: float) -> bool:
    if not await asyncio.to_thread((dest / ".git").is_dir):
        return False
    try:
        inside = await run_git(["rev-parse", "--is-inside-work-tree"], timeout=timeout, cwd=dest)
    except SyncFailed:
        return False
    return inside.strip() == "true"


async def _clone(remote: str, branch: str, dest: Path, timeout: float) -> None:
    """Clone into a temporary sibling of ``dest`` and move it into place only when the clone succeeded."""
    staging = dest.parent / f".{dest.name}.{uuid.uuid4().hex[:8]}.tmp"
    await asyncio.to_thread(dest.parent.mkdir, parents=True, exist_ok=True, mode=0o700)
    try:
        await run_git(["clone", "--quiet", "--depth", "1", "--single-branch", "--branch", branch, "--no-tags",
                       "--template=", "--", remote, str(staging)], timeout=timeout)
        await asyncio.to_thread(_replace_tree, staging, dest)
    finally:
        await remove_tree(staging)


def _replace_tree(source: Path, dest: Path) -> None:
    shutil.rmtree(dest, ignore_errors=True)
    source.rename(dest)


async def remove_tree(path: Path) -> None:
    """Delete a folder tree (in a thread); a missing folder is fine."""
    await asyncio.to_thread(shutil.rmtree, path, True)
