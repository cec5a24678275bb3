"""Settings, stored logs and the audit log on PostgreSQL: the SQLite tests of these features, run again here.

tests/unit/services/settings/test_settings.py, test_logs.py and test_audit_group_commit.py, unchanged; importing
``database_url`` from tests/pgkit.py gives each test a fresh PostgreSQL database instead of a SQLite file.
"""

from tests.pgkit import database_url  # noqa: F401 - overrides the SQLite default of tests/conftest.py
from tests.unit.services.logs.test_audit_group_commit import *  # noqa: F403
from tests.unit.services.logs.test_logs import *  # noqa: F403
from tests.unit.services.settings.test_settings import *  # noqa: F403
