"""``tomo call``: one tool from a terminal, through the same MCP server and authorization as a stdio session.

In-process by default: the app is built on this machine's data directory and driven by ``fastmcp.Client`` in
memory, acting as ``--user`` / ``TOMO_USER`` (default the first admin), exactly like ``tomo serve``. With
``--remote URL`` (or ``TOMO_URL``) the same call goes over streamable HTTP to a running
``tomo serve --transport http`` with ``--token`` (or ``TOMO_TOKEN``) as the bearer token.

Exit status: 0 when the tool succeeded, 1 when it answered an error (or the server could not be reached),
2 for bad usage: an unknown tool or parameter, or a value the tool's input schema refuses; 130 after Ctrl-C.
"""

from __future__ import annotations

import gc
import os
import sys
from collections.abc import AsyncIterator, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from tomo.cli.common import DataDir, load_config

if TYPE_CHECKING:
    from fastmcp import Client
    from rich.console import Console
    from rich.progress import Progress, TaskID

    from tomo.errors import TomoError

EXIT_OK, EXIT_TOOL_ERROR, EXIT_USAGE = 0, 1, 2
EXIT_INTERRUPTED = 130  # as a shell reports a command ended by SIGINT
#: A job tool's envelope code for arguments FastMCP refused: bad usage, as when the CLI refuses them itself.
VALIDATION_ERROR = "VALIDATION_ERROR"

JsonOut = Annotated[bool, typer.Option("--json", help="Print the raw envelope as JSON (for scripts).")]
UserOpt = Annotated[str | None, typer.Option("--user", help="The Tomo user to act as (default: TOMO_USER, else "
                                                            "the first admin). Not with --remote.")]
RemoteOpt = Annotated[str | None, typer.Option("--remote", envvar="TOMO_URL", help="URL of a running `tomo serve "
                                               "--transport http` (e.g. http://127.0.0.1:8765/mcp).")]
TokenOpt = Annotated[str | None, typer.Option("--token", envvar="TOMO_TOKEN", help="API token for --remote "
                                              "(prefer TOMO_TOKEN: a command line is visible to other users).")]


@dataclass(frozen=True)
class Target:
    """Where a call runs: this machine's data directory as a user, or a remote server with a token."""

    data_dir: Path | None = None
    user: str | None = None
    remote: str | None = None
    token: str | None = None


class JobProgress:
    """A Rich progress bar on stderr fed by the MCP progress notifications of a job tool."""

    def __init__(self, console: Console, tool: str) -> None:
        self.console = console
        self.tool = tool
        self.shown: tuple[Progress, TaskID] | None = None
        self.sent = False  # the call went to the server

    async def __call__(self, progress: float, total: float | None, message: str | None) -> None:
        from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn

        if self.shown is None:
            bar = Progress(TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(),
                           TimeElapsedColumn(), console=self.console, transient=True)
            bar.start()
            self.shown = bar, bar.add_task(self.tool, total=total or 100)
        bar, task = self.shown
        step = f"{self.tool}: {message}" if message else self.tool
        bar.update(task, completed=progress, total=total or 100, description=step)

    def stop(self) -> None:
        if self.shown is not None:
            self.shown[0].stop()


def call(
    tool: Annotated[str, typer.Argument(help="Tool name, e.g. list_servers (`tomo tools` lists them).",
                                        autocompletion=_complete_tool)],
    arguments: Annotated[list[str] | None, typer.Argument(
        help="key=value per parameter: numbers, true/false, JSON for objects and lists, @file for a file's "
             "content, - for stdin.", show_default=False)] = None,
    json_out: JsonOut = False,
    user: UserOpt = None,
    data_dir: DataDir = None,
    remote: RemoteOpt = None,
    token: TokenOpt = None,
) -> None:
    """Run one MCP tool and show its answer (exit 0 success, 1 tool error, 2 bad usage)."""
    run_tool(tool, Target(data_dir, user, remote, token), json_out, words=arguments or [])


@dataclass(frozen=True)
class ToolCall:
    """One tool and its arguments: ``words`` (key=value, parsed by the tool's schema) or typed ``arguments``."""

    tool: str
    arguments: Mapping[str, Any] | None = None
    words: list[str] | None = None


def _complete_tool(incomplete: str) -> list[tuple[str, str]]:
    from tomo.cli.verbs import complete_tool

    return complete_tool(incomplete)


def run_tool(tool: str, target: Target, json_out: bool, *, words: list[str] | None = None,
             arguments: Mapping[str, Any] | None = None) -> None:
    """Call ``tool``, show its answer and exit with its status."""
    run_calls([ToolCall(tool, arguments, words)], target, json_out)


def run_calls(calls: list[ToolCall], target: Target, json_out: bool) -> None:
    """Make ``calls`` in one session, show each answer (a JSON list for several) and exit with the worst status."""
    from rich.console import Console

    from tomo.cli.args import UsageError
    from tomo.cli.render import render
    from tomo.errors import TomoError

    out, err = Console(), Console(stderr=True)
    progress = [JobProgress(err, call.tool) for call in calls]
    try:
        envelopes = _run(_call_all(calls, target, progress))
    except KeyboardInterrupt:
        err.print(f"[bold red]Interrupted.[/] {interrupted(target, progress)}")
        raise typer.Exit(EXIT_INTERRUPTED) from None
    except UsageError as exc:
        err.print(f"[bold red]Usage:[/] {_escape(exc.message)}")
        raise typer.Exit(EXIT_USAGE) from None
    except ConnectionFailed as exc:
        err.print(f"[bold red]Error:[/] {_escape(exc.message)}")
        raise typer.Exit(EXIT_TOOL_ERROR) from None
    except TomoError as exc:  # the in-process app could not start (e.g. the database cannot be opened)
        err.print(f"[bold red]Error ({exc.code}):[/] {_escape(exc.message)}")
        raise typer.Exit(EXIT_TOOL_ERROR) from None
    if json_out:
        import json

        typer.echo(json.dumps(envelopes[0] if len(envelopes) == 1 else envelopes, indent=2))
    else:
        for envelope in envelopes:
            render(envelope, out, err)
    raise typer.Exit(max(exit_status(envelope) for envelope in envelopes))


def exit_status(envelope: Mapping[str, Any]) -> int:
    """0 for a success, 2 when the server refused the arguments, 1 for any other error."""
    if envelope.get("success"):
        return EXIT_OK
    return EXIT_USAGE if envelope.get("error") == VALIDATION_ERROR else EXIT_TOOL_ERROR


class ConnectionFailed(Exception):
    """The remote server could not be reached or refused the session."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def interrupted(target: Target, progress: list[JobProgress]) -> str:
    """What became of the calls a person interrupted with Ctrl-C."""
    if not any(bar.sent for bar in progress):
        return "Nothing was sent."
    if not any(bar.shown for bar in progress):
        return "The call may or may not have run; check before repeating it."
    if target.remote is not None:
        return ("The job keeps running on the server: `tomo jobs list --status running` shows it, "
                "`tomo jobs cancel JOB_ID` stops it.")
    return ("The job ran in this command and stopped with it (recorded as interrupted): `tomo jobs list` shows "
            "it; run the command again to retry.")


async def _call_all(calls: list[ToolCall], target: Target, progress: list[JobProgress]) -> list[dict[str, Any]]:
    async with open_client(target) as client:
        offered = {listed.name: listed for listed in await client.list_tools()}
        return [await call_tool(client, offered, call, bar) for call, bar in zip(calls, progress, strict=True)]


async def call_tool(client: Client[Any], offered: Mapping[str, Any], call: ToolCall,
                    progress: JobProgress) -> dict[str, Any]:
    """The envelope of ``call``, its arguments checked against the schema of the tool as ``offered``."""
    from tomo.cli.args import UsageError, check, closest, parse_arguments

    if call.tool not in offered:  # hidden from this user, or no such tool: the server says which
        refused = await client.call_tool(call.tool, {}, raise_on_error=False)  # roles are checked first
        if refused.structured_content is not None:
            return dict(refused.structured_content)
        raise UsageError(f"Unknown tool '{call.tool}'{closest(call.tool, offered)}; `tomo tools` lists them.")
    schema = offered[call.tool].input_schema
    if call.words is not None:
        values = parse_arguments(call.words, schema, sys.stdin)
    else:
        values = {key: value for key, value in (call.arguments or {}).items() if value is not None}
        check(values, schema)
    progress.sent = True
    try:
        result = await client.call_tool(call.tool, values, raise_on_error=False, progress_handler=progress)
    except Exception as exc:  # the session broke (a remote server went away): one line, not a traceback
        raise ConnectionFailed(f"{call.tool} got no answer: {_reason(exc)}") from exc
    finally:
        progress.stop()
    if result.structured_content is None:  # not a Tomo envelope: FastMCP refused the call itself
        text = " ".join(getattr(part, "text", "") for part in result.content)
        return {"success": False, "message": text or "The server gave no answer.", "error": "NO_ENVELOPE"}
    return dict(result.structured_content)


@asynccontextmanager
async def open_client(target: Target) -> AsyncIterator[Client[Any]]:
    """An MCP client session: in memory on a freshly built app, or over HTTP to ``target.remote``."""
    session, where = _local_client(target) if target.remote is None else _remote_client(target)
    async with AsyncExitStack() as stack:
        try:
            client = await stack.enter_async_context(session)
        except Exception as exc:  # the app did not start, or no server, TLS, 401: one line saying why
            cause = _tomo_error(exc)
            if cause is not None:
                raise cause from exc
            raise ConnectionFailed(f"Cannot open an MCP session with {where}: {_reason(exc)}") from exc
        yield client


def _local_client(target: Target) -> tuple[Client[Any], str]:
    from fastmcp import Client

    from tomo.main import build_app

    overrides: dict[str, Any] = {"user": target.user} if target.user else {}
    if "TOMO_LOG_LEVEL" not in os.environ:
        overrides["log_level"] = "WARNING"  # a person reads stdout and stderr: no start-up chatter
    app = build_app(load_config(target.data_dir, **overrides), transport="stdio")
    if not gc.isenabled():  # tomo.cli.main kept the collector off while the app was built, as for tomo serve
        gc.freeze()
        gc.enable()
    return Client(app.mcp), "the local Tomo"


def _remote_client(target: Target) -> tuple[Client[Any], str]:
    from fastmcp import Client

    if target.user:
        raise _usage("--user applies to local calls; over --remote the token decides who you are.")
    if not target.token or target.remote is None:
        raise _usage("--remote needs an API token: --token or TOMO_TOKEN (`tomo token create` makes one).")
    url = target.remote.rstrip("/")
    url = url if url.rsplit("/", 1)[-1] == "mcp" else url + "/mcp"
    return Client(url, auth=target.token, timeout=None), url


def _tomo_error(exc: BaseException | None) -> TomoError | None:
    """The TomoError behind ``exc`` (FastMCP reports a failed start-up as a RuntimeError caused by it)."""
    from tomo.errors import TomoError

    while exc is not None and not isinstance(exc, TomoError):
        exc = exc.__cause__
    return exc


def _usage(message: str) -> Exception:
    from tomo.cli.args import UsageError

    return UsageError(message)


def _reason(exc: BaseException) -> str:
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return str(exc) or type(exc).__name__


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)


def _run(main: Any) -> Any:
    import asyncio

    return asyncio.run(main)
