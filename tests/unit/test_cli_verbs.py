"""The everyday verbs: one tool call each with named options, their help taken from the tools' descriptions."""

from __future__ import annotations

import inspect
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import typer
from fastmcp import Client
from typer import _click
from typer.core import TyperCommand, TyperGroup
from typer.testing import CliRunner, Result

from tomo.cli import app
from tomo.cli.verbs import complete_tool, tool_description, tool_docs
from tomo.tools.server.tools import ServerTools

Tomo = Callable[..., Result]


@pytest.fixture
def tomo(tmp_path: Path) -> Tomo:
    env = {"TOMO_DATA_DIR": str(tmp_path / "data"), "TOMO_USER": "", "TOMO_URL": "", "TOMO_TOKEN": "",
           "COLUMNS": "120"}

    def run(*args: str, stdin: str | None = None) -> Result:
        return CliRunner().invoke(app, list(args), env=env, input=stdin)

    return run


def test_a_server_is_added_listed_and_removed_by_name(tomo: Tomo) -> None:
    added = tomo("servers", "add", "nas", "192.0.2.10", "-u", "admin", "--password-stdin", stdin="hunter2-ssh\n")
    assert added.exit_code == 0, added.output
    assert "hunter2-ssh" not in added.output
    listed = tomo("servers", "list", "--json")
    servers = json.loads(listed.stdout)["data"]["servers"]
    assert [(s["name"], s["host"], s["auth_type"]) for s in servers] == [("nas", "192.0.2.10", "password")]
    table = tomo("servers", "list")
    assert "nas" in table.stdout and "192.0.2.10" in table.stdout
    kept = tomo("servers", "remove", "nas", stdin="n\n")
    assert kept.exit_code == 1
    assert "Nothing was changed." in kept.stderr
    removed = tomo("servers", "remove", "nas", "--yes")
    assert removed.exit_code == 0, removed.output
    assert json.loads(tomo("servers", "list", "--json").stdout)["data"]["servers"] == []


def test_a_key_file_makes_a_key_server_and_an_unreadable_one_is_bad_usage(tomo: Tomo, tmp_path: Path) -> None:
    import asyncssh

    key = tmp_path / "id_ed25519"
    key.write_bytes(asyncssh.generate_private_key("ssh-ed25519").export_private_key())
    added = tomo("servers", "add", "pi", "192.0.2.11", "-u", "pi", "--key-file", str(key), "--json")
    assert added.exit_code == 0, added.output
    assert json.loads(added.stdout)["data"]["server"]["auth_type"] == "key"
    missing = tomo("servers", "add", "pi2", "192.0.2.12", "-u", "pi", "--key-file", str(tmp_path / "nope"))
    assert missing.exit_code == 2
    assert "cannot read the key file" in missing.stderr
    neither = tomo("servers", "add", "pi3", "192.0.2.13", "-u", "pi")
    assert neither.exit_code == 2
    assert "--key-file FILE or --password-stdin" in neither.stderr


def test_verbs_refuse_values_the_schema_refuses_and_report_tool_errors(tomo: Tomo) -> None:
    bogus = tomo("jobs", "list", "--status", "bogus")
    assert bogus.exit_code == 2
    assert "status: expected one of pending, running" in bogus.stderr
    bad_json = tomo("apps", "install", "builtin/jellyfin", "--server", "nas", "--config", "{oops")
    assert bad_json.exit_code == 2
    assert "config: expected a JSON object" in bad_json.stderr
    no_server = tomo("apps", "install", "builtin/jellyfin", "--server", "nas")
    assert no_server.exit_code == 1
    assert "Error (SERVER_NOT_FOUND)" in no_server.stderr
    no_job = tomo("jobs", "show", "0" * 32)
    assert no_job.exit_code == 1


def test_status_shows_servers_apps_and_jobs(tomo: Tomo) -> None:
    result = tomo("status")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "No servers registered yet; add one with add_server.", "No installed app(s).", "No job(s)."]
    as_json = json.loads(tomo("status", "--json").stdout)
    assert [envelope["success"] for envelope in as_json] == [True, True, True]


def _verbs() -> list[tuple[str, TyperCommand]]:
    root = typer.main.get_command(app)
    context = _click.Context(root)
    assert isinstance(root, TyperGroup)
    found = []
    for group_name in ("servers", "apps", "jobs"):
        group = root.get_command(context, group_name)
        assert isinstance(group, TyperGroup)
        for name, command in group.commands.items():
            assert isinstance(command, TyperCommand)
            found.append((f"{group_name} {name}", command))
    return found


def test_the_verbs_are_not_imported_to_start_tomo_serve() -> None:
    code = "import sys, tomo.cli; print(sorted(m for m in sys.modules if m.startswith(('tomo.cli.', 'rich'))))"
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert loaded.stdout.strip() == "['tomo.cli.common']"


def test_every_verb_is_documented_by_its_tool() -> None:
    verbs = _verbs()
    assert len(verbs) == 20
    for name, command in verbs:
        tool = (command.help or "").rsplit("(Runs the ", 1)[-1].split(" tool;")[0]
        assert command.get_short_help_str(200) == tool_description(tool).split("\n")[0], name
    assert tool_description("add_server") == inspect.getdoc(ServerTools.add_server)


async def test_help_and_completion_read_the_descriptions_mcp_clients_read(client: Client[Any]) -> None:
    listed = {tool.name: tool.description for tool in await client.list_tools()}
    assert set(tool_docs()) == set(listed)
    for name, doc in tool_docs().items():  # FastMCP moves an Args: section into the parameters' descriptions
        assert (listed[name] or "").startswith(doc.split("\n\nArgs:")[0].split("\n\n")[0]), name
    assert [name for name, _ in complete_tool("list_s")] == ["list_servers", "list_sessions"]
    assert dict(complete_tool("health"))["health_check"] == listed["health_check"].split("\n")[0]


def test_metrics_verbs_call_the_monitoring_tools(tomo: Tomo) -> None:
    added = tomo("servers", "add", "nas", "192.0.2.10", "-u", "admin", "--password-stdin", stdin="hunter2-ssh\n")
    assert added.exit_code == 0, added.output
    history = tomo("servers", "metrics", "nas", "--period", "24h", "--json")
    assert history.exit_code == 0, history.output
    assert json.loads(history.stdout)["success"] is True
    refused = tomo("servers", "metrics", "nas", "--period", "1y")
    assert refused.exit_code == 2 and "period" in refused.output
    missing = tomo("servers", "stats", "no-such-server")
    assert missing.exit_code == 1 and "SERVER_NOT_FOUND" in missing.output
