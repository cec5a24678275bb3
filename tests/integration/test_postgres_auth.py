"""Users, login sessions, API tokens and lockouts on PostgreSQL: the SQLite tests, run again here.

tests/unit/services/test_auth_{users,tokens,lockout,login}.py, unchanged, each test on a fresh PostgreSQL
database (tests/pgkit.py). Left out: the tests that read rows straight from the SQLite file (tests/authkit.py
``table_rows``), and test_auth_identity.py (role checks, where the database adds nothing), to keep the time down.
"""

from tests.pgkit import database_url  # noqa: F401 - overrides the SQLite default of tests/conftest.py
from tests.unit.services.auth.test_auth_lockout import *  # noqa: F403
from tests.unit.services.auth.test_auth_login import *  # noqa: F403
from tests.unit.services.auth.test_auth_tokens import *  # noqa: F403
from tests.unit.services.auth.test_auth_users import *  # noqa: F403

del test_token_is_shown_once_and_stored_as_sha256  # noqa: F821 - reads the SQLite file
del test_password_is_stored_as_an_argon2_hash_only  # noqa: F821 - reads the SQLite file
