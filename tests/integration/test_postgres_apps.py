"""App installations on PostgreSQL (records, status, logs, health), with Docker and SSH faked as in the SQLite
tests: tests/unit/services/apps/test_app_status.py, unchanged, each test on a fresh PostgreSQL database
(tests/pgkit.py).
"""

from tests.pgkit import database_url  # noqa: F401 - overrides the SQLite default of tests/conftest.py
from tests.unit.services.apps.test_app_status import *  # noqa: F403
