"""Tool calls over real HTTP: `tomo serve --transport http` against a bare one-tool FastMCP server, same run.

Both servers run as subprocesses on loopback with the transport settings Tomo uses (streamable HTTP, stateless,
the default SSE answers); the bare tool is async, as Tomo's are (a plain def would cost it a worker thread per
call). Tomo gets a temporary data directory with an admin, an API token (every Tomo call sends it, as a client
would) and a few servers registered with add_server (no connection is made). Both are driven by the same small
HTTP/1.1 client: raw JSON-RPC `tools/call` POSTs on keep-alive connections, so the client costs the same for both.
After a warm-up, each round times, for every case in turn (the order rotates from round to round to cancel drift):
N sequential calls on one connection (p50, p95, p99) and a fixed number of calls spread over 10 concurrent
connections (calls/s). The server processes' CPU time per call (/proc, all threads) is printed too, with its
ratio: on a shared machine whose load changes from one case to the next, calls/s and latencies move with that
load, the CPU a call costs much less.

Targets: Tomo health_check at least 0.9x the bare server's calls/s and its sequential p50 at most +0.3 ms over the
bare one; list_servers at least 0.8x.

Run: .venv/bin/python bench/bench_http.py [--rounds 6] [--calls 200] [--concurrent-calls 600] [--clients 10]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from _stats import percentile, print_table, row  # noqa: E402

HOST = "127.0.0.1"
PASSWORD = "loopback-correct-horse-staple"  # noqa: S105 - a throwaway admin in a temporary data directory
SERVERS = 5
THROUGHPUT_TARGET = {"tomo health_check": 0.9, "tomo list_servers": 0.8}
P50_TARGET_MS = 0.3

BARE = '''
import sys, time
from fastmcp import FastMCP
mcp = FastMCP("bare")
started = time.monotonic()
@mcp.tool
async def health_check() -> dict:
    """Report that the server is up."""
    return {"status": "ok", "version": "0", "uptime_s": round(time.monotonic() - started, 1)}
import asyncio
asyncio.run(mcp.run_http_async(show_banner=False, host="127.0.0.1", port=int(sys.argv[1]), path="/mcp",
                               stateless_http=True, host_origin_protection=True,
                               uvicorn_config={"log_config": None, "proxy_headers": False}))
'''


class Connection:
    """One keep-alive HTTP/1.1 connection that POSTs JSON-RPC bodies to /mcp."""

    def __init__(self, port: int, token: str | None) -> None:
        self.port = port
        self.head = (f"POST /mcp HTTP/1.1\r\nHost: {HOST}:{port}\r\nContent-Type: application/json\r\n"
                     "Accept: application/json, text/event-stream\r\nMCP-Protocol-Version: 2025-06-18\r\n"
                     + (f"Authorization: Bearer {token}\r\n" if token else ""))
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def __aenter__(self) -> Connection:
        self.reader, self.writer = await asyncio.open_connection(HOST, self.port)
        return self

    async def __aexit__(self, *_: object) -> None:
        if self.writer is not None:
            self.writer.close()
            await self.writer.wait_closed()

    async def post(self, body: bytes) -> bytes:
        """Send one request and return the response body; raises unless the status is 200."""
        assert self.reader is not None and self.writer is not None
        self.writer.write(f"{self.head}Content-Length: {len(body)}\r\n\r\n".encode() + body)
        head = (await self.reader.readuntil(b"\r\n\r\n")).decode("latin-1").lower()
        status = head[9:12]
        if "transfer-encoding: chunked" in head:
            payload = await self._chunks()
        else:
            length = int(head.split("content-length:", 1)[1].split("\r\n", 1)[0])
            payload = await self.reader.readexactly(length)
        if status != "200":
            raise RuntimeError(f"HTTP {status}: {payload[:300]!r}")
        return payload

    async def _chunks(self) -> bytes:
        assert self.reader is not None
        parts = []
        while True:
            size = int((await self.reader.readline()).split(b";", 1)[0], 16)
            chunk = await self.reader.readexactly(size + 2)
            if size == 0:
                return b"".join(parts)
            parts.append(chunk[:-2])


def call_body(tool: str, arguments: dict[str, Any], call_id: int = 1) -> bytes:
    return json.dumps({"jsonrpc": "2.0", "id": call_id, "method": "tools/call",
                       "params": {"name": tool, "arguments": arguments}}).encode()


def result_of(payload: bytes) -> dict[str, Any]:
    """The JSON-RPC result of a response body, JSON or one SSE message; raises on a JSON-RPC or tool error."""
    text = payload.decode()
    if not text.lstrip().startswith("{"):
        text = next(line[5:] for line in text.splitlines() if line.startswith("data:"))
    message = json.loads(text)
    if "error" in message or message["result"].get("isError"):
        raise RuntimeError(f"call failed: {text[:300]}")
    result: dict[str, Any] = message["result"]
    return result


@dataclass
class Case:
    label: str
    port: int
    pid: int
    tool: str
    token: str | None
    latencies: list[float] = field(default_factory=list)
    throughput: list[float] = field(default_factory=list)
    cpu_per_call: list[float] = field(default_factory=list)

    @property
    def body(self) -> bytes:
        return call_body(self.tool, {})


def cpu_ms(pid: int) -> float:
    """User + system CPU time of a process (all its threads) in ms; 10 ms ticks."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * 1000 / os.sysconf("SC_CLK_TCK")


async def sequential(case: Case, calls: int) -> None:
    async with Connection(case.port, case.token) as conn:
        body = case.body
        for _ in range(calls):
            started = time.perf_counter()
            await conn.post(body)
            case.latencies.append((time.perf_counter() - started) * 1000)


async def concurrent(case: Case, calls: int, clients: int) -> None:
    async def client(count: int) -> None:
        async with Connection(case.port, case.token) as conn:
            for _ in range(count):
                await conn.post(body)

    body = case.body
    before, started = cpu_ms(case.pid), time.perf_counter()
    await asyncio.gather(*(client(calls // clients) for _ in range(clients)))
    elapsed = time.perf_counter() - started
    done = calls // clients * clients
    case.throughput.append(done / elapsed)
    case.cpu_per_call.append((cpu_ms(case.pid) - before) / done)


async def warm_up(case: Case, calls: int) -> None:
    async with Connection(case.port, case.token) as conn:
        result_of(await conn.post(case.body))  # a real, successful answer
        for _ in range(calls):
            await conn.post(case.body)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def tomo_command(name: str) -> str:
    return str(Path(sys.executable).parent / name)


def tomo_cli(args: list[str], env: dict[str, str], stdin: str | None = None) -> str:
    done = subprocess.run([tomo_command("tomo"), *args], input=stdin, text=True, env=env, capture_output=True,
                          check=False)
    if done.returncode != 0:
        raise RuntimeError(f"tomo {' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout


def prepare_data_dir(env: dict[str, str]) -> str:
    """Create the admin and an API token with the CLI; returns the token."""
    tomo_cli(["admin", "create", "--username", "bench", "--password-stdin"], env, PASSWORD + "\n")
    created = tomo_cli(["token", "create", "--user", "bench", "--name", "bench-http"], env)
    return next(word for word in created.split() if word.startswith("tomo_"))


@contextmanager
def server(argv: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as sink:
        proc = subprocess.Popen(argv, env=env, stdout=sink, stderr=subprocess.STDOUT)
    try:
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def tail(log: Path) -> str:
    return log.read_text(errors="replace")[-2000:]


async def wait_ready(port: int, token: str | None, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server on port {port} exited:\n{tail(log)}")
        try:
            async with Connection(port, token) as conn:
                result_of(await conn.post(call_body("health_check", {})))
                return
        except (OSError, RuntimeError, asyncio.IncompleteReadError):
            await asyncio.sleep(0.2)
    raise RuntimeError(f"server on port {port} did not answer within 60 s:\n{tail(log)}")


async def register_servers(port: int, token: str) -> None:
    async with Connection(port, token) as conn:
        for index in range(SERVERS):
            arguments = {"name": f"bench-{index}", "host": f"192.0.2.{index + 10}", "username": "bench",
                         "auth_type": "password", "password": PASSWORD}
            result_of(await conn.post(call_body("add_server", arguments, index + 2)))
        listed = result_of(await conn.post(call_body("list_servers", {})))
    assert len(listed["structuredContent"]["data"]["servers"]) == SERVERS


async def measure(cases: list[Case], args: argparse.Namespace) -> None:
    for case in cases:
        await warm_up(case, 100)
    for round_index in range(args.rounds):
        shift = round_index % len(cases)
        for case in cases[shift:] + cases[:shift]:
            await sequential(case, args.calls)
            await concurrent(case, args.concurrent_calls, args.clients)


def report(cases: list[Case], clients: int) -> None:
    print_table("sequential tool calls over HTTP, one keep-alive connection",
                [row(case.label, case.latencies) for case in cases])
    print(f"\n{clients} concurrent clients (median of the rounds)")
    for case in cases:
        print(f"  {case.label:<20} {statistics.median(case.throughput):7.0f} calls/s   "
              f"server CPU {statistics.median(case.cpu_per_call):.2f} ms/call")
    bare = cases[0]
    print("\nvs the bare server (targets)")
    for case in cases[1:]:
        ratio = statistics.median(case.throughput) / statistics.median(bare.throughput)
        extra = statistics.median(case.latencies) - statistics.median(bare.latencies)
        extra_p95 = percentile(case.latencies, 95) - percentile(bare.latencies, 95)
        cpu = statistics.median(case.cpu_per_call) / statistics.median(bare.cpu_per_call)
        print(f"  {case.label:<20} throughput {ratio:.2f}x (target >= {THROUGHPUT_TARGET[case.label]})   "
              f"p50 {extra:+.2f} ms (p95 {extra_p95:+.2f} ms)" +
              (f" (target <= +{P50_TARGET_MS})" if case.tool == "health_check" else "") +
              f"   server CPU per call {cpu:.2f}x")


async def run(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as data:
        env = {**os.environ, "TOMO_DATA_DIR": data, "FASTMCP_LOG_ENABLED": "false",
               "FASTMCP_CHECK_FOR_UPDATES": "off"}
        token = prepare_data_dir(env)
        tomo_port, bare_port = free_port(), free_port()
        tomo_argv = [tomo_command("tomo"), "serve", "--transport", "http", "--host", HOST, "--port", str(tomo_port)]
        tomo_log, bare_log = Path(data) / "tomo.log", Path(data) / "bare.log"
        with server(tomo_argv, env, tomo_log) as tomo, \
                server([sys.executable, "-c", BARE, str(bare_port)], env, bare_log) as bare:
            await wait_ready(tomo_port, token, tomo, tomo_log)
            await wait_ready(bare_port, None, bare, bare_log)
            await register_servers(tomo_port, token)
            cases = [Case("bare health_check", bare_port, bare.pid, "health_check", None),
                     Case("tomo health_check", tomo_port, tomo.pid, "health_check", token),
                     Case("tomo list_servers", tomo_port, tomo.pid, "list_servers", token)]
            await measure(cases, args)
    report(cases, args.clients)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--calls", type=int, default=200, help="sequential calls per case and round")
    parser.add_argument("--concurrent-calls", type=int, default=600, help="calls per case and round, all clients")
    parser.add_argument("--clients", type=int, default=10)
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
