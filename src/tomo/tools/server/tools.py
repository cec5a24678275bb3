"""Server tools: register servers reached over SSH, test them, describe them, prepare them for apps."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field

from tomo.lib.mcp.tooling import quoted, tomo_prompt, tomo_resource, tomo_tool
from tomo.models.common import DEFAULT_PAGE_SIZE, JobStarted, PageLimit, PageOffset, Reply
from tomo.models.principal import Role
from tomo.models.server import (
    AuthType,
    Fingerprint,
    Host,
    Password,
    Port,
    PrivateKeyText,
    ServerCreate,
    ServerCredentials,
    ServerName,
    ServerUpdate,
    Username,
    build_credentials,
)
from tomo.services.servers.preparation import PreparationService
from tomo.services.servers.servers import ServerService

ServerRef = Annotated[
    str,
    Field(min_length=1, max_length=64, description="Server id or name, from list_servers."),
]


class ServerTools:
    """Manage the servers Tomo reaches over SSH."""

    def __init__(self, server_service: ServerService, preparation_service: PreparationService) -> None:
        self.servers = server_service
        self.preparation = preparation_service

    @tomo_tool(role=Role.OPERATOR, title="Add server")
    async def add_server(
        self,
        name: ServerName,
        host: Host,
        username: Username,
        auth_type: Annotated[
            AuthType, Field(description="'password' (give password) or 'key' (private_key, passphrase if encrypted).")
        ],
        port: Port = 22,
        password: Annotated[Password | None, Field(description="SSH password (auth_type 'password').")] = None,
        private_key: Annotated[
            PrivateKeyText | None,
            Field(description="Whole ed25519, ecdsa or rsa key, OpenSSH or PEM, BEGIN/END lines included."),
        ] = None,
        passphrase: Annotated[Password | None, Field(description="Passphrase of an encrypted private key.")] = None,
    ) -> Reply:
        """Register a server that Tomo reaches over SSH (no connection is made yet).

        Once per machine; then use the returned id or the name. Credentials are checked (a bad key or
        passphrase is reported here), stored encrypted, never shown again. This machine (localhost,
        127.0.0.1, ::1) is refused unless the allow_local_servers setting is on. Next: test_connection
        (logs in, pins the host key), then prepare_server if Docker is missing.
        """
        credentials = build_credentials(
            auth_type=auth_type, password=password, private_key=private_key, passphrase=passphrase
        )
        data = ServerCreate(name=name, host=host, port=port, username=username, credentials=credentials)
        server, note = await self.servers.add(data)
        message = (
            f"Server '{server.name}' added (id {server.id}); its credentials are stored encrypted. "
            f"Call test_connection with server_id='{server.name}' to log in, pin its host key and read its system "
            "info." + (f" Note: {note}" if note else "")
        )
        return Reply(message, {"server": server})

    @tomo_tool(read_only=True, idempotent=True, title="List servers")
    async def list_servers(self, limit: PageLimit = DEFAULT_PAGE_SIZE, offset: PageOffset = 0) -> Reply:
        """List registered servers by name, a page at a time, in a compact form (never credentials).

        Status is what the last test_connection found: online, offline (unreachable), error (login or
        host key refused) or unknown (never tested). Its ids and names are what server_id takes;
        get_server shows one server in full.
        """
        page = await self.servers.list_page(limit, offset)
        return page.reply("list_servers", "servers", "server(s)", "No servers registered yet; add one with add_server.")

    @tomo_tool(read_only=True, idempotent=True, title="Get server")
    async def get_server(self, server_id: ServerRef) -> Reply:
        """Show one server: address, login user and auth type, status, last error, pinned host key, cached system info.

        Credentials are never returned. The system info is the copy cached by the last test_connection
        or get_server_info(refresh=true).
        """
        server = await self.servers.get(server_id)
        seen = f", last seen {server.last_seen:%Y-%m-%d %H:%M} UTC" if server.last_seen else ""
        return Reply(f"Server '{server.name}' ({server.host}:{server.port}) is {server.status.value}{seen}.",
                     {"server": server})  # fmt: skip

    @tomo_tool(role=Role.OPERATOR, idempotent=True, title="Update server")
    async def update_server(
        self,
        server_id: ServerRef,
        name: ServerName | None = None,
        host: Host | None = None,
        port: Port | None = None,
        username: Username | None = None,
        credentials: Annotated[
            ServerCredentials | None,
            Field(description="New credentials, replacing the stored ones: {auth_type, password} or "
                              "{auth_type, private_key, passphrase?}; stored encrypted."),
        ] = None,
    ) -> Reply:
        """Change a server's name, address, login user or credentials; only the fields given change.

        Use it after a password or key changed (AUTHENTICATION_FAILED) or the server moved. The pooled
        SSH connection is closed, so the next command logs in anew. The pinned host key is kept: a
        different machine at the new address gives HOST_KEY_MISMATCH (an admin accepts it with
        trust_host_key).
        """
        changes = ServerUpdate(name=name, host=host, port=port, username=username, credentials=credentials)
        server, changed = await self.servers.update(server_id, changes)
        if not changed:
            return Reply(f"Nothing changed: server '{server.name}' already has these values.",
                         {"server": server, "changed": []})  # fmt: skip
        return Reply(f"Server '{server.name}' updated ({', '.join(changed)}); call test_connection to check it.",
                     {"server": server, "changed": changed})  # fmt: skip

    @tomo_tool(role=Role.OPERATOR, destructive=True, title="Delete server")
    async def delete_server(
        self,
        server_id: ServerRef,
        confirm: bool = False,
        force: Annotated[bool, Field(description="Remove it even while apps are installed on it.")] = False,
    ) -> Reply:
        """Remove a server from Tomo, with its stored credentials and pinned host key.

        Nothing on the server is touched. Refused while apps installed by Tomo are on it (uninstall them
        first) unless force=true, which makes Tomo forget those apps while they keep running.
        Destructive: call with confirm=true once the user agreed.

        Args:
            confirm: must be true to delete.
        """
        server, dependents = await self.servers.delete(server_id, force=force)
        forgotten = f" Tomo forgot {dependents} on it." if dependents else ""
        return Reply(f"Server '{server.name}' removed from Tomo; nothing on the machine was changed.{forgotten}",
                     {"server_id": server.id, "name": server.name, "forgotten": dependents})  # fmt: skip

    @tomo_tool(role=Role.OPERATOR, open_world=True, title="Test connection")
    async def test_connection(
        self,
        server_id: ServerRef,
        reconnect: Annotated[
            bool, Field(description="Open a new SSH connection instead of reusing the pooled one.")
        ] = False,
    ) -> Reply:
        """Log in to a server over SSH, run a trivial command, and return its system info (OS, CPU, RAM, disk, Docker).

        The first success pins the host key (trust on first use; other tools refuse an unpinned server:
        HOST_KEY_UNKNOWN); later connections must present it, else HOST_KEY_MISMATCH. Updates status
        and last_seen; re-reads system info older than 10 minutes. Errors say what to fix:
        CONNECTION_FAILED (address, port, firewall, power), AUTHENTICATION_FAILED (update_server),
        HOST_KEY_MISMATCH (trust_host_key, admin, only if expected). About a second; up to
        ssh_connect_timeout when unreachable.
        """
        result = await self.servers.test_connection(server_id, reconnect=reconnect)
        pinned = ("host key pinned now (first connection): later connections must present it"
                  if result.host_key_pinned_now else "host key matches the pinned one")  # fmt: skip
        info = result.system_info
        return Reply(
            f"Connected to '{result.name}' in {result.latency_ms:.1f} ms; {pinned} ({result.host_key_fingerprint}). "
            f"{info.os} on {info.architecture}, Docker {info.docker_version}, Compose {info.compose_version}.",
            result,
        )

    @tomo_tool(read_only=True, idempotent=True, open_world=True, title="Get server info")
    async def get_server_info(
        self,
        server_id: ServerRef,
        refresh: Annotated[bool, Field(description="Read it from the server now instead of the cache.")] = False,
    ) -> Reply:
        """Show a server's system info: OS, hostname, architecture, kernel, CPUs, memory, disk, Docker, Compose.

        The copy cached by the last test_connection; refresh=true (or nothing cached) reads it now, in
        one SSH round trip. Docker and Compose show "not installed" when missing: prepare_server installs
        them. Memory and disk sizes are in bytes.
        """
        info, fresh = await self.servers.system_info(server_id, refresh=refresh)
        when = "read just now" if fresh else f"cached at {info.collected_at:%Y-%m-%d %H:%M} UTC; refresh=true re-reads"
        message = f"{info.os} on {info.architecture}, Docker {info.docker_version}, Compose {info.compose_version}"
        return Reply(f"{message} ({when}).", {"system_info": info, "cached": not fresh})

    @tomo_tool(role=Role.ADMIN, idempotent=True, open_world=True, title="Trust host key")
    async def trust_host_key(self, server_id: ServerRef, fingerprint: Fingerprint) -> Reply:
        """Accept a server's new SSH host key after HOST_KEY_MISMATCH, when the change is expected.

        A changed key means a reinstall, regenerated keys, or an impostor: call it only once the user
        confirmed the change (ideally with `ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub` on the
        server). The fingerprint must be the one the server presents now; otherwise nothing changes.
        """
        server, changed = await self.servers.trust_host_key(server_id, fingerprint)
        if not changed:
            return Reply(f"'{server.name}' already trusts host key {fingerprint}; nothing changed.",
                         {"server": server, "changed": False})  # fmt: skip
        return Reply(f"'{server.name}' now trusts host key {fingerprint}; call test_connection to connect.",
                     {"server": server, "changed": True})  # fmt: skip

    @tomo_tool(role=Role.OPERATOR, job=True, open_world=True, title="Prepare server")
    async def prepare_server(self, server_id: ServerRef) -> JobStarted:
        """Make a server ready for apps: install Docker and Compose if missing, create the apps_root folder.

        A job, one step per check (OS, architecture, free disk) or action, skipped when done, so running
        it again changes nothing. Installs distribution packages (apt, dnf, apk, pacman) as root or with
        passwordless sudo; if sudo needs a password it stops and says what to allow. The apps_root
        folder (default /opt/tomo/apps) is owned by the SSH user. Minutes for a fresh install; about a
        second when already prepared.
        """
        return await self.preparation.start(server_id)

    @tomo_tool(role=Role.ADMIN, destructive=True, open_world=True, title="Execute command")
    async def execute_command(
        self,
        server_id: ServerRef,
        command: Annotated[
            str, Field(min_length=1, max_length=10000, description="A shell command line, e.g. 'df -h / && uptime'.")
        ],
        timeout: Annotated[int, Field(ge=1, le=3600, description="Seconds before the command is killed.")] = 60,
        confirm: bool = False,
    ) -> Reply:
        """Run a shell command on a server as the SSH user and return its exit status and output tails.

        Runs as `sh -c` (pipes, variables, `;`), so it can change anything the SSH user may: prefer the
        dedicated tools and show the user the command first. Off unless the allow_execute_command
        setting is on (else FEATURE_DISABLED). Keeps the last execute_command_max_output bytes of
        stdout and of stderr. A non-zero exit is reported, not an error; past timeout it is killed
        (COMMAND_TIMEOUT). Destructive: call with confirm=true once the user agreed.

        Args:
            confirm: must be true to run.
        """
        output = await self.servers.execute_command(server_id, command, timeout)
        cut = " (output truncated to its tail)" if output.truncated else ""
        return Reply(f"Command exited with status {output.exit_status} after {output.duration_ms:.0f} ms{cut}.", output)

    @tomo_resource("tomo://servers", title="Servers")
    async def servers_resource(self) -> dict[str, Any]:
        """The registered servers with their status, as list_servers answers (never credentials).

        Its first page: total and has_more tell whether list_servers has more.
        """
        first_page: dict[str, Any] = (await self.list_servers()).data
        return first_page

    @tomo_resource("tomo://servers/{server_id}", title="Server")
    async def server_resource(self, server_id: str) -> dict[str, Any]:
        """One server as get_server shows it: address, login user, status, host key, cached system info.

        Credentials are never included. server_id is an id or name from tomo://servers.
        """
        return {"server": await self.servers.get(server_id)}

    @tomo_prompt(title="Diagnose a server")
    async def diagnose_server(self, server_id: str) -> str:
        """Find out what is wrong with a server and its apps, reading before changing anything.

        Args:
            server_id: the server's id or name, e.g. "nas".
        """
        ref = f"server_id={quoted(server_id)}"
        return (
            f"Diagnose the Tomo server {quoted(server_id)}. Read first; change nothing without the user's agreement "
            "(test_connection and every fix need the operator role).\n"
            f"1. get_server({ref}): status, last error, pinned host key.\n"
            f"2. test_connection({ref}): does SSH log in now, and how fast? HOST_KEY_MISMATCH: tell the user; only "
            "an admin may accept the new key, with trust_host_key, once they have checked it. Login refused: the "
            "credentials need update_server.\n"
            f"3. get_server_info({ref}, refresh=true): OS, disk, memory, Docker and Compose versions; no Docker "
            "means prepare_server. get_docker_info shows what Docker's images and volumes take on disk.\n"
            f"4. list_installed_apps({ref}) and list_containers({ref}, all=true): apps or containers that are "
            "stopped, restarting or unhealthy. container_stats shows which use the CPU and memory.\n"
            "5. For each troubled app: check_app_health(installation_id), then get_app_logs(installation_id); for "
            "a container Tomo did not install: container_logs.\n"
            f"6. list_jobs({ref}, status='failed'): recent failed operations; get_job shows the step that failed.\n"
            "Finish with a short report: what is wrong, the evidence (brief log excerpts, never secrets) and the "
            "fixes you propose (restart_app, update_app, prune_docker...), to run only once the user agrees."
        )
