"""remove_repo refuses while installations use its apps or a sync runs; force keeps the apps in use, deprecated."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import ToolCaller
from tests.unit.services.marketplace.test_marketplace_kit import commit_all, write_tomo_app

from tomo.main import TomoApp
from tomo.services.jobs.jobs import JobContext, JobService
from tomo.services.marketplace.sync import SYNC_RESOURCE


@pytest.fixture
def catalog(tmp_path: Path) -> Path:
    root = tmp_path / "catalog"
    write_tomo_app(root, "alpha", "Alpha Notes")
    write_tomo_app(root, "beta", "Beta Board")
    commit_all(root, "two apps")
    return root


@pytest.fixture
def installed(tomo_app: TomoApp) -> set[str]:
    """App ids that 'installations' use: the set the marketplace asks, as the app service answers it."""
    used: set[str] = set()

    async def in_use() -> set[str]:
        return set(used)

    tomo_app.services["marketplace_service"].register_in_use_check(in_use)
    return used


async def synced_repo(call: ToolCaller, catalog: Path) -> str:
    repo_id = str((await call("add_repo", name="mine", url=str(catalog))).data["repo"]["id"])
    assert (await call("sync_repo", repo_id=repo_id, wait_seconds=60)).data["status"] == "succeeded"
    return repo_id


async def test_remove_repo_refuses_while_installations_use_its_apps(
    call: ToolCaller, catalog: Path, installed: set[str]
) -> None:
    repo_id = await synced_repo(call, catalog)
    installed.add("mine/alpha")
    refused = await call("remove_repo", repo_id=repo_id, confirm=True)
    assert refused.error == "CONFLICT" and "mine/alpha" in refused.envelope["message"]
    assert "force=true" in refused.envelope["message"] and refused.data["apps_in_use"] == ["mine/alpha"]
    assert (await call("get_marketplace_app", app_id="mine/beta")).envelope["success"]


async def test_forced_removal_keeps_the_apps_in_use_deprecated(
    call: ToolCaller, catalog: Path, installed: set[str], tomo_app: TomoApp
) -> None:
    repo_id = await synced_repo(call, catalog)
    installed.add("mine/alpha")
    answer = await call("remove_repo", repo_id=repo_id, confirm=True, force=True)
    assert answer.envelope["success"] and answer.data["kept"] == ["mine/alpha"], answer.envelope
    kept = await call("get_marketplace_app", app_id="mine/alpha")  # what update_app reads
    assert kept.envelope["success"] and kept.data["app"]["deprecated"] is True
    assert (await call("get_marketplace_app", app_id="mine/beta")).error == "APP_NOT_FOUND"
    repo = next(r for r in (await call("list_repos")).data["repos"] if r["name"] == "mine")
    assert (repo["status"], repo["enabled"], repo["app_count"]) == ("removed", False, 1)
    assert (await call("search_marketplace", query="alpha")).data["total"] == 0
    assert not (tomo_app.config.data_dir / "catalogs" / repo_id).exists()
    installed.clear()  # uninstalled: now it goes for good
    assert (await call("remove_repo", repo_id=repo_id, confirm=True)).data["kept"] == []
    assert (await call("get_marketplace_app", app_id="mine/alpha")).error == "APP_NOT_FOUND"
    assert [r["name"] for r in (await call("list_repos")).data["repos"]] == ["builtin"]


async def _sync_running(tomo_app: TomoApp, repo_id: str) -> str:
    """A job holding the repository's sync resource, as a sync in any instance does."""
    jobs: JobService = tomo_app.services["job_service"]

    async def syncing(ctx: JobContext) -> dict[str, Any]:
        await asyncio.sleep(30)
        return {}

    return await jobs.start("marketplace_sync", "Sync repository mine", syncing, resource=f"{SYNC_RESOURCE}{repo_id}")


async def test_remove_repo_refuses_while_a_sync_runs(call: ToolCaller, catalog: Path, tomo_app: TomoApp) -> None:
    repo_id = await synced_repo(call, catalog)
    job_id = await _sync_running(tomo_app, repo_id)
    refused = await call("remove_repo", repo_id=repo_id, confirm=True)
    assert refused.error == "CONFLICT" and job_id in refused.envelope["message"]
    assert (await call("get_job", job_id=job_id)).data["status"] == "running"
    assert (await call("get_marketplace_app", app_id="mine/alpha")).envelope["success"]


async def test_forced_removal_cancels_the_running_sync(call: ToolCaller, catalog: Path, tomo_app: TomoApp) -> None:
    repo_id = await synced_repo(call, catalog)
    job_id = await _sync_running(tomo_app, repo_id)
    assert (await call("remove_repo", repo_id=repo_id, confirm=True, force=True)).envelope["success"]
    assert (await call("get_job", job_id=job_id)).data["status"] == "cancelled"
    assert [r["name"] for r in (await call("list_repos")).data["repos"]] == ["builtin"]
