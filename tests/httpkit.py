"""Helpers for tests against a real `tomo serve --transport http` process."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import IO, Any

import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

TOMO = shutil.which("tomo", path=str(Path(sys.executable).parent)) or "tomo"
ACCEPT = "application/json, text/event-stream"


def server_env(data_dir: Path, **extra: str) -> dict[str, str]:
    return {**os.environ, "TOMO_DATA_DIR": str(data_dir), "TOMO_LOG_LEVEL": "DEBUG", **extra}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def create_admin(env: dict[str, str], username: str, password: str) -> None:
    """`tomo admin create` with the password on stdin."""
    subprocess.run([TOMO, "admin", "create", "--username", username, "--password-stdin"], input=password + "\n",
                   text=True, env=env, check=True, capture_output=True, timeout=60)


def create_token(env: dict[str, str], username: str, name: str, *extra: str) -> str:
    """`tomo token create`; returns the token printed on stdout."""
    done = subprocess.run([TOMO, "token", "create", "--user", username, "--name", name, *extra], text=True, env=env,
                          check=True, capture_output=True, timeout=60)
    return done.stdout.strip()


def start_http(env: dict[str, str], stderr: IO[bytes] | int, *args: str) -> tuple[subprocess.Popen[bytes], str]:
    """Start `tomo serve --transport http` on a free port and wait for /healthz; returns the process and base URL."""
    port = free_port()
    proc = subprocess.Popen([TOMO, "serve", "--transport", "http", "--port", str(port), *args], env=env,
                            stdout=subprocess.DEVNULL, stderr=stderr)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{base}/healthz", timeout=1) as response:  # noqa: S310
                if response.status == 200:
                    return proc, base
        except OSError:
            if proc.poll() is not None:
                break
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("tomo serve --transport http did not start")


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    proc.wait(timeout=10)


@asynccontextmanager
async def mcp_client(url: str, token: str | None) -> AsyncIterator[Client]:
    """The official mcp client over streamable HTTP, sending the bearer token on every request."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with httpx2.AsyncClient(headers=headers, timeout=30) as http, \
            Client(streamable_http_client(url, http_client=http)) as client:
        yield client


def rpc(method: str, **params: Any) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": 1, "method": method, "params": params}


def tool_call(tool: str, /, **arguments: Any) -> dict[str, Any]:
    return rpc("tools/call", name=tool, arguments=arguments)


def envelope_of(response: httpx2.Response) -> dict[str, Any]:
    """The tool envelope from an SSE or JSON answer to tools/call."""
    text = response.text
    payload = next((line[6:] for line in text.splitlines() if line.startswith("data: ")), text)
    message = json.loads(payload)
    assert "result" in message, message
    content: dict[str, Any] = message["result"]["structuredContent"]
    return content
