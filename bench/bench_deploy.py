"""Deploy overhead: install_app wall time vs uploading the same files and `docker compose up --wait` by hand.

    scripts/testbed.sh up            # as root, once
    .venv/bin/python bench/bench_deploy.py [--runs 7] [--app webby]

Each round installs the test catalog's app through the MCP tool (in-memory client, wait_seconds so the
call returns when the job ends), reads back the compose.yaml and .env Tomo uploaded, removes the app,
then does by hand what a script would do over one SSH connection: SFTP the same two files into a fresh
folder and run `docker compose up --detach --wait`. Overhead = median install_app / median by hand;
target <= 1.3. Everything created is removed.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("FASTMCP_LOG_ENABLED", "false")
os.environ.setdefault("FASTMCP_CHECK_FOR_UPDATES", "off")

from bench._stats import print_table, row  # noqa: E402
from fastmcp import Client  # noqa: E402
from tests.appkit import Sandbox, free_port, make_catalog_repo, setup_tomo  # noqa: E402
from tests.conftest import ToolCaller  # noqa: E402
from tests.testbed import load_testbed  # noqa: E402

from tomo.lib.config import TomoConfig  # noqa: E402
from tomo.lib.docker import commands  # noqa: E402
from tomo.lib.logging_config import configure_logging  # noqa: E402
from tomo.lib.ssh import SSHPool, SSHTarget  # noqa: E402
from tomo.main import build_app  # noqa: E402

TARGET = 1.3


async def tomo_round(
    call: ToolCaller, server_id: str, app: str, name: str, port: int
) -> tuple[float, str, str, str]:
    started = time.perf_counter()
    answer = await call("install_app", server_id=server_id, app_id=f"testapps/{app}",
                        config={"name": name, "ports": {"main": port}}, wait_seconds=300)
    elapsed = time.perf_counter() - started
    assert answer.envelope["success"], answer.envelope
    installation = answer.data["installation"]
    folder = Path(installation["project_dir"])
    compose, env = (folder / "compose.yaml").read_text(), (folder / ".env").read_text()
    removed = await call("uninstall_app", installation_id=installation["id"], remove_data=True, confirm=True,
                         wait_seconds=120)
    assert removed.envelope["success"], removed.envelope
    return elapsed, compose, env, str(folder)


async def manual_round(
    pool: SSHPool, target: SSHTarget, root: str, name: str, files: tuple[str, str, str]
) -> float:
    """The same files, moved to a fresh folder (the .env's paths follow), uploaded and started by hand."""
    folder = f"{root}/{name}"
    compose, env = files[0], files[1].replace(files[2], folder)
    started = time.perf_counter()
    await pool.makedirs(target, f"{folder}/data")
    await asyncio.gather(pool.put_file(target, f"{folder}/compose.yaml", compose.encode(), mode=0o644),
                         pool.put_file(target, f"{folder}/.env", env.encode(), mode=0o600))
    argv = commands.compose(name, folder, "up", "--detach", "--wait")
    await pool.run(target, argv, timeout=300, check=True)
    elapsed = time.perf_counter() - started
    await pool.run(target, commands.compose_down(name, folder, remove_volumes=True), timeout=120, check=True)
    await pool.run(target, ["rm", "-rf", "--", folder], timeout=60)
    return elapsed


async def main(runs: int, app: str) -> float:
    testbed = load_testbed()
    sandbox = Sandbox(testbed)
    target = SSHTarget("bench", testbed.host, testbed.port, testbed.user, private_key=testbed.key.read_text())
    pool = SSHPool()
    tomo_times: list[float] = []
    manual_times: list[float] = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            tomo_app = build_app(TomoConfig(data_dir=Path(tmp) / "data"))
            async with Client(tomo_app.mcp) as client:
                call = ToolCaller(client)
                server_id = await setup_tomo(call, testbed, sandbox, make_catalog_repo(Path(tmp) / "catalog"))
                await pool.run(target, ["true"])
                for index in range(runs + 1):  # the first round warms both paths up and is not counted
                    port = free_port(testbed.host)
                    seconds, *files = await tomo_round(call, server_id, app, sandbox.name(f"t{index}"), port)
                    by_hand = await manual_round(pool, target, str(sandbox.apps_root), sandbox.name(f"m{index}"),
                                                 (files[0], files[1], files[2]))
                    if index:
                        tomo_times.append(seconds * 1000)
                        manual_times.append(by_hand * 1000)
    finally:
        await pool.close_all()
        sandbox.cleanup()
    ratio = statistics.median(tomo_times) / statistics.median(manual_times)
    print_table(f"Deploying '{app}' ({runs} rounds)", [
        row("install_app (MCP tool, whole job)", tomo_times),
        row("by hand: SFTP 2 files + compose up --wait", manual_times),
    ])  # fmt: skip
    verdict = "OK" if ratio <= TARGET else "ABOVE TARGET"
    print(f"\ndeploy overhead = {ratio:.2f}x (target <= {TARGET}) {verdict}")
    return ratio


def _parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--app", default="webby", help="app of tests/fixtures/catalog-apps to deploy")
    return parser.parse_args()


if __name__ == "__main__":
    arguments = _parse()
    configure_logging("WARNING")
    asyncio.run(main(arguments.runs, arguments.app))
