"""The ``tomo`` command: serve MCP over stdio or HTTP, call any tool (cli/call.py) or an everyday verb
(cli/verbs.py), manage admins and tokens, list tools, show the version.

Imports stay inside the commands: a desktop client spawns ``tomo serve`` on every
launch, so start-up must not pay for what a command does not use.
"""

from __future__ import annotations

import contextlib
import gc
import ipaddress
import os
import socket
import sys
from collections.abc import Awaitable, Callable, Coroutine
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any

import typer
from typer.core import TyperGroup

from tomo.cli.common import DataDir
from tomo.cli.common import load_config as _config

if TYPE_CHECKING:
    from typer import _click as click  # the click Typer bundles

    from tomo.lib.config import TomoConfig

#: Commands defined in cli/verbs.py, built only when one is run or listed (help, completion): `tomo serve` does
#: not pay for them.
LAZY_COMMANDS = ("call", "status", "servers", "apps", "jobs")


class TomoGroup(TyperGroup):
    """The ``tomo`` group: the commands of this module, then the lazy ones."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [*super().list_commands(ctx), *LAZY_COMMANDS]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in LAZY_COMMANDS:
            from tomo.cli.verbs import lazy_command

            command: click.Command | None = lazy_command(cmd_name)
            return command
        return super().get_command(ctx, cmd_name)


app = typer.Typer(name="tomo", help="Run your homelab from an AI assistant.", no_args_is_help=True, cls=TomoGroup,
                  add_completion=True, pretty_exceptions_enable=False)


class TransportChoice(StrEnum):
    """How ``tomo serve`` speaks MCP."""

    STDIO = "stdio"
    HTTP = "http"


def is_loopback(host: str) -> bool:
    """Whether ``host`` names only this machine (localhost or a loopback address)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        try:
            return all(ipaddress.ip_address(info[4][0]).is_loopback for info in socket.getaddrinfo(host, None))
        except OSError:
            return False


def run_bounded(main: Coroutine[Any, Any, None], grace_seconds: float = 3.0) -> None:
    """Run ``main`` to completion, then give leftover tasks a bounded time to finish.

    ``asyncio.run`` waits forever for tasks left behind; a request cancelled when the
    client closes stdin can leave a database close pending, which must not keep the
    process alive after the server itself has shut down cleanly.
    """
    import asyncio

    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(main)
    finally:
        pending = asyncio.all_tasks(loop)
        for task in pending:
            task.cancel()
        if pending:
            loop.run_until_complete(asyncio.wait(pending, timeout=grace_seconds))
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()


@app.command()
def serve(
    transport: Annotated[TransportChoice, typer.Option(help="stdio for desktop clients, http for network clients.")]
    = TransportChoice.STDIO,
    host: Annotated[str | None, typer.Option(help="HTTP bind address (default 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(help="HTTP port (default 8765).", min=1, max=65535)] = None,
    data_dir: DataDir = None,
    user: Annotated[str | None, typer.Option(help="stdio: the Tomo user to act as (default: TOMO_USER, "
                                                  "else the first admin).")] = None,
) -> None:
    """Serve Tomo's MCP tools (stdio by default; HTTP serves /mcp and GET /healthz, bearer tokens required)."""
    from tomo.errors import TomoError

    overrides: dict[str, Any] = {k: v for k, v in {"host": host, "port": port, "user": user}.items() if v is not None}
    config = _config(data_dir, **overrides)
    try:
        if transport is TransportChoice.HTTP and not is_loopback(config.host) and not _run(_has_users(config)):
            typer.echo(
                f"Refusing to bind {config.host}: no Tomo user exists yet, so nobody could sign in over the network. "
                "Create the first admin with `tomo admin create --username NAME` and an API token with "
                "`tomo token create --user NAME --name NAME`, or listen on loopback (127.0.0.1, ::1, localhost).",
                err=True,
            )
            raise typer.Exit(2)
        from tomo.server import serve_http, serve_stdio

        runner = serve_stdio(config) if transport is TransportChoice.STDIO else serve_http(config)
        with contextlib.suppress(KeyboardInterrupt):
            run_bounded(runner)
    except TomoError as exc:  # start-up failed (e.g. the database cannot be opened): say why, no traceback
        typer.echo(f"Error ({exc.code}): {exc.message}", err=True)
        raise typer.Exit(1) from exc


@app.command()
def version() -> None:
    """Print Tomo's version."""
    from tomo import __version__

    typer.echo(f"tomo {__version__}")


@app.command()
def tools(data_dir: DataDir = None) -> None:
    """List every registered MCP tool with its role and annotations."""
    from rich.console import Console
    from rich.table import Table

    from tomo.main import build_app

    tomo_app = build_app(_config(data_dir))
    table = Table("tool", "role", "annotations", title="Tomo tools")
    for name, policy in sorted(tomo_app.policies.items()):
        flags = [flag for flag, on in (("read-only", policy.read_only), ("destructive", policy.destructive),
                                       ("job", policy.job), ("public", policy.public)) if on]
        table.add_row(name, policy.role.value, ", ".join(flags))
    Console().print(table)


admin_app = typer.Typer(help="Manage Tomo admins from the machine that holds the data directory.",
                        no_args_is_help=True)
token_app = typer.Typer(help="Manage API tokens for MCP clients.", no_args_is_help=True)
app.add_typer(admin_app, name="admin")
app.add_typer(token_app, name="token")


def _run(main: Coroutine[Any, Any, Any]) -> Any:
    import asyncio

    return asyncio.run(main)


async def _has_users(config: TomoConfig) -> bool:
    async def check(services: dict[str, Any]) -> bool:
        return bool(await services["user_service"].has_users())

    return bool(await _with_services(config, check))


async def _with_services(config: TomoConfig, action: Callable[[dict[str, Any]], Awaitable[Any]]) -> Any:
    """Run ``action`` against migrated services, acting as the local owner of the data directory."""
    import getpass

    from tomo.lib.mcp.tooling import set_current_principal
    from tomo.main import build_services
    from tomo.models.principal import Principal, Role

    config.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    database, services = build_services(config, "internal")
    set_current_principal(Principal(username=f"cli:{getpass.getuser()}", role=Role.ADMIN, transport="internal"))
    try:
        await database.migrate()
        await services["settings_service"].load()
        return await action(services)
    finally:
        await database.dispose()


def _run_or_exit(config: TomoConfig, action: Callable[[dict[str, Any]], Awaitable[Any]]) -> Any:
    from tomo.errors import TomoError

    try:
        return _run(_with_services(config, action))
    except TomoError as exc:
        typer.echo(f"Error ({exc.code}): {exc.message}", err=True)
        raise typer.Exit(1) from exc


def _read_password(password_stdin: bool) -> str:
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            typer.echo("Error: --password-stdin given but stdin was empty.", err=True)
            raise typer.Exit(1)
        return password
    return str(typer.prompt("Password", hide_input=True, confirmation_prompt=True))


@admin_app.command("create")
def admin_create(
    username: Annotated[str, typer.Option(help="Name of the new admin, e.g. alice.")],
    password_stdin: Annotated[bool, typer.Option("--password-stdin", help="Read the password from stdin "
                                                 "(first line) instead of prompting.")] = False,
    data_dir: DataDir = None,
) -> None:
    """Create an admin account (the first one, or another for recovery)."""
    from tomo.models.principal import Role
    from tomo.models.user import User

    config = _config(data_dir)
    password = _read_password(password_stdin)

    async def create(services: dict[str, Any]) -> User:
        user: User = await services["user_service"].create(username.strip().lower(), password, Role.ADMIN)
        return user

    user = _run_or_exit(config, create)
    typer.echo(f"Created admin '{user.username}' (id {user.id}).", err=True)


@token_app.command("create")
def token_create(
    user: Annotated[str, typer.Option(help="Owner of the token (username).")],
    name: Annotated[str, typer.Option(help="Label, e.g. claude-desktop.")],
    role: Annotated[str | None, typer.Option(help="viewer, operator or admin (default: the user's role).")] = None,
    expires_days: Annotated[int | None, typer.Option(help="Days until it expires (default: never).", min=1,
                                                     max=3650)] = None,
    data_dir: DataDir = None,
) -> None:
    """Create an API token and print it once on stdout (for an MCP client's Authorization header)."""
    from tomo.models.principal import Role
    from tomo.models.user import NewApiToken

    config = _config(data_dir)
    if role is not None and role not in {r.value for r in Role}:
        typer.echo("Error: --role must be viewer, operator or admin.", err=True)
        raise typer.Exit(2)

    async def create(services: dict[str, Any]) -> NewApiToken:
        owner = await services["user_service"].get_by_username(user)
        created: NewApiToken = await services["token_service"].create(
            owner, name, Role(role) if role else None, expires_days)
        return created

    created = _run_or_exit(config, create)
    typer.echo(f"API token '{name}' ({created.api_token.role.value}) for '{created.api_token.username}', "
               f"id {created.api_token.id}. It is shown only this once:", err=True)
    typer.echo(created.token)




def main() -> None:
    """Console-script entry point."""
    # Start-up builds hundreds of thousands of long-lived objects (modules, models, tool schemas);
    # scanning them repeatedly costs ~20% of start-up. serve re-enables collection once built.
    gc.disable()
    os.environ.setdefault("FASTMCP_LOG_ENABLED", "false")
    os.environ.setdefault("FASTMCP_SHOW_SERVER_BANNER", "false")
    os.environ.setdefault("FASTMCP_CHECK_FOR_UPDATES", "off")
    sys.exit(app())
