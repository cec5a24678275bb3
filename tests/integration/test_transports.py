"""The official MCP client against a real `tomo serve` process, over stdio and streamable HTTP."""

from __future__ import annotations

import json
import os
import subprocess
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from mcp import Client, StdioServerParameters
from tests.httpkit import TOMO, create_admin, create_token, free_port, mcp_client, server_env, start_http, stop


async def test_stdio_lists_tools_and_answers_health_check(tmp_path: Path) -> None:
    params = StdioServerParameters(command=TOMO, args=["serve"], env=server_env(tmp_path))
    async with Client(params) as client:
        tools = await client.list_tools()
        result = await client.call_tool("health_check", {"detailed": True})
    assert {"health_check", "get_job", "update_settings"} <= {t.name for t in tools.tools}
    assert result.is_error is False
    assert result.structured_content["success"] is True
    assert result.structured_content["data"]["database"]["status"] == "ok"


def test_stdio_stdout_carries_only_protocol_messages(tmp_path: Path) -> None:
    requests = [
        {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}},
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        {"jsonrpc": "2.0", "id": 2, "method": "tools/list"},
        {"jsonrpc": "2.0", "id": 3, "method": "tools/call",
         "params": {"name": "get_job", "arguments": {"job_id": "x"}}},
        {"jsonrpc": "2.0", "id": 4, "method": "tools/call",
         "params": {"name": "list_jobs", "arguments": {"limit": -5}}},
    ]
    proc = subprocess.Popen([TOMO, "serve"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=server_env(tmp_path))
    assert proc.stdin is not None and proc.stdout is not None
    messages = []
    for request in requests:
        proc.stdin.write(json.dumps(request) + "\n")
        proc.stdin.flush()
        if "id" in request:
            messages.append(json.loads(proc.stdout.readline()))
    proc.stdin.close()
    assert proc.wait(timeout=30) == 0
    rest = proc.stdout.read()
    stderr = proc.stderr.read() if proc.stderr else ""
    assert rest.strip() == ""
    assert [m["id"] for m in messages] == [1, 2, 3, 4]
    assert all(m["jsonrpc"] == "2.0" for m in messages)
    assert messages[3]["result"]["structuredContent"]["error"] == "VALIDATION_ERROR"
    assert stderr.strip(), "logs are expected on stderr"
    for line in stderr.splitlines():
        json.loads(line)


@dataclass(frozen=True)
class HttpServer:
    base: str
    token: str


@pytest.fixture
def http_server(tmp_path: Path) -> Iterator[HttpServer]:
    env = server_env(tmp_path)
    create_admin(env, "root", "harbour lights at midnight")
    token = create_token(env, "root", "transport-tests")
    proc, base = start_http(env, subprocess.PIPE)
    yield HttpServer(base, token)
    stop(proc)


async def test_http_lists_tools_and_answers_health_check(http_server: HttpServer) -> None:
    async with mcp_client(f"{http_server.base}/mcp", http_server.token) as client:
        tools = await client.list_tools()
        result = await client.call_tool("health_check", {"detailed": True})
    assert {"health_check", "get_job", "update_settings"} <= {t.name for t in tools.tools}
    assert result.structured_content["success"] is True
    assert result.structured_content["data"]["status"] == "ok"
    assert result.structured_content["data"]["principal"]["username"] == "root"


async def test_http_without_a_token_reaches_only_the_public_tools(http_server: HttpServer) -> None:
    async with Client(f"{http_server.base}/mcp") as client:
        tools = await client.list_tools()
        result = await client.call_tool("health_check", {})
    assert {t.name for t in tools.tools} == {"login", "health_check"}
    assert result.structured_content["data"]["status"] == "ok"


def test_http_healthz_answers_plain_json(http_server: HttpServer) -> None:
    with urllib.request.urlopen(f"{http_server.base}/healthz", timeout=5) as response:  # noqa: S310
        body = json.loads(response.read())
    assert body["status"] == "ok" and "version" in body


def test_http_refuses_non_loopback_bind_without_auth(tmp_path: Path) -> None:
    argv = [TOMO, "serve", "--transport", "http", "--host", "0.0.0.0", "--port", str(free_port())]  # noqa: S104
    proc = subprocess.run(argv,
                          capture_output=True, text=True, timeout=30, env=server_env(tmp_path))
    assert proc.returncode == 2
    assert "Refusing to bind 0.0.0.0" in proc.stderr
    assert "tomo admin create" in proc.stderr


def test_http_binds_non_loopback_once_an_admin_exists(tmp_path: Path) -> None:
    env = server_env(tmp_path)
    create_admin(env, "root", "harbour lights at midnight")
    proc, base = start_http(env, subprocess.DEVNULL, "--host", "0.0.0.0")  # noqa: S104
    try:
        with urllib.request.urlopen(f"{base}/healthz", timeout=5) as response:  # noqa: S310
            assert response.status == 200
    finally:
        stop(proc)


def test_cli_version_and_tools(tmp_path: Path) -> None:
    version = subprocess.run([TOMO, "version"], capture_output=True, text=True, timeout=30, check=True)
    assert version.stdout.startswith("tomo ")
    listing = subprocess.run([TOMO, "tools", "--data-dir", str(tmp_path)], capture_output=True, text=True,
                             timeout=60, check=True, env={**os.environ, "COLUMNS": "200"})
    assert "update_settings" in listing.stdout and "admin" in listing.stdout
