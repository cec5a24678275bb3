"""A sync cut short by a crash: at the next start its repository says the sync was interrupted."""

from __future__ import annotations

from pathlib import Path

from tests.unit.services.marketplace.test_marketplace_kit import commit_all, marketplace, ready, sync, write_tomo_app

from tomo.lib.config import TomoConfig
from tomo.main import build_app


async def test_a_repository_left_syncing_by_a_crash_is_interrupted_after_restart(
    tomo_config: TomoConfig, tmp_path: Path
) -> None:
    root = tmp_path / "catalog"
    write_tomo_app(root, "alpha")
    commit_all(root)
    crashed = await ready(build_app(tomo_config))
    service = marketplace(crashed)
    cut_short = await service.add_repo("cut-short", str(root), "main", "auto")
    untouched = await service.add_repo("untouched", str(root), "master", "auto")
    await service.repo.update_repo(cut_short.id, {"status": "syncing"})  # what the crash left behind
    await crashed.database.dispose()

    restarted = build_app(tomo_config)
    await restarted.startup()
    repos = {repo.name: repo for repo in (await marketplace(restarted).list_repos(50, 0)).items}
    assert repos["cut-short"].status == "interrupted"
    assert "did not finish" in (repos["cut-short"].last_error or "")
    assert "sync_repo" in (repos["cut-short"].last_error or "")
    assert (repos[untouched.name].status, repos[untouched.name].last_error) == ("new", None)
    job = await sync(restarted, cut_short.id)
    assert job.status.value == "succeeded", job.error
    again = {repo.name: repo for repo in (await marketplace(restarted).list_repos(50, 0)).items}["cut-short"]
    assert (again.status, again.last_error, again.app_count) == ("ok", None, 1)
    await restarted.shutdown()
