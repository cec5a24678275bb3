"""`tomo call` on a real database: the same MCP server and authorization as stdio, rendered for people."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from tomo.cli import app

PASSWORD = "correct-horse-battery"
Tomo = Callable[..., Result]


@pytest.fixture
def tomo(tmp_path: Path) -> Tomo:
    env = {"TOMO_DATA_DIR": str(tmp_path / "data"), "TOMO_USER": "", "TOMO_URL": "", "TOMO_TOKEN": "",
           "COLUMNS": "120"}

    def run(*args: str, stdin: str | None = None) -> Result:
        return CliRunner().invoke(app, list(args), env=env, input=stdin)

    return run


def test_a_success_prints_the_message_and_data_and_exits_0(tomo: Tomo) -> None:
    result = tomo("call", "health_check")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0] == "Tomo is running."
    assert "status" in result.stdout and "version" in result.stdout
    assert result.stderr == ""  # no log lines for a person to wade through


def test_json_prints_the_raw_envelope(tomo: Tomo) -> None:
    result = tomo("call", "list_servers", "limit=5", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {
        "success": True, "message": "No servers registered yet; add one with add_server.",
        "data": {"servers": [], "total": 0, "limit": 5, "offset": 0, "has_more": False, "next_offset": None}}


def test_a_tool_error_is_red_on_stderr_and_exits_1(tomo: Tomo) -> None:
    result = tomo("call", "get_server", "server_id=nas")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.startswith("Error (SERVER_NOT_FOUND): Server 'nas' not found")
    as_json = tomo("call", "get_server", "server_id=nas", "--json")
    assert as_json.exit_code == 1
    assert json.loads(as_json.stdout)["error"] == "SERVER_NOT_FOUND"


@pytest.mark.parametrize(("args", "expected"), [
    (["call", "list_serverz"], "Usage: Unknown tool 'list_serverz' (did you mean list_servers?)"),
    (["call", "list_servers", "limt=3"], "Usage: Unknown parameter 'limt' (did you mean limit?); parameters: "
                                         "limit, offset."),
    (["call", "list_servers", "limit=-3"], "Usage: limit: expected at least 1."),
    (["call", "health_check", "detailed=maybe"], "Usage: detailed: expected true or false, got 'maybe'."),
    (["call", "get_server"], "Usage: missing required parameter 'server_id' (text)."),
])
def test_bad_usage_says_what_is_expected_and_exits_2(tomo: Tomo, args: list[str], expected: str) -> None:
    result = tomo(*args)
    assert result.exit_code == 2
    assert " ".join(result.stderr.split()).startswith(expected)


def test_a_password_from_stdin_creates_the_admin_who_then_acts(tomo: Tomo) -> None:
    created = tomo("call", "create_initial_admin", "username=alice", "password=-", stdin=PASSWORD + "\n")
    assert created.exit_code == 0, created.output
    assert PASSWORD not in created.output
    me = tomo("call", "get_current_user")
    assert me.exit_code == 0
    assert me.stdout.startswith("Signed in as 'alice' (admin) via stdio.")
    other = tomo("call", "list_servers", "--user", "nobody")
    assert other.exit_code == 1
    assert "the configured Tomo user 'nobody' does not exist" in " ".join(other.stderr.split())


def test_an_object_from_a_file_is_sent_as_json(tomo: Tomo, tmp_path: Path) -> None:
    settings = tmp_path / "settings.json"
    settings.write_text('{"default_wait_seconds": 7}')
    changed = tomo("call", "update_settings", f"settings=@{settings}")
    assert changed.exit_code == 0, changed.output
    shown = tomo("call", "get_settings", "category=jobs", "--json")
    values = {row["key"]: row["value"] for row in json.loads(shown.stdout)["data"]["settings"]}
    assert values["default_wait_seconds"] == 7


def test_lists_render_as_tables_with_the_paging_caption(tomo: Tomo) -> None:
    result = tomo("call", "search_marketplace", "limit=2")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[1].strip() == "apps"
    assert lines[3].split("┃")[1].strip() == "id"
    assert "builtin/" in lines[5]
    assert re.search(r"total \d+ · more with offset=2", result.stdout)


def test_an_app_that_cannot_start_says_why_in_one_line(tmp_path: Path) -> None:
    env = {"TOMO_DATA_DIR": str(tmp_path / "data"), "TOMO_DATABASE_URL": "postgresql+asyncpg://tomo@127.0.0.1:1/tomo"}
    result = CliRunner().invoke(app, ["call", "health_check"], env=env)
    assert result.exit_code == 1
    assert result.stderr.startswith("Error (DATABASE_ERROR): Tomo cannot open its database")
    assert "Traceback" not in result.output


def test_an_unreachable_remote_server_says_so_and_exits_1(tomo: Tomo) -> None:
    result = tomo("call", "health_check", "--remote", "http://127.0.0.1:1", "--token", "tomo_x")
    assert result.exit_code == 1
    assert " ".join(result.stderr.split()).startswith("Error: Cannot open an MCP session with http://127.0.0.1:1/mcp")
    needs_token = tomo("status", "--remote", "http://127.0.0.1:1")
    assert needs_token.exit_code == 2
    assert "--remote needs an API token" in needs_token.stderr
