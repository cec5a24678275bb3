"""Monitoring history on PostgreSQL: tests/unit/services/monitoring/test_history.py, unchanged (samples, compaction
against brute force, the 500-row bound, series bounds, down samples, rates computed by any instance)."""

from tests.pgkit import database_url  # noqa: F401 - a fresh PostgreSQL database per test
from tests.unit.services.monitoring.test_history import *  # noqa: F403
