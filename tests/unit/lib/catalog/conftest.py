"""Fixtures for the catalog layer: the real shared catalogs, imported once per session."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.unit.services.marketplace.test_marketplace_kit import shared_catalogs_path

from tomo.lib.catalog import import_catalog
from tomo.models.marketplace import ImportResult


@pytest.fixture(scope="session")
def shared_catalogs() -> Path:
    """The real CasaOS and Runtipi catalogs; skip (or fail when TOMO_TESTBED=required) without them."""
    return shared_catalogs_path()


@pytest.fixture(scope="session")
def casaos_result(shared_catalogs: Path) -> ImportResult:
    """The CasaOS catalog, imported."""
    return import_catalog(shared_catalogs / "casaos")


@pytest.fixture(scope="session")
def runtipi_result(shared_catalogs: Path) -> ImportResult:
    """The Runtipi catalog, imported."""
    return import_catalog(shared_catalogs / "runtipi")
