"""Marketplace re-syncs on PostgreSQL (apps added, changed, removed, deprecated while in use):
tests/unit/services/marketplace/test_marketplace_resync.py, unchanged, each test on a fresh PostgreSQL database.
"""

from tests.pgkit import database_url  # noqa: F401 - overrides the SQLite default of tests/conftest.py
from tests.unit.services.marketplace.test_marketplace_resync import *  # noqa: F403
