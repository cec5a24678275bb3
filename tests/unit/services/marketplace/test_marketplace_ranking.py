"""Word-search ranking on SQLite (FTS5): tiers by where the words are, filters, disabled repositories.

Small Tomo-format catalogs in local git repositories, so each test states exactly which app should win.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.unit.services.marketplace.test_marketplace_kit import (
    add_and_sync,
    commit_all,
    marketplace,
    ready,
    write_tomo_app,
)

from tomo.main import TomoApp


@pytest.fixture
async def app(tomo_app: TomoApp) -> TomoApp:
    return await ready(tomo_app)


async def ids(app: TomoApp, query: str, category: str | None = None, repo_key: str | None = None,
              ) -> tuple[list[str], int]:
    apps, total = await marketplace(app).search(query, category, None, repo_key, None, 50, 0)
    return [found.id for found in apps], total


async def test_words_in_the_title_outrank_the_same_word_repeated_in_a_description(
    app: TomoApp, tmp_path: Path
) -> None:
    root = tmp_path / "catalog"
    write_tomo_app(root, "stuffed", "Stuffed", tagline="Does many things", description=" ".join(["kettle"] * 60))
    write_tomo_app(root, "brewer", "Kettle Brewer", tagline="Tea", description="Boils water.")
    commit_all(root)
    await add_and_sync(app, "mine", root)
    assert await ids(app, "kettle") == (["mine/brewer", "mine/stuffed"], 2)


async def test_a_category_filter_keeps_the_ranking_tiers_and_the_total(app: TomoApp, tmp_path: Path) -> None:
    root = tmp_path / "catalog"
    write_tomo_app(root, "in-description", "Lantern", category="media", description="A lantern for a relay hub.")
    write_tomo_app(root, "in-tagline", "Beacon", category="media", tagline="Relay your films")
    write_tomo_app(root, "in-title", "Relay Box", category="media", description="Plays films.")
    write_tomo_app(root, "elsewhere", "Relay Node", category="networking")
    commit_all(root)
    await add_and_sync(app, "mine", root)
    expected = ["mine/in-title", "mine/in-tagline", "mine/in-description"]
    assert await ids(app, "relay", category="media") == (expected, 3)
    pages = [await marketplace(app).search("relay", "media", None, None, None, 1, offset) for offset in range(4)]
    assert [[found.id for found in page] for page, _ in pages] == [[app_id] for app_id in expected] + [[]]
    assert {total for _, total in pages} == {3}


async def test_word_search_leaves_out_disabled_repositories_and_their_totals(app: TomoApp, tmp_path: Path) -> None:
    for name in ("first", "second"):
        write_tomo_app(tmp_path / name, "kettle", "Kettle Brewer")
        commit_all(tmp_path / name)
        await add_and_sync(app, name, tmp_path / name)
    assert await ids(app, "kettle") == (["first/kettle", "second/kettle"], 2)
    await marketplace(app).toggle_repo("second", False)
    assert await ids(app, "kettle") == (["first/kettle"], 1)
    assert await ids(app, "kettle", repo_key="second") == ([], 0)
    assert await ids(app, "kettle", repo_key="first") == (["first/kettle"], 1)
