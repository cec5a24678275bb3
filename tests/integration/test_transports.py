"""The official MCP client against a real `tomo serve` process, over stdio and streamable HTTP."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from mcp import Client, StdioServerParameters

TOMO = shutil.which("tomo", path=str(Path(sys.executable).parent)) or "tomo"


def server_env(data_dir: Path) -> dict[str, str]:
    return {**os.environ, "TOMO_DATA_DIR": str(data_dir), "TOMO_LOG_LEVEL": "DEBUG"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


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


@pytest.fixture
def http_server(tmp_path: Path) -> Iterator[str]:
    port = free_port()
    proc = subprocess.Popen([TOMO, "serve", "--transport", "http", "--port", str(port)],
                            env=server_env(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{base}/healthz", timeout=1) as response:  # noqa: S310
                if response.status == 200:
                    break
        except OSError:
            time.sleep(0.1)
    else:
        proc.kill()
        pytest.fail(f"tomo serve --transport http did not start: {proc.stderr.read().decode()[-2000:]}")
    yield base
    proc.terminate()
    proc.wait(timeout=10)


async def test_http_lists_tools_and_answers_health_check(http_server: str) -> None:
    async with Client(f"{http_server}/mcp") as client:
        tools = await client.list_tools()
        result = await client.call_tool("health_check", {})
    assert "health_check" in {t.name for t in tools.tools}
    assert result.structured_content["success"] is True
    assert result.structured_content["data"]["status"] == "ok"


def test_http_healthz_answers_plain_json(http_server: str) -> None:
    with urllib.request.urlopen(f"{http_server}/healthz", timeout=5) as response:  # noqa: S310
        body = json.loads(response.read())
    assert body["status"] == "ok" and "version" in body


def test_http_refuses_non_loopback_bind_without_auth(tmp_path: Path) -> None:
    argv = [TOMO, "serve", "--transport", "http", "--host", "0.0.0.0", "--port", str(free_port())]  # noqa: S104
    proc = subprocess.run(argv,
                          capture_output=True, text=True, timeout=30, env=server_env(tmp_path))
    assert proc.returncode == 2
    assert "Refusing to bind 0.0.0.0" in proc.stderr


def test_cli_version_and_tools(tmp_path: Path) -> None:
    version = subprocess.run([TOMO, "version"], capture_output=True, text=True, timeout=30, check=True)
    assert version.stdout.startswith("tomo ")
    listing = subprocess.run([TOMO, "tools", "--data-dir", str(tmp_path)], capture_output=True, text=True,
                             timeout=60, check=True, env={**os.environ, "COLUMNS": "200"})
    assert "update_settings" in listing.stdout and "admin" in listing.stdout
