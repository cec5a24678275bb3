"""Fixtures of the tests that use the SSH + Docker test bed: the test bed itself and a sandbox on it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from tests.appkit import Sandbox
from tests.testbed import Testbed, testbed_or_skip


@pytest.fixture
def testbed() -> Testbed:
    """The running test bed (fails under TOMO_TESTBED=required when it is not there, else skips)."""
    return testbed_or_skip()


@pytest.fixture
def sandbox(testbed: Testbed) -> Iterator[Sandbox]:
    """A private apps folder and project names on the test bed, removed with what the test left there."""
    box = Sandbox(testbed)
    yield box
    box.cleanup()
