"""Registered servers: add, change, remove, test, describe, trust host keys, run ad-hoc commands.

Credentials are checked at the door (a private key is parsed, in a worker thread, so a malformed key
or a wrong passphrase is reported when the server is added, not at the first connection), encrypted
as one token and handed only to :class:`~tomo.services.servers.ssh.SSHService`.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import socket
import sys
from asyncio.subprocess import DEVNULL, PIPE
from collections.abc import Awaitable, Callable
from datetime import timedelta

import structlog

from tomo.database.repositories.servers import ServerRepository
from tomo.database.types import new_id, utcnow
from tomo.errors import (
    AlreadyExists,
    AuthError,
    ConflictError,
    ConnectionFailed,
    FeatureDisabled,
    HostKeyMismatch,
    RemoteError,
    TomoError,
    ValidationError,
)
from tomo.lib.encryption import Encryptor
from tomo.lib.mcp.tooling import current_principal
from tomo.models.common import Page
from tomo.models.server import (
    AuthType,
    CommandOutput,
    ConnectionTest,
    Server,
    ServerCreate,
    ServerCredentials,
    ServerStatus,
    ServerSummary,
    ServerUpdate,
    SystemInfo,
    is_loopback_literal,
)
from tomo.services.servers.ssh import SSHService, server_not_found
from tomo.services.servers.system_info import SYSTEM_INFO_TIMEOUT_S, parse_system_info, system_info_argv
from tomo.services.settings.settings import SettingsService

log = structlog.get_logger("tomo.servers")

DependentsCheck = Callable[[str], Awaitable[int]]
Resolver = Callable[[str], Awaitable[list[str]]]

#: Seconds a DNS lookup may take when add_server checks that a name is not this machine.
RESOLVE_TIMEOUT_S = 3.0
KEY_CHECK_TIMEOUT_S = 60.0
#: test_connection re-reads system info when the cached copy is older than this.
SYSTEM_INFO_MAX_AGE = timedelta(minutes=10)

#: Run by validate_key_in_child: reads {key, passphrase} on stdin, exits _KEY_INVALID with the reason on stdout.
_KEY_INVALID = 3
_KEY_CHECK = f"""
import json, sys
from tomo.errors import ValidationError
from tomo.lib.ssh.target import parse_private_key
given = json.load(sys.stdin)
try:
    parse_private_key(given["key"], given["passphrase"])
except ValidationError as exc:
    print(exc.message)
    sys.exit({_KEY_INVALID})
"""


async def resolve_addresses(host: str) -> list[str]:
    """Every address ``host`` resolves to (the lookup runs in the event loop's thread pool)."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_STREAM)
    return sorted({str(info[4][0]) for info in infos})


class ServerService:
    """Business rules for servers; remote work goes through SSHService."""

    def __init__(
        self,
        server_repository: ServerRepository,
        encryptor: Encryptor,
        settings_service: SettingsService,
        ssh_service: SSHService,
        resolver: Resolver = resolve_addresses,
    ) -> None:
        self.repo = server_repository
        self.encryptor = encryptor
        self.settings = settings_service
        self.ssh = ssh_service
        self.resolve = resolver
        self._dependents: list[tuple[str, DependentsCheck]] = []

    def register_dependents_check(self, check: DependentsCheck, *, label: str = "installed app(s)") -> None:
        """Let a feature veto delete_server: ``check(server_id)`` returns how many of its objects use the server."""
        self._dependents.append((label, check))

    async def get(self, ref: str) -> Server:
        """The server with this id or name; ServerNotFound otherwise."""
        server = await self.repo.find(ref)
        if server is None:
            raise server_not_found(ref)
        return server

    async def list_all(self) -> list[ServerSummary]:
        """Every server, by name."""
        return [ServerSummary.of(server) for server in await self.repo.list_all()]

    async def list_page(self, limit: int, offset: int) -> Page[ServerSummary]:
        """A page of servers, by name, with the number registered."""
        servers, total = await self.repo.page(limit, offset)
        return Page([ServerSummary.of(server) for server in servers], total, limit, offset)

    async def add(self, data: ServerCreate) -> tuple[Server, str | None]:
        """Register a server (no connection is made); returns it and a note for the caller, if any."""
        await self._check_name_free(data.name, None)
        note = await self._check_host_allowed(data.host)
        key_type = await self._check_key(data.credentials)
        principal = current_principal()
        now = utcnow()
        server_id = new_id()
        await self.repo.insert({
            "id": server_id, "name": data.name, "host": data.host, "port": data.port, "username": data.username,
            "auth_type": data.credentials.auth_type.value, "key_type": key_type,
            "credentials": await self.encryptor.encrypt_json(data.credentials.secrets()),
            "status": ServerStatus.UNKNOWN.value, "created_by": principal.username if principal else None,
            "created_at": now, "updated_at": now,
        })
        log.info("server_added", server_id=server_id, name=data.name, host=data.host, auth_type=key_type or "password")
        return await self.get(server_id), note

    async def update(self, ref: str, changes: ServerUpdate) -> tuple[Server, list[str]]:
        """Change what was given; returns the server and the names of the fields changed."""
        server = await self.get(ref)
        values = {k: v for k, v in changes.changes().items() if getattr(server, k) != v}
        if "name" in values:
            await self._check_name_free(values["name"], server.id)
        if "host" in values:
            await self._check_host_allowed(values["host"])
        if changes.credentials is not None:
            values["key_type"] = await self._check_key(changes.credentials)
            values["auth_type"] = changes.credentials.auth_type.value
            values["credentials"] = await self.encryptor.encrypt_json(changes.credentials.secrets())
        if not values:
            return server, []
        if {"host", "port"} & values.keys():  # the pinned host key stays: another machine gives HOST_KEY_MISMATCH
            values["status"] = ServerStatus.UNKNOWN.value
        await self.repo.update(server.id, {**values, "updated_at": utcnow()})
        await self.ssh.forget(server.id)
        changed = sorted(k for k in values if k in ServerUpdate.model_fields or k == "credentials")
        log.info("server_updated", server_id=server.id, changed=changed)
        return await self.get(server.id), changed

    async def delete(self, ref: str, *, force: bool) -> tuple[Server, dict[str, int]]:
        """Remove the server record; refuses while other objects use it unless ``force``."""
        server = await self.get(ref)
        dependents = {label: count for label, check in self._dependents if (count := await check(server.id))}
        if dependents and not force:
            listed = ", ".join(f"{count} {label}" for label, count in dependents.items())
            raise ConflictError(
                f"Server '{server.name}' still has {listed}; uninstall them first (list_installed_apps "
                f"server_id='{server.id}'), or call delete_server again with force=true to remove the record "
                "anyway (what runs on the server keeps running, but Tomo forgets it).",
                details={"dependents": dependents},
            )
        await self.repo.delete(server.id)
        await self.ssh.forget(server.id)
        log.info("server_deleted", server_id=server.id, name=server.name, forced=bool(dependents))
        return server, dependents

    async def test_connection(self, ref: str, *, reconnect: bool = False) -> ConnectionTest:
        """Log in, run ``true``, pin the host key on first use; records the status.

        System info comes along: read now when none is cached or the cached copy is older than
        SYSTEM_INFO_MAX_AGE, else the cached copy (reading it runs the docker CLI on the server).
        """
        server, _ = await self.ssh.lookup(ref)  # the record and the credentials in one read
        info = server.system_info
        stale = info is None or utcnow() - info.collected_at > SYSTEM_INFO_MAX_AGE
        try:
            probe = await self.ssh.probe(server.id, reconnect=reconnect)
            if stale or info is None:
                info = await self._read_system_info(server.id)
        except (RemoteError, AuthError) as exc:
            await self._record_failure(server.id, exc)
            raise
        values = {"status": ServerStatus.ONLINE.value, "last_seen": utcnow(), "last_error": None}
        await self.repo.update(server.id, {**values, "system_info": info.model_dump(mode="json")} if stale else values)
        return ConnectionTest(
            server_id=server.id, name=server.name, connected=True, latency_ms=round(probe.latency_ms, 2),
            host_key_fingerprint=probe.fingerprint, host_key_pinned_now=probe.newly_pinned,
            reused_connection=probe.reused, system_info=info, system_info_cached=not stale,
        )  # fmt: skip

    async def system_info(self, ref: str, *, refresh: bool) -> tuple[SystemInfo, bool]:
        """The cached system info, or a fresh read when ``refresh`` or none is cached; returns (info, fresh)."""
        server = await self.get(ref)
        if server.system_info is not None and not refresh:
            return server.system_info, False
        return await self.refresh_system_info(server.id), True

    async def refresh_system_info(self, server_id: str) -> SystemInfo:
        """Read system info now and cache it."""
        info = await self._read_system_info(server_id)
        await self.repo.update(server_id, {
            "system_info": info.model_dump(mode="json"), "status": ServerStatus.ONLINE.value, "last_seen": utcnow(),
        })
        return info

    async def trust_host_key(self, ref: str, fingerprint: str) -> tuple[Server, bool]:
        """Pin ``fingerprint`` if it is what the server presents now; returns (server, changed)."""
        server = await self.get(ref)
        presented = await self.ssh.presented_fingerprint(server.id)
        if presented != fingerprint:
            raise HostKeyMismatch(
                f"Server '{server.name}' presents host key {presented}, not {fingerprint}; nothing was changed. "
                "Check the fingerprint on the server itself (ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub) "
                "before trusting any key.",
                details={"presented": presented, "given": fingerprint},
            )
        if server.host_key_fingerprint == fingerprint:
            return server, False
        await self.repo.pin_host_key(server.id, fingerprint, utcnow(), replace=True)
        await self.ssh.forget(server.id)
        log.warning("host_key_trusted", server_id=server.id, old=server.host_key_fingerprint, new=fingerprint)
        return await self.get(server.id), True

    async def execute_command(self, ref: str, command: str, timeout: float) -> CommandOutput:  # noqa: ASYNC109
        """Run a shell command (``sh -c``) when the allow_execute_command setting is on."""
        if not self.settings.get("allow_execute_command"):
            raise FeatureDisabled(
                "execute_command is switched off. An admin can enable it with update_settings "
                "{'allow_execute_command': true}; prefer the dedicated tools (docker, apps) where they exist."
            )
        limit = int(self.settings.get("execute_command_max_output"))
        result = await self.ssh.run(ref, ["sh", "-c", command], timeout=timeout, max_output=limit)
        return CommandOutput(
            exit_status=result.exit_status, stdout_tail=result.stdout, stderr_tail=result.stderr,
            truncated=result.truncated, duration_ms=round(result.duration_ms, 1),
        )

    async def _read_system_info(self, server_id: str) -> SystemInfo:
        result = await self.ssh.run(server_id, system_info_argv(), timeout=SYSTEM_INFO_TIMEOUT_S, check=True)
        return parse_system_info(result.stdout, utcnow())

    async def _record_failure(self, server_id: str, exc: TomoError) -> None:
        status = ServerStatus.OFFLINE if isinstance(exc, ConnectionFailed) else ServerStatus.ERROR
        await self.repo.update(server_id, {"status": status.value, "last_error": f"{exc.code}: {exc.message}"})

    async def _check_name_free(self, name: str, own_id: str | None) -> None:
        owner = await self.repo.name_owner(name)
        if owner is not None and owner != own_id:
            raise_duplicate(name)

    async def _check_host_allowed(self, host: str) -> str | None:
        """Refuse this machine unless allow_local_servers; returns a note when the name did not resolve."""
        if self.settings.get("allow_local_servers"):
            return None
        if is_loopback_literal(host):
            raise _local_refused(host, None)
        if _is_ip(host):
            return None
        try:
            async with asyncio.timeout(RESOLVE_TIMEOUT_S):
                addresses = await self.resolve(host)
        except (OSError, TimeoutError):
            return f"'{host}' does not resolve from here right now; test_connection will tell whether it is reachable."
        if addresses and all(is_loopback_literal(address) for address in addresses):
            raise _local_refused(host, addresses)
        return None

    async def _check_key(self, credentials: ServerCredentials) -> str | None:
        """Parse a private key off the event loop; returns its type (None for password auth).

        The parse (KDF included) runs in a worker thread. An RSA key is then fully validated in a
        child process, because cryptography's RSA check holds the GIL for about 200 ms.
        """
        if credentials.auth_type is not AuthType.KEY or credentials.private_key is None:
            return None
        from tomo.lib.ssh import parse_private_key

        secrets = credentials.secrets()
        key, passphrase = secrets["private_key"] or "", secrets["passphrase"]
        key_type: str = await asyncio.to_thread(parse_private_key, key, passphrase, validate=False)
        if key_type == "ssh-rsa":
            await validate_key_in_child(key, passphrase)
        return key_type


async def validate_key_in_child(key: str, passphrase: str | None) -> None:
    """Fully validate a private key in a child Python process (the key travels over a pipe)."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", _KEY_CHECK, stdin=PIPE, stdout=PIPE, stderr=DEVNULL
    )
    try:
        async with asyncio.timeout(KEY_CHECK_TIMEOUT_S):
            out, _ = await process.communicate(json.dumps({"key": key, "passphrase": passphrase}).encode())
    except TimeoutError as exc:
        process.kill()
        await process.wait()
        raise ValidationError("Checking the private key took too long; try again, or use an ed25519 key.") from exc
    if process.returncode == _KEY_INVALID:
        raise ValidationError(out.decode(errors="replace").strip() or "The private key is not valid.")
    if process.returncode != 0:  # the child could not run: check in a thread, accepting a short stall
        from tomo.lib.ssh import parse_private_key

        log.warning("key_check_child_failed", exit_status=process.returncode)
        await asyncio.to_thread(parse_private_key, key, passphrase)


def raise_duplicate(name: str) -> None:
    raise AlreadyExists(
        f"A server named '{name}' already exists; pick another name, or change that server with update_server."
    )


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _local_refused(host: str, addresses: list[str] | None) -> ValidationError:
    resolved = f" (it resolves to {', '.join(addresses)})" if addresses else ""
    return ValidationError(
        f"'{host}' is this machine{resolved}; Tomo manages other servers. Send the server's LAN address or "
        "hostname instead, or ask an admin to enable the allow_local_servers setting if you really mean this host."
    )

