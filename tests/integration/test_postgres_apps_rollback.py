"""App installs, updates, rollbacks and uninstalls on PostgreSQL, with Docker and SSH faked as in the SQLite
tests: tests/unit/services/apps/test_app_rollback.py, unchanged, each test on a fresh PostgreSQL database.
"""

from tests.pgkit import database_url  # noqa: F401 - overrides the SQLite default of tests/conftest.py
from tests.unit.services.apps.test_app_rollback import *  # noqa: F403
