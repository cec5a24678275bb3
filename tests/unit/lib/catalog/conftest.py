"""Fixtures for the catalog layer: the real shared catalogs, imported once per session."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tomo.lib.catalog import import_catalog
from tomo.models.marketplace import ImportResult

REPO_ROOT = Path(__file__).resolve().parents[4]


def _shared_catalogs() -> Path:
    """``$TOMO_SHARED_CATALOGS``, else ``<repo root>/../shared/catalogs``."""
    configured = os.environ.get("TOMO_SHARED_CATALOGS")
    return Path(configured) if configured else REPO_ROOT.parent / "shared" / "catalogs"


@pytest.fixture(scope="session")
def shared_catalogs() -> Path:
    """The real CasaOS and Runtipi catalogs; skip (or fail when TOMO_TESTBED=required) without them."""
    path = _shared_catalogs()
    if not (path / "casaos" / "Apps").is_dir() or not (path / "runtipi" / "apps").is_dir():
        message = f"shared catalogs not found at {path} (set TOMO_SHARED_CATALOGS)"
        if os.environ.get("TOMO_TESTBED") == "required":
            pytest.fail(message)
        pytest.skip(message)
    return path


@pytest.fixture(scope="session")
def casaos_result(shared_catalogs: Path) -> ImportResult:
    """The CasaOS catalog, imported."""
    return import_catalog(shared_catalogs / "casaos")


@pytest.fixture(scope="session")
def runtipi_result(shared_catalogs: Path) -> ImportResult:
    """The Runtipi catalog, imported."""
    return import_catalog(shared_catalogs / "runtipi")
