"""The catalog layer: read app catalogs (Tomo, CasaOS, Runtipi) into normalised marketplace apps.

Pure and synchronous; no database, no git. Entry points:

* :func:`import_catalog` / :func:`detect_format` - walk a catalog checkout;
* :func:`builtin_catalog_path` - the catalog shipped inside the package;
* :func:`generate_secret` - values for generated-secret inputs;
* :func:`normalize_category` / :data:`CATEGORIES` - Tomo's one category list;
* :data:`TOMO_VARIABLES` - the platform variables a catalog compose file may reference.

The names load on first use: the importers (and YAML) are only needed when a catalog is
read, and the app services import small helpers from this package at every start-up.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tomo.lib.catalog.builtin import builtin_catalog_path
    from tomo.lib.catalog.categories import CATEGORIES, normalize_categories, normalize_category
    from tomo.lib.catalog.files import DEFAULT_MAX_MANIFEST_BYTES
    from tomo.lib.catalog.importer import detect_format, import_catalog
    from tomo.lib.catalog.secretgen import generate_secret
    from tomo.lib.catalog.variables import TOMO_VARIABLES

_SOURCES = {
    "builtin_catalog_path": "builtin",
    "CATEGORIES": "categories",
    "normalize_categories": "categories",
    "normalize_category": "categories",
    "DEFAULT_MAX_MANIFEST_BYTES": "files",
    "detect_format": "importer",
    "import_catalog": "importer",
    "generate_secret": "secretgen",
    "TOMO_VARIABLES": "variables",
}

__all__ = [
    "CATEGORIES",
    "DEFAULT_MAX_MANIFEST_BYTES",
    "TOMO_VARIABLES",
    "builtin_catalog_path",
    "detect_format",
    "generate_secret",
    "import_catalog",
    "normalize_categories",
    "normalize_category",
]


def __getattr__(name: str) -> Any:
    if name not in _SOURCES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_SOURCES[name]}"), name)
