"""The everyday ``tomo`` verbs: each one is a single tool call with named options (``tomo call`` underneath).

``tomo servers list|add|test|info|remove|metrics|collect|stats``, ``tomo apps search|show|install|list|logs|start|
stop|update|uninstall``, ``tomo jobs list|show|cancel`` and ``tomo status``. A verb's help is the tool's own
description, read when help is asked for (tool modules are not imported to start ``tomo serve``). Every verb takes the
options of ``tomo call``: ``--json``, ``--user``, ``--data-dir``, ``--remote``, ``--token``.

No ``from __future__ import annotations`` here: the signatures built by :func:`verb` hand Typer real types.
"""

import functools
import inspect
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperCommand

from tomo.cli.call import JsonOut, RemoteOpt, Target, TokenOpt, UserOpt, run_tool
from tomo.cli.common import DataDir

Arguments = dict[str, Any]
Builder = Callable[..., Arguments]

servers_app = typer.Typer(help="Servers reached over SSH: list, add, test, info, remove; metrics and stats.",
                          no_args_is_help=True)
apps_app = typer.Typer(help="Apps: search the catalog, install, follow and manage them.", no_args_is_help=True)
jobs_app = typer.Typer(help="Long operations (prepare, install, update, sync): list, show, cancel.",
                       no_args_is_help=True)

COMMON = [
    inspect.Parameter("json_out", inspect.Parameter.KEYWORD_ONLY, default=False, annotation=JsonOut),
    inspect.Parameter("user", inspect.Parameter.KEYWORD_ONLY, default=None, annotation=UserOpt),
    inspect.Parameter("data_dir", inspect.Parameter.KEYWORD_ONLY, default=None, annotation=DataDir),
    inspect.Parameter("remote", inspect.Parameter.KEYWORD_ONLY, default=None, annotation=RemoteOpt),
    inspect.Parameter("token", inspect.Parameter.KEYWORD_ONLY, default=None, annotation=TokenOpt),
]


@functools.cache
def tool_docs() -> dict[str, str]:
    """Every tool's name and description (its method's docstring), from the tool classes, without building an app.

    The loader's rules: a module's ``*Tools`` class, its public methods, minus those declaring a resource or prompt.
    """
    import importlib

    from tomo.lib.mcp.loader import DEFAULT_PACKAGES, discover_tool_modules, find_tools_class
    from tomo.lib.mcp.tooling import view_spec

    docs: dict[str, str] = {}
    for package in DEFAULT_PACKAGES:
        for module_name in discover_tool_modules(package):
            owner = find_tools_class(importlib.import_module(module_name))
            docs.update((name, inspect.getdoc(method) or "") for name, method in inspect.getmembers(
                owner, inspect.isfunction) if not name.startswith("_") and view_spec(method) is None)
    return docs


def tool_description(tool: str) -> str:
    """What an MCP client reads about ``tool``."""
    return tool_docs().get(tool) or f"Calls the {tool} tool."


def complete_tool(incomplete: str) -> list[tuple[str, str]]:
    """Shell completion for ``tomo call``: tool names starting with ``incomplete``, with their first line."""
    return [(name, doc.split("\n", 1)[0]) for name, doc in sorted(tool_docs().items()) if name.startswith(incomplete)]


def tool_command(tool: str) -> type[TyperCommand]:
    """A command class whose help is ``tool``'s description, looked up only when help is shown."""

    class ToolCommand(TyperCommand):
        @property
        def help(self) -> str:
            text = tool_description(tool).split("\n\nArgs:")[0]  # the parameters are the options below
            paragraphs = [" ".join(part.split()) for part in text.split("\n\n")]
            return "\n\n".join([*paragraphs, f"(Runs the {tool} tool; `tomo call {tool}` takes every parameter.)"])

        @help.setter
        def help(self, _value: str | None) -> None:
            pass

        @property
        def short_help(self) -> str:
            return tool_description(tool).split("\n", 1)[0]

        @short_help.setter
        def short_help(self, _value: str | None) -> None:
            pass

    return ToolCommand


def verb(group: typer.Typer, name: str, tool: str) -> Callable[[Builder], Builder]:
    """Register ``build`` (options -> the tool's arguments) as ``tomo <group> <name>``, running ``tool``."""

    def register(build: Builder) -> Builder:
        parameters = [*inspect.signature(build).parameters.values(), *COMMON]

        @functools.wraps(build)
        def command(**options: Any) -> None:
            json_out, user, data_dir, remote, token = (options.pop(p.name) for p in COMMON)
            run_tool(tool, Target(data_dir, user, remote, token), json_out, arguments=build(**options))

        command.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
        command.__annotations__ = {p.name: p.annotation for p in parameters}
        group.command(name, cls=tool_command(tool))(command)
        return build

    return register


def confirmed(yes: bool, question: str) -> bool:
    """True with --yes; otherwise ask (a refusal ends the command with nothing done)."""
    if not yes and not typer.confirm(question, err=True):
        typer.echo("Nothing was changed.", err=True)
        raise typer.Exit(1)
    return True


def read_secret(flag: str) -> str:
    """The first line of stdin (``--password-stdin`` and friends), refused when empty."""
    secret = sys.stdin.readline().rstrip("\r\n")
    if not secret:
        typer.echo(f"Usage: {flag} given but stdin was empty.", err=True)
        raise typer.Exit(2)
    return secret


ServerId = Annotated[str, typer.Argument(help="Server id or name, from `tomo servers list`.")]
InstallationId = Annotated[str, typer.Argument(help="Installation id, from `tomo apps list`.")]
JobId = Annotated[str, typer.Argument(help="Job id, from `tomo jobs list` or a job tool's answer.")]
Limit = Annotated[int | None, typer.Option(help="Items per page (default: the tool's).")]
Offset = Annotated[int | None, typer.Option(help="The previous page's next_offset.")]
Yes = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")]
Wait = Annotated[int | None, typer.Option(help="Seconds to follow the job before returning its id (default 30).")]


# --- servers ---------------------------------------------------------------------------------------------------


@verb(servers_app, "list", "list_servers")
def servers_list(limit: Limit = None, offset: Offset = None) -> Arguments:
    return {"limit": limit, "offset": offset}


@verb(servers_app, "add", "add_server")
def servers_add(
    name: Annotated[str, typer.Argument(help="Unique server name, e.g. nas.")],
    host: Annotated[str, typer.Argument(help="Hostname or IP address, no port.")],
    username: Annotated[str, typer.Option("--username", "-u", help="SSH user.")],
    port: Annotated[int | None, typer.Option(help="SSH port (default 22).")] = None,
    key_file: Annotated[Path | None, typer.Option(help="Private key file (ed25519, ecdsa or rsa); "
                                                       "key authentication.")] = None,
    password_stdin: Annotated[bool, typer.Option("--password-stdin", help="Read the SSH password (or, with "
                                                 "--key-file, the key's passphrase) from stdin.")] = False,
) -> Arguments:
    arguments: Arguments = {"name": name, "host": host, "username": username, "port": port}
    secret = read_secret("--password-stdin") if password_stdin else None
    if key_file is None:
        if secret is None:
            typer.echo("Usage: give --key-file FILE or --password-stdin (the password is read from stdin).",
                       err=True)
            raise typer.Exit(2)
        return {**arguments, "auth_type": "password", "password": secret}
    try:
        key = key_file.expanduser().read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        typer.echo(f"Usage: cannot read the key file '{key_file}': {getattr(exc, 'strerror', None) or exc}.",
                   err=True)
        raise typer.Exit(2) from None
    return {**arguments, "auth_type": "key", "private_key": key, "passphrase": secret}


@verb(servers_app, "test", "test_connection")
def servers_test(server_id: ServerId) -> Arguments:
    return {"server_id": server_id}


@verb(servers_app, "info", "get_server_info")
def servers_info(
    server_id: ServerId,
    refresh: Annotated[bool, typer.Option(help="Ask the server again instead of the saved facts.")] = False,
) -> Arguments:
    return {"server_id": server_id, "refresh": refresh}


@verb(servers_app, "remove", "delete_server")
def servers_remove(
    server_id: ServerId,
    force: Annotated[bool, typer.Option(help="Remove it even while apps are installed on it.")] = False,
    yes: Yes = False,
) -> Arguments:
    return {"server_id": server_id, "force": force, "confirm": confirmed(yes, f"Remove server '{server_id}'?")}


@verb(servers_app, "metrics", "get_server_metrics")
def servers_metrics(
    server_id: ServerId,
    period: Annotated[str, typer.Option(help="How far back: 1h, 24h, 7d or 30d.")] = "1h",
    resolution: Annotated[str | None, typer.Option(help="Bucket size, e.g. 10m (default: from the period).")]
    = None,
) -> Arguments:
    return {"server_id": server_id, "period": period, "resolution": resolution}


@verb(servers_app, "collect", "collect_metrics")
def servers_collect(
    server_id: Annotated[str | None, typer.Argument(help="Server id or name (default: every server).")] = None,
) -> Arguments:
    return {"server_id": server_id}


@verb(servers_app, "stats", "get_container_metrics")
def servers_stats(
    server_id: ServerId,
    installation_id: Annotated[str | None, typer.Option(help="Only this installed app's containers.")] = None,
) -> Arguments:
    return {"server_id": server_id, "installation_id": installation_id}


# --- apps ------------------------------------------------------------------------------------------------------


@verb(apps_app, "search", "search_marketplace")
def apps_search(
    query: Annotated[str | None, typer.Argument(help="Words to look for, e.g. 'media server'.")] = None,
    category: Annotated[str | None, typer.Option(help="Only this category.")] = None,
    limit: Limit = None,
    offset: Offset = None,
) -> Arguments:
    return {"query": query, "category": category, "limit": limit, "offset": offset}


@verb(apps_app, "show", "get_marketplace_app")
def apps_show(app_id: Annotated[str, typer.Argument(help="App id from `tomo apps search`, e.g. builtin/jellyfin.")]
              ) -> Arguments:
    return {"app_id": app_id}


@verb(apps_app, "install", "install_app")
def apps_install(
    app_id: Annotated[str, typer.Argument(help="App id from `tomo apps search`, e.g. builtin/jellyfin.")],
    server: Annotated[str, typer.Option("--server", "-s", help="Server id or name.")],
    config: Annotated[str | None, typer.Option(help="Install options as JSON ({\"name\": ..., \"ports\": ..., "
                                                    "\"inputs\": ...}), or @file.")] = None,
    wait: Wait = None,
) -> Arguments:
    from tomo.cli.args import UsageError, convert

    try:
        options = convert("config", config, {"type": "object"}, sys.stdin) if config is not None else None
    except UsageError as exc:
        typer.echo(f"Usage: {exc.message}", err=True)
        raise typer.Exit(2) from None
    return {"app_id": app_id, "server_id": server, "config": options, "wait_seconds": wait}


@verb(apps_app, "list", "list_installed_apps")
def apps_list(
    server: Annotated[str | None, typer.Option("--server", "-s", help="Only apps on this server.")] = None,
    limit: Limit = None,
    offset: Offset = None,
) -> Arguments:
    return {"server_id": server, "limit": limit, "offset": offset}


@verb(apps_app, "logs", "get_app_logs")
def apps_logs(
    installation_id: InstallationId,
    service: Annotated[str | None, typer.Option(help="Only this service, e.g. db.")] = None,
    since: Annotated[str | None, typer.Option(help="A duration (15m, 2h) or a time.")] = None,
    tail: Annotated[int | None, typer.Option(help="Last lines per service (default 100).")] = None,
) -> Arguments:
    return {"installation_id": installation_id, "service": service, "since": since, "tail": tail}


@verb(apps_app, "start", "start_app")
def apps_start(installation_id: InstallationId) -> Arguments:
    return {"installation_id": installation_id}


@verb(apps_app, "stop", "stop_app")
def apps_stop(installation_id: InstallationId) -> Arguments:
    return {"installation_id": installation_id}


@verb(apps_app, "update", "update_app")
def apps_update(
    installation_id: InstallationId,
    version: Annotated[str | None, typer.Option(help="Catalog version to move to (default: the latest).")] = None,
    wait: Wait = None,
) -> Arguments:
    return {"installation_id": installation_id, "version": version, "wait_seconds": wait}


@verb(apps_app, "uninstall", "uninstall_app")
def apps_uninstall(
    installation_id: InstallationId,
    remove_data: Annotated[bool, typer.Option(help="Also delete its data folder and volumes, for good.")] = False,
    yes: Yes = False,
    wait: Wait = None,
) -> Arguments:
    question = f"Uninstall '{installation_id}'{' and delete its data' if remove_data else ''}?"
    return {"installation_id": installation_id, "remove_data": remove_data, "wait_seconds": wait,
            "confirm": confirmed(yes, question)}


# --- jobs ------------------------------------------------------------------------------------------------------


@verb(jobs_app, "list", "list_jobs")
def jobs_list(
    status: Annotated[str | None, typer.Option(help="pending, running, succeeded, failed, cancelled or "
                                                    "interrupted.")] = None,
    server: Annotated[str | None, typer.Option("--server", "-s", help="Only jobs for this server.")] = None,
    limit: Limit = None,
    offset: Offset = None,
) -> Arguments:
    return {"status": status, "server_id": server, "limit": limit, "offset": offset}


@verb(jobs_app, "show", "get_job")
def jobs_show(job_id: JobId) -> Arguments:
    return {"job_id": job_id}


@verb(jobs_app, "cancel", "cancel_job")
def jobs_cancel(job_id: JobId) -> Arguments:
    return {"job_id": job_id}


# --- status ----------------------------------------------------------------------------------------------------

#: What ``tomo status`` shows, until a dashboard summary tool exists: the first page of each.
STATUS_CALLS = (("list_servers", {"limit": 20}), ("list_installed_apps", {"limit": 20}), ("list_jobs", {"limit": 5}))


def status(json_out: JsonOut = False, user: UserOpt = None, data_dir: DataDir = None, remote: RemoteOpt = None,
           token: TokenOpt = None) -> None:
    """Servers, installed apps and the latest jobs at a glance (list_servers, list_installed_apps, list_jobs)."""
    from tomo.cli.call import ToolCall, run_calls

    run_calls([ToolCall(tool, arguments) for tool, arguments in STATUS_CALLS], Target(data_dir, user, remote, token),
              json_out)


@functools.cache
def _commands() -> dict[str, Any]:
    from tomo.cli.call import call

    verbs = typer.Typer()
    verbs.command("call")(call)
    verbs.command("status")(status)
    verbs.add_typer(servers_app, name="servers")
    verbs.add_typer(apps_app, name="apps")
    verbs.add_typer(jobs_app, name="jobs")
    group = typer.main.get_command(verbs)
    return dict(getattr(group, "commands", {}))


def lazy_command(name: str) -> Any:
    """The click command ``tomo <name>`` runs (tomo.cli.TomoGroup asks for it by name)."""
    return _commands().get(name)
