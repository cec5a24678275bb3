"""The marketplace on PostgreSQL: the built-in catalog plus the real CasaOS and Runtipi stores synced through
git, searched on the portable path (PostgreSQL has no FTS5 index).

The search tests are those of tests/unit/services/marketplace/test_marketplace_search.py that do not look inside SQLite,
run here against one Tomo on a PostgreSQL database (module scope: the sync takes seconds).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from tests.pgkit import fresh_database
from tests.unit.services.marketplace.test_marketplace_kit import add_and_sync, copy_catalog, ready, shared_catalogs_path
from tests.unit.services.marketplace.test_marketplace_search import (  # noqa: F401 - collected here, on PostgreSQL
    service,
    test_category_aliases_are_accepted,
    test_category_filter_returns_only_that_category,
    test_fts_syntax_in_queries_never_errors,
    test_jellyfin_finds_jellyfin_first,
    test_media_server_ranks_media_apps_first,
    test_no_common_word_falls_back_to_any_word,
    test_pagination_totals_are_correct_and_pages_do_not_overlap,
    test_portable_path_ranks_like_a_user_expects,
    test_prefixes_and_case_do_not_matter,
    test_quote_only_query_matches_nothing_special,
    test_repo_and_featured_filters,
    test_summaries_are_compact,
    test_tags_filter_requires_every_tag,
    test_unknown_category_lists_the_valid_ones,
)

from tomo.lib.config import TomoConfig
from tomo.main import TomoApp, build_app

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def app(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[TomoApp]:
    """One Tomo on PostgreSQL with the built-in catalog and both shared stores synced through git."""
    shared = shared_catalogs_path()
    root = tmp_path_factory.mktemp("postgres-marketplace")
    async with fresh_database() as url:
        tomo = await ready(build_app(TomoConfig(data_dir=root / "data", database_url=url)))
        assert tomo.database.engine.dialect.name == "postgresql"
        for store in ("casaos", "runtipi"):
            _, job = await add_and_sync(tomo, store, copy_catalog(shared / store, root / store))
            assert job.status.value == "succeeded", job.error
        yield tomo
        await tomo.database.dispose()
