"""The ``tomo`` command: serve MCP over stdio or HTTP, list tools, show the version.

Imports stay inside the commands: a desktop client spawns ``tomo serve`` on every
launch, so start-up must not pay for what a command does not use.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import socket
import sys
from collections.abc import Coroutine
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from tomo.lib.config import TomoConfig

app = typer.Typer(name="tomo", help="Run your homelab from an AI assistant.", no_args_is_help=True,
                  add_completion=False, pretty_exceptions_enable=False)

DataDir = Annotated[
    Path | None, typer.Option("--data-dir", help="Data directory (default: TOMO_DATA_DIR or the user data dir).")
]


class TransportChoice(StrEnum):
    """How ``tomo serve`` speaks MCP."""

    STDIO = "stdio"
    HTTP = "http"


def _config(data_dir: Path | None, **overrides: Any) -> TomoConfig:
    from tomo.lib.config import TomoConfig
    from tomo.lib.logging_config import configure_logging

    if data_dir is not None:
        overrides["data_dir"] = data_dir
    config = TomoConfig(**overrides)
    configure_logging(config.log_level, config.log_format)
    return config


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
) -> None:
    """Serve Tomo's MCP tools (stdio by default; HTTP serves /mcp and GET /healthz)."""
    overrides: dict[str, Any] = {k: v for k, v in {"host": host, "port": port}.items() if v is not None}
    config = _config(data_dir, **overrides)
    if transport is TransportChoice.HTTP and not is_loopback(config.host):
        typer.echo(
            f"Refusing to bind {config.host}: HTTP without authentication may only listen on loopback "
            "(127.0.0.1, ::1, localhost).", err=True,
        )
        raise typer.Exit(2)
    from tomo.server import serve_http, serve_stdio

    runner = serve_stdio(config) if transport is TransportChoice.STDIO else serve_http(config)
    with contextlib.suppress(KeyboardInterrupt):
        run_bounded(runner)


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


def main() -> None:
    """Console-script entry point."""
    os.environ.setdefault("FASTMCP_LOG_ENABLED", "false")
    os.environ.setdefault("FASTMCP_SHOW_SERVER_BANNER", "false")
    os.environ.setdefault("FASTMCP_CHECK_FOR_UPDATES", "off")
    sys.exit(app())
