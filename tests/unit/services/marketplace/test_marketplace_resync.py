"""Re-syncing a repository: exact change reports, apps in use kept as deprecated, broken manifests kept."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from tests.unit.services.marketplace.test_marketplace_kit import (
    add_and_sync,
    commit_all,
    marketplace,
    ready,
    sync,
    write_tomo_app,
)

from tomo.database.types import utcnow
from tomo.errors import ConflictError
from tomo.main import TomoApp


@pytest.fixture
async def app(tomo_app: TomoApp) -> TomoApp:
    return await ready(tomo_app)


@pytest.fixture
def catalog(tmp_path: Path) -> Path:
    """A Tomo-format catalog of three apps in a local git repository."""
    root = tmp_path / "catalog"
    for app_id in ("alpha", "beta", "gamma"):
        write_tomo_app(root, app_id, tags=["demo"])
    commit_all(root, "three apps")
    return root


def counts(result: dict[str, object]) -> dict[str, int]:
    value = result["counts"]
    assert isinstance(value, dict)
    return {name: count for name, count in value.items() if count}


async def test_resync_reports_exactly_the_upstream_changes(app: TomoApp, catalog: Path) -> None:
    repo_id, _ = await add_and_sync(app, "demo", catalog)
    write_tomo_app(catalog, "alpha", "Alpha Two", tagline="edited upstream")
    shutil.rmtree(catalog / "apps" / "beta")
    write_tomo_app(catalog, "delta")
    commit_all(catalog, "edit alpha, delete beta, add delta")
    result = (await sync(app, repo_id)).result or {}
    assert (result["added"], result["updated"], result["removed"]) == (["demo/delta"], ["demo/alpha"], ["demo/beta"])
    assert counts(result) == {"added": 1, "updated": 1, "removed": 1, "unchanged": 1}
    assert (await marketplace(app).get_app("demo/alpha")).tagline == "edited upstream"


async def test_resync_without_upstream_changes_changes_nothing(app: TomoApp, catalog: Path) -> None:
    repo_id, _ = await add_and_sync(app, "demo", catalog)
    result = (await sync(app, repo_id)).result or {}
    assert counts(result) == {"unchanged": 3}


async def test_app_removed_upstream_but_in_use_is_kept_as_deprecated(app: TomoApp, catalog: Path) -> None:
    service = marketplace(app)
    checked: list[int] = []

    async def installations() -> set[str]:
        checked.append(1)
        return {"demo/beta", "elsewhere/other"}

    service.register_in_use_check(installations)
    repo_id, _ = await add_and_sync(app, "demo", catalog)
    for app_id in ("beta", "gamma"):
        shutil.rmtree(catalog / "apps" / app_id)
    commit_all(catalog, "drop beta and gamma")
    result = (await sync(app, repo_id)).result or {}
    assert (result["removed"], result["deprecated"]) == (["demo/gamma"], ["demo/beta"])
    assert checked
    kept = await service.get_app("demo/beta")
    assert kept.deprecated is True
    summary = (await service.search("beta", None, None, None, None, 5, 0))[0][0]
    assert (summary.id, summary.deprecated) == ("demo/beta", True)
    again = (await sync(app, repo_id)).result or {}
    assert counts(again) == {"unchanged": 1}


async def test_deprecated_app_returning_upstream_is_restored(app: TomoApp, catalog: Path) -> None:
    async def installations() -> set[str]:
        return {"demo/beta"}

    marketplace(app).register_in_use_check(installations)
    repo_id, _ = await add_and_sync(app, "demo", catalog)
    shutil.rmtree(catalog / "apps" / "beta")
    commit_all(catalog, "drop beta")
    await sync(app, repo_id)
    write_tomo_app(catalog, "beta", tags=["demo"])
    commit_all(catalog, "beta is back")
    result = (await sync(app, repo_id)).result or {}
    assert result["updated"] == ["demo/beta"]
    assert (await marketplace(app).get_app("demo/beta")).deprecated is False


async def test_broken_manifest_keeps_the_last_good_version(app: TomoApp, catalog: Path) -> None:
    repo_id, _ = await add_and_sync(app, "demo", catalog)
    (catalog / "apps" / "alpha" / "compose.yaml").write_text("services: [unclosed\n")
    write_tomo_app(catalog, "delta")
    commit_all(catalog, "break alpha, add delta")
    result = (await sync(app, repo_id)).result or {}
    assert result["kept"] == ["demo/alpha"] and result["added"] == ["demo/delta"] and result["removed"] == []
    [skipped] = result["skipped"]
    assert skipped["path"] == "apps/alpha" and skipped["reason"].startswith("invalid YAML in apps/alpha/compose.yaml")
    assert (await marketplace(app).get_app("demo/alpha")).title == "Alpha"


async def test_ratings_survive_an_update_of_the_app(app: TomoApp, catalog: Path) -> None:
    repo_id, _ = await add_and_sync(app, "demo", catalog)
    repository = marketplace(app).repo
    await repository.rate("demo/alpha", "ann", 4, utcnow())
    write_tomo_app(catalog, "alpha", "Alpha", tagline="new tagline")
    commit_all(catalog, "edit alpha")
    await sync(app, repo_id)
    row = await repository.get_app("demo/alpha")
    assert row is not None and (row["avg_rating"], row["rating_count"], row["tagline"]) == (4.0, 1, "new tagline")


async def test_second_sync_of_the_same_repository_is_refused_while_one_runs(app: TomoApp, catalog: Path) -> None:
    repo = await marketplace(app).add_repo("demo", str(catalog), "main", "auto")
    first, _ = await marketplace(app).sync_repo(repo.id)
    with pytest.raises(ConflictError, match="already working on marketplace_repo"):
        await marketplace(app).sync_repo(repo.id)
    await app.services["job_service"].wait(first, 60)
