"""List paging on PostgreSQL (window count, LIMIT/OFFSET, a page past the end): tests/unit/tools/test_list_paging.py,
unchanged, each test on a fresh PostgreSQL database (tests/pgkit.py)."""

from tests.pgkit import database_url  # noqa: F401 - overrides the SQLite default of tests/conftest.py
from tests.unit.tools.test_list_paging import *  # noqa: F403
