"""Marketplace repositories through the MCP tools: add, list, toggle, remove, sync as a job, roles."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.conftest import ToolCaller
from tests.unit.services.marketplace.test_marketplace_kit import act_as, commit_all, write_tomo_app

from tomo.main import TomoApp
from tomo.models.principal import Role


@pytest.fixture
def catalog(tmp_path: Path) -> Path:
    """A Tomo-format catalog of two apps in a local git repository."""
    root = tmp_path / "catalog"
    write_tomo_app(root, "alpha", "Alpha Notes", tags=["notes"])
    write_tomo_app(root, "beta", "Beta Board", category="productivity")
    commit_all(root, "two apps")
    return root


async def test_fresh_install_lists_the_builtin_catalog(call: ToolCaller) -> None:
    answer = await call("list_repos")
    [builtin] = answer.data["repos"]
    state = (builtin["name"], builtin["builtin"], builtin["format"], builtin["status"])
    assert state == ("builtin", True, "tomo", "ok")
    assert builtin["app_count"] >= 15


async def test_add_repo_registers_without_fetching(call: ToolCaller, catalog: Path) -> None:
    answer = await call("add_repo", name="Mine", url=str(catalog))
    repo = answer.data["repo"]
    assert (repo["name"], repo["branch"], repo["format"], repo["status"], repo["app_count"]) == (
        "mine", "main", "auto", "new", 0)
    assert f"sync_repo(repo_id='{repo['id']}')" in answer.envelope["message"]


async def test_add_repo_masks_credentials_in_the_url(call: ToolCaller) -> None:
    answer = await call("add_repo", name="private", url="https://bob:tok3n@git.example.com/apps.git")
    assert answer.data["repo"]["url"] == "https://***@git.example.com/apps.git"
    listed = {repo["name"]: repo for repo in (await call("list_repos")).data["repos"]}
    assert "tok3n" not in listed["private"]["url"]


@pytest.mark.parametrize(("arguments", "fragment"), [
    ({"name": "bad name!", "url": "https://example.com/a.git"}, "is not allowed"),
    ({"name": "builtin", "url": "https://example.com/a.git"}, "not 'builtin'"),
    ({"name": "evil", "url": "-oProxyCommand=touch /tmp/x"}, "must not start with '-'"),
    ({"name": "evil", "url": "https://example.com/a.git", "branch": "--upload-pack=touch /tmp/x"},
     "not a valid branch name"),
    ({"name": "evil", "url": "ext::sh -c touch% /tmp/x"}, "Transport helpers"),
])
async def test_add_repo_refuses_invalid_input(call: ToolCaller, arguments: dict[str, str], fragment: str) -> None:
    answer = await call("add_repo", **arguments)
    assert answer.is_error and answer.error == "VALIDATION_ERROR"
    assert fragment in answer.envelope["message"]
    assert len((await call("list_repos")).data["repos"]) == 1


async def test_add_repo_refuses_a_duplicate_name_or_url(call: ToolCaller, catalog: Path) -> None:
    await call("add_repo", name="mine", url=str(catalog))
    assert (await call("add_repo", name="mine", url="https://example.com/a.git")).error == "ALREADY_EXISTS"
    assert (await call("add_repo", name="other", url=str(catalog))).error == "ALREADY_EXISTS"


async def test_sync_repo_runs_as_a_job_and_reports_added_apps(call: ToolCaller, catalog: Path) -> None:
    repo_id = (await call("add_repo", name="mine", url=str(catalog))).data["repo"]["id"]
    answer = await call("sync_repo", repo_id=repo_id, wait_seconds=60)
    assert answer.data["status"] == "succeeded"
    assert sorted(answer.data["added"]) == ["mine/alpha", "mine/beta"]
    assert answer.data["counts"] == {"added": 2, "updated": 0, "removed": 0, "deprecated": 0, "kept": 0,
                                     "skipped": 0, "unchanged": 0}
    assert [step["name"] for step in answer.data["job"]["steps"]] == ["fetch", "import", "store"]
    listed = {repo["name"]: repo for repo in (await call("list_repos")).data["repos"]}
    assert (listed["mine"]["status"], listed["mine"]["app_count"], listed["mine"]["format"]) == ("ok", 2, "tomo")
    assert listed["mine"]["commit"] == answer.data["commit"]


async def test_sync_of_a_missing_branch_fails_and_records_the_error(call: ToolCaller, catalog: Path) -> None:
    repo_id = (await call("add_repo", name="mine", url=str(catalog), branch="release")).data["repo"]["id"]
    answer = await call("sync_repo", repo_id=repo_id, wait_seconds=60)
    assert answer.is_error and answer.error == "SYNC_FAILED"
    listed = {repo["name"]: repo for repo in (await call("list_repos")).data["repos"]}
    assert listed["mine"]["status"] == "error"
    assert "release" in listed["mine"]["last_error"]


async def test_toggle_repo_hides_and_shows_its_apps(call: ToolCaller, catalog: Path) -> None:
    repo_id = (await call("add_repo", name="mine", url=str(catalog))).data["repo"]["id"]
    await call("sync_repo", repo_id=repo_id, wait_seconds=60)
    assert (await call("toggle_repo", repo_id="mine", enabled=False)).data["repo"]["enabled"] is False
    assert (await call("search_marketplace", query="alpha notes")).data["total"] == 0
    assert (await call("search_marketplace", repo_id="mine")).data["total"] == 0
    await call("toggle_repo", repo_id=repo_id, enabled=True)
    assert (await call("search_marketplace", query="alpha notes")).data["apps"][0]["id"] == "mine/alpha"


async def test_disabling_the_builtin_catalog_hides_it_everywhere(call: ToolCaller) -> None:
    await call("toggle_repo", repo_id="builtin", enabled=False)
    assert (await call("search_marketplace")).data["total"] == 0
    assert (await call("get_featured_apps")).data["apps"] == []
    assert all(entry["count"] == 0 for entry in (await call("get_marketplace_categories")).data["categories"])


async def test_remove_repo_needs_confirmation(call: ToolCaller, catalog: Path) -> None:
    repo_id = (await call("add_repo", name="mine", url=str(catalog))).data["repo"]["id"]
    assert (await call("remove_repo", repo_id=repo_id)).error == "CONFIRMATION_REQUIRED"
    assert len((await call("list_repos")).data["repos"]) == 2


async def test_remove_repo_deletes_its_apps_and_checkout(
    call: ToolCaller, catalog: Path, tomo_app: TomoApp
) -> None:
    repo_id = (await call("add_repo", name="mine", url=str(catalog))).data["repo"]["id"]
    await call("sync_repo", repo_id=repo_id, wait_seconds=60)
    await call("rate_marketplace_app", app_id="mine/alpha", rating=5)
    checkout = tomo_app.config.data_dir / "catalogs" / repo_id
    assert checkout.is_dir()
    answer = await call("remove_repo", repo_id=repo_id, confirm=True)
    assert answer.envelope["success"], answer.envelope
    assert not checkout.exists()
    assert (await call("get_marketplace_app", app_id="mine/alpha")).error == "APP_NOT_FOUND"
    assert [repo["name"] for repo in (await call("list_repos")).data["repos"]] == ["builtin"]


async def test_builtin_catalog_cannot_be_removed(call: ToolCaller) -> None:
    answer = await call("remove_repo", repo_id="builtin", confirm=True)
    assert answer.error == "VALIDATION_ERROR"
    assert "cannot be removed" in answer.envelope["message"] and "toggle_repo" in answer.envelope["message"]


async def test_unknown_repo_is_reported_with_a_hint(call: ToolCaller) -> None:
    answer = await call("sync_repo", repo_id="nope")
    assert answer.error == "REPO_NOT_FOUND" and "list_repos" in answer.envelope["message"]


async def test_viewers_browse_but_cannot_manage_repositories(call: ToolCaller, tomo_app: TomoApp) -> None:
    act_as(tomo_app, "vera", Role.VIEWER)
    assert (await call("list_repos")).envelope["success"]
    assert (await call("search_marketplace", query="jellyfin")).data["total"] >= 1
    assert (await call("rate_marketplace_app", app_id="builtin/jellyfin", rating=4)).envelope["success"]
    for tool, arguments in [("add_repo", {"name": "x", "url": "https://example.com/x.git"}),
                            ("sync_repo", {"repo_id": "builtin"}),
                            ("toggle_repo", {"repo_id": "builtin", "enabled": False}),
                            ("remove_repo", {"repo_id": "builtin", "confirm": True})]:
        assert (await call(tool, **arguments)).error == "PERMISSION_DENIED", tool
