"""Marketplace apps: details, short ids, ratings, categories, and the built-in catalog on a fresh install."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from tests.conftest import ToolCaller
from tests.unit.services.marketplace.test_marketplace_kit import act_as, commit_all, marketplace, ready, write_tomo_app

import tomo.lib.catalog
from tomo.lib import git as tomo_git
from tomo.lib.config import TomoConfig
from tomo.main import TomoApp, build_app
from tomo.models.marketplace import CatalogApp
from tomo.services.marketplace import sync as sync_service


async def test_app_detail_shows_services_ports_volumes_inputs_and_compose(call: ToolCaller) -> None:
    app = (await call("get_marketplace_app", app_id="builtin/immich")).data["app"]
    identity = (app["id"], app["app_id"], app["repo_name"], app["title"])
    assert identity == ("builtin/immich", "immich", "builtin", "Immich")
    assert [service["name"] for service in app["services"]] == list(app["compose"]["services"])
    assert len(app["services"]) == 4
    assert {"service", "container_port", "host_port", "is_main"} <= set(app["ports"][0])
    assert any(volume["target"] == "/var/lib/postgresql/data" for volume in app["volumes"])
    assert app["inputs"] and all("type" in item for item in app["inputs"])


async def test_generated_secrets_are_marked_and_carry_no_value(call: ToolCaller) -> None:
    app = (await call("get_marketplace_app", app_id="builtin/immich")).data["app"]
    secrets = [item for item in app["inputs"] if item["type"] == "secret"]
    assert secrets and all(item["generated"] is True and "default" not in item for item in secrets)
    assert all(item["generate"]["length"] >= 8 for item in secrets)
    assert all(item["generated"] is False for item in app["inputs"] if item["type"] != "secret")


async def test_bare_app_id_works_when_unambiguous(call: ToolCaller) -> None:
    assert (await call("get_marketplace_app", app_id="vaultwarden")).data["app"]["id"] == "builtin/vaultwarden"


async def test_ambiguous_bare_app_id_lists_the_candidates(call: ToolCaller, tmp_path: Path) -> None:
    root = tmp_path / "catalog"
    write_tomo_app(root, "vaultwarden", "Vaultwarden Fork")
    commit_all(root)
    repo_id = (await call("add_repo", name="forks", url=str(root))).data["repo"]["id"]
    await call("sync_repo", repo_id=repo_id, wait_seconds=60)
    answer = await call("get_marketplace_app", app_id="vaultwarden")
    assert answer.error == "VALIDATION_ERROR"
    assert answer.data["candidates"] == ["builtin/vaultwarden", "forks/vaultwarden"]


async def test_unknown_app_points_to_search(call: ToolCaller) -> None:
    answer = await call("get_marketplace_app", app_id="builtin/nope")
    assert answer.error == "APP_NOT_FOUND" and "search_marketplace" in answer.envelope["message"]


async def test_get_app_returns_the_full_catalog_app_for_other_features(tomo_app: TomoApp) -> None:
    await ready(tomo_app)
    app = await marketplace(tomo_app).get_app("builtin/nextcloud")
    assert isinstance(app, CatalogApp)
    assert app.compose["services"] and app.format == "tomo" and app.main_service in app.compose["services"]


async def test_rating_is_one_per_user_and_rerating_replaces_it(call: ToolCaller, tomo_app: TomoApp) -> None:
    act_as(tomo_app, "ann")
    assert (await call("rate_marketplace_app", app_id="builtin/jellyfin", rating=5)).data["rating_count"] == 1
    rerated = (await call("rate_marketplace_app", app_id="builtin/jellyfin", rating=3)).data
    assert (rerated["avg_rating"], rerated["rating_count"]) == (3.0, 1)
    act_as(tomo_app, "bob")
    second = (await call("rate_marketplace_app", app_id="jellyfin", rating=4)).data
    assert (second["avg_rating"], second["rating_count"]) == (3.5, 2)
    summary = (await call("search_marketplace", query="jellyfin")).data["apps"][0]
    assert (summary["avg_rating"], summary["rating_count"]) == (3.5, 2)


@pytest.mark.parametrize("rating", [0, 6, -1])
async def test_ratings_outside_one_to_five_are_refused(call: ToolCaller, rating: int) -> None:
    answer = await call("rate_marketplace_app", app_id="builtin/jellyfin", rating=rating)
    assert answer.is_error


async def test_categories_count_every_visible_app(call: ToolCaller) -> None:
    categories = (await call("get_marketplace_categories")).data["categories"]
    total = (await call("search_marketplace", limit=1)).data["total"]
    assert sum(entry["count"] for entry in categories) == total >= 15
    assert categories[-1]["category"] == "other"


async def test_featured_apps_are_featured_builtin_apps(call: ToolCaller) -> None:
    apps = (await call("get_featured_apps", limit=3)).data["apps"]
    assert len(apps) == 3 and all(app["featured"] for app in apps)
    assert "compose" not in apps[0]


async def test_builtin_catalog_is_browsable_offline_without_git(
    tomo_config: TomoConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def no_git(*_args: Any, **_kwargs: Any) -> str:
        raise AssertionError("the built-in catalog must not need git")

    monkeypatch.setattr(tomo_git, "run_git", no_git)
    app = await ready(build_app(tomo_config))
    apps, total = await marketplace(app).search("password", None, None, None, None, 20, 0)
    assert total >= 1 and apps[0].repo_name == "builtin"
    await app.database.dispose()


async def test_builtin_catalog_is_imported_on_first_use_not_at_start(tomo_config: TomoConfig) -> None:
    app = build_app(tomo_config)
    await app.startup()
    async with app.database.connect() as conn:
        count = (await conn.execute(sa.text("SELECT count(*) FROM marketplace_repos"))).scalar_one()
    assert count == 0
    assert [repo.name for repo in (await marketplace(app).list_repos(50, 0)).items] == ["builtin"]
    await app.shutdown()


async def test_builtin_catalog_is_reimported_only_when_its_content_changes(
    tomo_config: TomoConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    imports: list[Path] = []
    real_import = tomo.lib.catalog.import_catalog

    def counting_import(root: Path, *args: Any, **kwargs: Any) -> Any:
        imports.append(root)
        return real_import(root, *args, **kwargs)

    monkeypatch.setattr(tomo.lib.catalog, "import_catalog", counting_import)
    for _ in range(2):  # two processes in turn on the same data directory
        app = await ready(build_app(tomo_config))
        await marketplace(app).list_repos(50, 0)
        await marketplace(app).list_repos(50, 0)
        await app.database.dispose()
    assert len(imports) == 1
    monkeypatch.setattr(sync_service, "tree_hash", lambda root: "changed")
    app = await ready(build_app(tomo_config))
    [repo] = (await marketplace(app).list_repos(50, 0)).items
    assert len(imports) == 2 and repo.app_count >= 15
    await app.database.dispose()


async def test_builtin_catalog_can_be_resynced_as_a_job(call: ToolCaller) -> None:
    answer = await call("sync_repo", repo_id="builtin", wait_seconds=60)
    assert answer.data["status"] == "succeeded"
    assert answer.data["counts"]["unchanged"] >= 15 and answer.data["counts"]["added"] == 0
    assert answer.data["job"]["steps"][0]["status"] == "skipped"
