"""Several instances on PostgreSQL: tests/unit/services/instances/test_instances.py, unchanged (registration,
one active job per resource, server slots under an advisory lock, recovery by exactly one instance, settings
reaching every instance, one scheduler), each test on a fresh PostgreSQL database."""

from tests.pgkit import database_url  # noqa: F401 - a fresh PostgreSQL database per test
from tests.unit.services.instances.test_instances import *  # noqa: F403
