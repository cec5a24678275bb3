"""Marketplace repositories, apps, ratings and ranking on PostgreSQL: the SQLite tests, run again here.

tests/unit/services/marketplace/test_marketplace_repos.py, _apps.py, _ranking.py and _restart.py, unchanged
(real git repositories in tmp_path), each test on a fresh PostgreSQL database (tests/pgkit.py).
"""

from tests.pgkit import database_url  # noqa: F401 - overrides the SQLite default of tests/conftest.py
from tests.unit.services.marketplace.test_marketplace_apps import *  # noqa: F403
from tests.unit.services.marketplace.test_marketplace_ranking import *  # noqa: F403
from tests.unit.services.marketplace.test_marketplace_repos import *  # noqa: F403
from tests.unit.services.marketplace.test_marketplace_restart import *  # noqa: F403
