"""Pooled SSH command latency vs a fresh connection per command, against the testbed.

    scripts/testbed.sh up            # as root, once
    .venv/bin/python bench/bench_ssh.py [--runs 200] [--fresh-runs 20]

Rows: SSHPool running `true` over its one pooled connection (sequential, then 8 at a time), a fresh
OpenSSH `ssh` process per command (the usual shell-script way), and a fresh asyncssh connection per
command. Targets: pooled p50 <= 10 ms and >= 15x faster than a fresh `ssh` process.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.testbed import Testbed, load_testbed  # noqa: E402

from tomo.lib.logging_config import configure_logging  # noqa: E402
from tomo.lib.ssh import SSHPool, SSHTarget  # noqa: E402

P50_TARGET_MS = 10.0
SPEEDUP_TARGET = 15.0


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


async def timed(runs: int, call: Callable[[], Awaitable[object]]) -> list[float]:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        await call()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def target_for(testbed: Testbed) -> SSHTarget:
    return SSHTarget("bench", testbed.host, testbed.port, testbed.user, private_key=testbed.key.read_text())


async def pooled(testbed: Testbed, runs: int) -> list[float]:
    pool = SSHPool()
    target = target_for(testbed)
    try:
        await timed(5, lambda: pool.run(target, ["true"], check=True))  # connect and warm up
        return await timed(runs, lambda: pool.run(target, ["true"], check=True))
    finally:
        await pool.close_all()


async def pooled_concurrent(testbed: Testbed, runs: int) -> tuple[float, int]:
    """Wall time of ``runs`` commands issued at once (8 channels in flight): per-command ms, connections."""
    pool = SSHPool()
    target = target_for(testbed)
    try:
        await pool.run(target, ["true"], check=True)
        started = time.perf_counter()
        await asyncio.gather(*(pool.run(target, ["true"], check=True) for _ in range(runs)))
        return (time.perf_counter() - started) * 1000 / runs, pool.stats()["connects_total"]
    finally:
        await pool.close_all()


async def fresh_openssh(testbed: Testbed, runs: int) -> list[float]:
    argv = [
        "ssh", "-F", "/dev/null", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
        "-o", "BatchMode=yes", "-o", "LogLevel=ERROR", "-i", str(testbed.key), "-p", str(testbed.port),
        f"{testbed.user}@{testbed.host}", "true",
    ]  # fmt: skip

    async def once() -> None:
        process = await asyncio.create_subprocess_exec(*argv, stdin=asyncio.subprocess.DEVNULL)
        if await process.wait() != 0:
            raise RuntimeError(f"ssh exited {process.returncode}")

    return await timed(runs, once)


async def fresh_asyncssh(testbed: Testbed, runs: int) -> list[float]:
    target = target_for(testbed)

    async def once() -> None:
        pool = SSHPool()
        try:
            await pool.run(target, ["true"], check=True)
        finally:
            await pool.close_all()

    return await timed(runs, once)


def row(name: str, samples: list[float]) -> str:
    return (
        f"{name:<42} {len(samples):>5} {percentile(samples, 0.5):>9.2f} {percentile(samples, 0.95):>9.2f}"
        f" {statistics.fmean(samples):>9.2f}"
    )


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--fresh-runs", type=int, default=20)
    args = parser.parse_args()
    configure_logging("WARNING")
    testbed = load_testbed()
    pool_ms = await pooled(testbed, args.runs)
    concurrent_ms, connections = await pooled_concurrent(testbed, args.runs)
    ssh_ms = await fresh_openssh(testbed, args.fresh_runs)
    asyncssh_ms = await fresh_asyncssh(testbed, args.fresh_runs)
    print(f"`true` on {testbed.user}@{testbed.host}:{testbed.port} (ed25519 key), times in ms")
    print(f"{'mode':<42} {'runs':>5} {'p50':>9} {'p95':>9} {'mean':>9}")
    print(row("SSHPool, pooled connection, sequential", pool_ms))
    print(f"{'SSHPool, pooled, all at once (per command)':<42} {args.runs:>5} {concurrent_ms:>9.2f}"
          f"   ({connections} connection)")  # fmt: skip
    print(row("fresh OpenSSH `ssh` process per command", ssh_ms))
    print(row("fresh asyncssh connection per command", asyncssh_ms))
    p50, speedup = percentile(pool_ms, 0.5), percentile(ssh_ms, 0.5) / percentile(pool_ms, 0.5)
    print(f"speed-up, pooled vs fresh ssh (p50): {speedup:.1f}x")
    ok = p50 <= P50_TARGET_MS and speedup >= SPEEDUP_TARGET
    print(f"targets: pooled p50 <= {P50_TARGET_MS:g} ms, >= {SPEEDUP_TARGET:g}x: {'met' if ok else 'NOT met'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
