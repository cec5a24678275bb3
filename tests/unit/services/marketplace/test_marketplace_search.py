"""Marketplace search over the built-in catalog plus the real CasaOS and Runtipi stores (synced once).

Ranking, filters, paging totals, FTS-syntax safety, and the portable (non-FTS) path used on PostgreSQL.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from tests.unit.services.marketplace.test_marketplace_kit import (
    add_and_sync,
    copy_catalog,
    marketplace,
    ready,
    shared_catalogs_path,
)

from tomo.database.repositories import search
from tomo.database.repositories.marketplace import MarketplaceRepository
from tomo.errors import ValidationError
from tomo.lib.config import TomoConfig
from tomo.main import TomoApp, build_app
from tomo.models.marketplace import MarketplaceAppSummary, SearchFilters
from tomo.services.marketplace.marketplace import MarketplaceService

pytestmark = pytest.mark.asyncio(loop_scope="module")

MEDIA = {"media", "music", "books", "photos"}


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def app(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[TomoApp]:
    """One Tomo with the built-in catalog and both shared stores synced through git."""
    shared = shared_catalogs_path()
    root = tmp_path_factory.mktemp("marketplace-search")
    tomo = await ready(build_app(TomoConfig(data_dir=root / "data")))
    for store in ("casaos", "runtipi"):
        _, job = await add_and_sync(tomo, store, copy_catalog(shared / store, root / store))
        assert job.status.value == "succeeded", job.error
    yield tomo
    await tomo.database.dispose()


@pytest.fixture
def service(app: TomoApp) -> MarketplaceService:
    return marketplace(app)


async def find(
    service: MarketplaceService, query: str | None, *, category: str | None = None, tags: list[str] | None = None,
    repo_key: str | None = None, featured: bool | None = None,
) -> list[MarketplaceAppSummary]:
    apps, _ = await service.search(query, category, tags, repo_key, featured, 1000, 0)
    return apps


async def test_jellyfin_finds_jellyfin_first(service: MarketplaceService) -> None:
    apps = await find(service, "jellyfin")
    assert [app.app_id for app in apps[:3]] == ["jellyfin"] * 3
    assert {app.repo_name for app in apps[:3]} == {"builtin", "casaos", "runtipi"}
    assert apps[0].title == "Jellyfin"


async def test_media_server_ranks_media_apps_first(service: MarketplaceService) -> None:
    apps, total = await service.search("media server", None, None, None, None, 10, 0)
    assert total > 10
    assert all(app.category in MEDIA for app in apps), [(app.id, app.category) for app in apps]
    assert {"jellyfin", "emby", "komga"} <= {app.app_id for app in apps}


async def test_prefixes_and_case_do_not_matter(service: MarketplaceService) -> None:
    assert (await find(service, "JELLYF"))[0].app_id == "jellyfin"
    assert [app.title for app in await find(service, "home assistant")][:3] == ["Home Assistant"] * 3


async def test_no_common_word_falls_back_to_any_word(service: MarketplaceService) -> None:
    apps = await find(service, "jellyfin zzzunknownword")
    assert apps and apps[0].app_id == "jellyfin"


@pytest.mark.parametrize("query", [
    '"foo', "AND OR NOT*", "*", "NEAR(a b", "title:jellyfin", "^jelly", "a\"b'c", "%", "_", "-", "()",
    "jellyfin OR", "💾 backup", "x" * 200,
])
async def test_fts_syntax_in_queries_never_errors(service: MarketplaceService, query: str) -> None:
    apps, total = await service.search(query, None, None, None, None, 20, 0)
    assert total >= len(apps)


async def test_quote_only_query_matches_nothing_special(service: MarketplaceService) -> None:
    apps, total = await service.search('"foo', None, None, None, None, 20, 0)
    assert (apps, total) == ([], 0)


async def test_category_filter_returns_only_that_category(service: MarketplaceService) -> None:
    apps, total = await service.search(None, "media", None, None, None, 100, 0)
    counts = {entry["category"]: entry["count"] for entry in await service.categories()}
    assert total == counts["media"] > 20
    assert {app.category for app in apps} == {"media"}
    assert {app.category for app in await find(service, "server", category="networking")} == {"networking"}


async def test_category_aliases_are_accepted(service: MarketplaceService) -> None:
    assert {app.category for app in await find(service, None, category="Home Automation")} == {"home-automation"}


async def test_unknown_category_lists_the_valid_ones(service: MarketplaceService) -> None:
    with pytest.raises(ValidationError, match="use one of: ai, automation, .*media"):
        await find(service, None, category="spaceships")


async def test_pagination_totals_are_correct_and_pages_do_not_overlap(service: MarketplaceService) -> None:
    for query in (None, "server", "media server"):
        everything, total = await service.search(query, None, None, None, None, 1000, 0)
        assert len(everything) == total > 7
        seen: list[str] = []
        for offset in range(0, total, 7):
            page, page_total = await service.search(query, None, None, None, None, 7, offset)
            assert page_total == total
            seen += [app.id for app in page]
        assert seen == [app.id for app in everything]
        past_end, past_total = await service.search(query, None, None, None, None, 7, total + 5)
        assert (past_end, past_total) == ([], total)


async def test_tags_filter_requires_every_tag(service: MarketplaceService) -> None:
    both = {app.id for app in await find(service, None, tags=["Music", "streaming"])}
    music = {app.id for app in await find(service, None, tags=["music"])}
    streaming = {app.id for app in await find(service, None, tags=["streaming"])}
    assert both == music & streaming
    assert both and len(music) > len(both)


async def test_repo_and_featured_filters(service: MarketplaceService) -> None:
    runtipi = await find(service, "jellyfin", repo_key="runtipi")
    assert {app.repo_name for app in runtipi} == {"runtipi"}
    featured = await find(service, None, featured=True)
    assert featured and all(app.featured for app in featured)
    assert [app.id for app in await service.featured(3)] == [app.id for app in featured[:3]]


async def test_summaries_are_compact(service: MarketplaceService) -> None:
    [app] = (await find(service, "immich", repo_key="builtin"))[:1]
    assert "compose" not in app.model_dump() and "description" not in app.model_dump()


async def test_portable_path_ranks_like_a_user_expects(
    service: MarketplaceService, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(MarketplaceRepository, "use_fts", property(lambda self: False))
    jellyfin = await find(service, "jellyfin")
    assert [app.app_id for app in jellyfin[:3]] == ["jellyfin"] * 3
    media, total = await service.search("media server", None, None, None, None, 10, 0)
    assert total > 10 and all(app.category in MEDIA for app in media)
    assert (await find(service, "AND OR NOT*")) is not None
    assert {app.category for app in await find(service, "server", category="media")} == {"media"}


@pytest.mark.filterwarnings("ignore::pytest.PytestWarning")
def test_portable_statements_compile_for_postgresql_without_sqlite_sql() -> None:
    filters = SearchFilters(category="media", tags=("video",), repo_id="r1", featured=True)
    for statements in (search.like_statements(["media", "server"], False, filters),
                       search.like_statements(["media", "server"], True, filters), search.browse_statements(filters)):
        for statement in (statements.count, statements.page):
            sql = str(statement.compile(dialect=postgresql.dialect()))
            assert "MATCH" not in sql and "bm25" not in sql and "fts" not in sql.lower()


async def test_search_index_stays_in_step_with_the_apps_table(app: TomoApp) -> None:
    async with app.database.connect() as conn:
        apps = (await conn.execute(sa.text("SELECT count(*) FROM marketplace_apps"))).scalar_one()
        indexed = (await conn.execute(sa.text("SELECT count(*) FROM marketplace_apps_fts"))).scalar_one()
        orphans = (await conn.execute(sa.text(
            "SELECT count(*) FROM marketplace_apps_fts WHERE rowid NOT IN (SELECT pk FROM marketplace_apps)"
        ))).scalar_one()
    assert apps == indexed > 200 and orphans == 0


async def test_browsing_a_category_reads_the_index_in_order_without_sorting(app: TomoApp) -> None:
    statements = search.browse_statements(SearchFilters(category="media"))
    plans = []
    async with app.database.connect() as conn:
        for statement in (statements.count, statements.page.limit(20).offset(40)):
            sql = str(statement.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True}))
            plans.append(" | ".join(row[3] for row in await conn.execute(sa.text(f"EXPLAIN QUERY PLAN {sql}"))))
    count_plan, page_plan = plans
    assert "COVERING INDEX ix_marketplace_apps_category_browse" in count_plan, count_plan
    assert "ix_marketplace_apps_category_browse" in page_plan and "TEMP B-TREE" not in page_plan, page_plan
