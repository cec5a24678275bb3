"""The catalog shipped inside the package, so a fresh install has apps to browse offline."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path


def builtin_catalog_path() -> Path:
    """Root of the built-in catalog (Tomo format: ``apps/<id>/compose.yaml``).

    The package is installed as plain files (never zipped), so the resource folder is a real path
    that :func:`tomo.lib.catalog.import_catalog` can walk.
    """
    return Path(str(files("tomo") / "data" / "catalog"))
