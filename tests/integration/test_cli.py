"""The terminal journey through the real `tomo` command on the testbed: add a server, test it, install an app
with a progress bar, list it, uninstall it; in-process, and with --remote against `tomo serve --transport http`.

Runs against ``scripts/testbed.sh up``; skips when it is not running (fails when ``TOMO_TESTBED=required``).
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from tests.appkit import REPO_NAME, Sandbox, free_port, http_get, make_catalog_repo, wait_until
from tests.httpkit import TOMO, create_admin, create_token, server_env, start_http, stop
from tests.testbed import Testbed

pytestmark = pytest.mark.testbed

Tomo = Callable[..., subprocess.CompletedProcess[str]]


def runner(env: dict[str, str]) -> Tomo:
    def tomo(*args: str, stdin: str | None = None, status: int | None = 0) -> subprocess.CompletedProcess[str]:
        done = subprocess.run([TOMO, *args], input=stdin, capture_output=True, text=True, env=env, timeout=300)
        assert status is None or done.returncode == status, (args, done.stdout, done.stderr)
        return done

    return tomo


def prepare(tomo: Tomo, testbed: Testbed, sandbox: Sandbox, catalog: Path) -> str:
    """Through `tomo`: the sandbox as apps folder, the testbed server added and tested, the test catalog synced."""
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
    return name


def journey(tomo: Tomo, testbed: Testbed, sandbox: Sandbox, catalog: Path) -> None:
    name = prepare(tomo, testbed, sandbox, catalog)
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


@pytest.fixture
def served(tmp_path: Path) -> Iterator[dict[str, str]]:
    """A running `tomo serve --transport http` and the environment of a terminal that reaches it."""
    env = server_env(tmp_path / "data")
    create_admin(env, "alice", "correct-horse-battery")
    token = create_token(env, "alice", "terminal")
    proc, base = start_http(env, subprocess.DEVNULL)
    try:
        yield {**env, "TOMO_URL": base, "TOMO_TOKEN": token, "TOMO_LOG_LEVEL": "WARNING", "FORCE_COLOR": "1",
               "COLUMNS": "120", "TOMO_DATA_DIR": str(tmp_path / "elsewhere")}  # nothing is read locally
    finally:
        stop(proc)
    assert not (tmp_path / "elsewhere").exists()


def test_the_terminal_journey_against_tomo_serve_over_http(testbed: Testbed, sandbox: Sandbox, tmp_path: Path,
                                                           served: dict[str, str]) -> None:
    tomo = runner(served)
    assert "via API token" in tomo("call", "get_current_user").stdout
    journey(tomo, testbed, sandbox, make_catalog_repo(tmp_path / "catalog"))


def test_ctrl_c_leaves_a_remote_job_running_and_says_how_to_follow_it(
    testbed: Testbed, sandbox: Sandbox, tmp_path: Path, served: dict[str, str]
) -> None:
    tomo = runner(served)
    name = prepare(tomo, testbed, sandbox, make_catalog_repo(tmp_path / "catalog"))
    config = json.dumps({"name": sandbox.name("slow"), "ports": {"main": free_port(testbed.host)}})
    proc = subprocess.Popen([TOMO, "apps", "install", "testapps/slowpoke", "--server", name, "--config", config,
                             "--wait", "300"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=served,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    wait_until(lambda: running_jobs(tomo) != [], seconds=60)
    time.sleep(1)  # a progress notification has reached the command
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 130
    said = " ".join(re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", stderr).split())  # without Rich's colours
    assert "Interrupted. The job keeps running on the server" in said
    [job] = running_jobs(tomo)
    assert job["kind"] == "install_app"
    tomo("jobs", "cancel", str(job["id"]))
    wait_until(lambda: job_status(tomo, str(job["id"])) not in ("pending", "running"), seconds=120)
    assert job_status(tomo, str(job["id"])) == "cancelled"


def test_ctrl_c_stops_a_job_run_in_process_and_records_it_interrupted(
    testbed: Testbed, sandbox: Sandbox, tmp_path: Path
) -> None:
    env = server_env(tmp_path / "data", TOMO_LOG_LEVEL="WARNING", FORCE_COLOR="1", COLUMNS="120")
    tomo = runner(env)
    name = prepare(tomo, testbed, sandbox, make_catalog_repo(tmp_path / "catalog"))
    config = json.dumps({"name": sandbox.name("slow"), "ports": {"main": free_port(testbed.host)}})
    proc = subprocess.Popen([TOMO, "apps", "install", "testapps/slowpoke", "--server", name, "--config", config,
                             "--wait", "300"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    wait_until(lambda: bool(sandbox.containers(sandbox.name("slow"))), seconds=60)  # inside compose up
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130
    said = " ".join(re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", stderr).split())
    assert "Interrupted. The job ran in this command and stopped with it (recorded as interrupted)" in said
    jobs = json.loads(tomo("jobs", "list", "--json").stdout)["data"]["jobs"]
    assert [(job["kind"], job["status"]) for job in jobs][0] == ("install_app", "interrupted")


def job_status(tomo: Tomo, job_id: str) -> str:
    return str(json.loads(tomo("jobs", "show", job_id, "--json").stdout)["data"]["status"])


def running_jobs(tomo: Tomo) -> list[dict[str, object]]:
    jobs: list[dict[str, object]] = json.loads(tomo("jobs", "list", "--status", "running", "--json").stdout)[
        "data"]["jobs"]
    return jobs
