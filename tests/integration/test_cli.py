"""The terminal journey through the real `tomo` command on the testbed: add a server, test it, install an app
with a progress bar, list it, uninstall it; in-process, and with --remote against `tomo serve --transport http`.

Runs against ``scripts/testbed.sh up``; skips when it is not running (fails when ``TOMO_TESTBED=required``).
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from tests.appkit import REPO_NAME, Sandbox, free_port, http_get, make_catalog_repo
from tests.httpkit import TOMO, create_admin, create_token, server_env, start_http, stop
from tests.testbed import Testbed, testbed_or_skip

pytestmark = pytest.mark.testbed

Tomo = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def testbed() -> Testbed:
    return testbed_or_skip()


@pytest.fixture
def sandbox(testbed: Testbed) -> Iterator[Sandbox]:
    box = Sandbox(testbed)
    yield box
    box.cleanup()


def runner(env: dict[str, str]) -> Tomo:
    def tomo(*args: str, stdin: str | None = None, status: int = 0) -> subprocess.CompletedProcess[str]:
        done = subprocess.run([TOMO, *args], input=stdin, capture_output=True, text=True, env=env, timeout=300)
        assert done.returncode == status, (args, done.stdout, done.stderr)
        return done

    return tomo


def journey(tomo: Tomo, testbed: Testbed, sandbox: Sandbox, catalog: Path) -> None:
    settings = json.dumps({"apps_root": str(sandbox.apps_root)})
    tomo("call", "update_settings", f"settings={settings}")
    name = f"{sandbox.prefix}-srv"
    added = tomo("servers", "add", name, testbed.host, "--port", str(testbed.port), "-u", testbed.user,
                 "--key-file", str(testbed.key), "--json")
    assert json.loads(added.stdout)["data"]["server"]["auth_type"] == "key"
    tested = tomo("servers", "test", name)
    assert tested.stdout.strip(), tested.stderr
    listed = tomo("servers", "list")
    assert name in listed.stdout and testbed.host in listed.stdout
    repo = json.loads(tomo("call", "add_repo", f"name={REPO_NAME}", f"url={catalog}", "--json").stdout)
    tomo("call", "sync_repo", f"repo_id={repo['data']['repo']['id']}", "wait_seconds=120")

    port = free_port(testbed.host)
    config = json.dumps({"name": sandbox.name("web"), "ports": {"main": port}})
    installed = tomo("apps", "install", "testapps/webby", "--server", name, "--config", config, "--wait", "180")
    assert "install_app:" in installed.stderr  # the progress bar named its steps
    status, body = http_get(testbed.host, port)
    assert status == 200 and "version 1" in body
    apps = json.loads(tomo("apps", "list", "--server", name, "--json").stdout)["data"]["installations"]
    assert [app["status"] for app in apps] == ["running"]
    tomo("apps", "uninstall", apps[0]["id"], status=1, stdin="n\n")  # asked, refused: nothing done
    tomo("apps", "uninstall", apps[0]["id"], "--yes", "--remove-data", "--wait", "120")
    assert json.loads(tomo("apps", "list", "--json").stdout)["data"]["installations"] == []
    sandbox.assert_nothing_left(sandbox.name("web"))
    tomo("servers", "remove", name, "--yes")


def test_the_terminal_journey_in_process(testbed: Testbed, sandbox: Sandbox, tmp_path: Path) -> None:
    env = server_env(tmp_path / "data", TOMO_LOG_LEVEL="WARNING", FORCE_COLOR="1", COLUMNS="120")
    journey(runner(env), testbed, sandbox, make_catalog_repo(tmp_path / "catalog"))


def test_the_terminal_journey_against_tomo_serve_over_http(testbed: Testbed, sandbox: Sandbox,
                                                           tmp_path: Path) -> None:
    env = server_env(tmp_path / "data")
    create_admin(env, "alice", "correct-horse-battery")
    token = create_token(env, "alice", "terminal")
    proc, base = start_http(env, subprocess.DEVNULL)
    try:
        remote = {**env, "TOMO_URL": base, "TOMO_TOKEN": token, "TOMO_LOG_LEVEL": "WARNING", "FORCE_COLOR": "1",
                  "COLUMNS": "120", "TOMO_DATA_DIR": str(tmp_path / "elsewhere")}  # nothing read locally
        tomo = runner(remote)
        assert "via API token" in tomo("call", "get_current_user").stdout
        journey(tomo, testbed, sandbox, make_catalog_repo(tmp_path / "catalog"))
    finally:
        stop(proc)
    assert not (tmp_path / "elsewhere").exists()
