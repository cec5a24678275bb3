"""Servers on PostgreSQL (add/list/get/update/delete, encrypted credentials, pinned host keys, names unique
regardless of case): tests/unit/services/servers/test_server_service.py, unchanged, with the SSH pool faked as there,
each test on a fresh PostgreSQL database (tests/pgkit.py).

Left out: two tests about start-up imports and event-loop stalls, which do not touch the database.
"""

from tests.pgkit import database_url  # noqa: F401 - overrides the SQLite default of tests/conftest.py
from tests.unit.services.servers.test_server_service import *  # noqa: F403

del test_starting_tomo_does_not_import_asyncssh  # noqa: F821 - a subprocess on the default SQLite file
del test_adding_an_rsa_key_does_not_stall_the_event_loop  # noqa: F821 - key parsing, no database
