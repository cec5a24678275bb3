"""Walk a catalog checkout and read every app: :func:`detect_format` and :func:`import_catalog`.

Pure and synchronous (callers run it in a thread). Each app is read on its own: a broken or hostile
entry is recorded in ``ImportResult.skipped`` with its reason and never aborts the import.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal

from tomo.errors import SyncFailed, ValidationError
from tomo.lib.catalog.casaos import read_casaos_app
from tomo.lib.catalog.files import DEFAULT_MAX_MANIFEST_BYTES, ManifestReader
from tomo.lib.catalog.runtipi import read_runtipi_app
from tomo.lib.catalog.tomo_format import read_tomo_app
from tomo.models.marketplace import CatalogApp, CatalogFormat, ImportResult, SkippedApp

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Layout:
    """Where a format keeps its apps: ``<folder>/<app>/<manifest>``, read by ``read``."""

    folder: str
    manifest: str
    read: Callable[[Path, ManifestReader], CatalogApp]


LAYOUTS: Final[dict[CatalogFormat, Layout]] = {
    "tomo": Layout("apps", "compose.yaml", read_tomo_app),
    "casaos": Layout("Apps", "docker-compose.yml", read_casaos_app),
    "runtipi": Layout("apps", "config.json", read_runtipi_app),
}


def detect_format(repo_root: Path) -> CatalogFormat:
    """Tell the catalog format of a checkout from its layout; raise SyncFailed when none matches.

    ``apps/<id>/compose.yaml`` is Tomo's, ``Apps/<Name>/docker-compose.yml`` CasaOS's and
    ``apps/<id>/config.json`` Runtipi's; the layout with the most apps wins. Folder names are compared
    exactly, so the result does not depend on the file system's case sensitivity.
    """
    reader = ManifestReader(_checked_root(repo_root))
    top = set(os.listdir(reader.root))
    counts: dict[CatalogFormat, int] = {}
    for name, layout in LAYOUTS.items():
        if layout.folder in top:
            counts[name] = sum(
                1
                for path, reason in _app_dirs(reader, layout.folder)
                if not reason and (path / layout.manifest).exists()
            )
    found = {name: count for name, count in counts.items() if count}
    if not found:
        raise SyncFailed(
            f"No catalog found in {repo_root}: expected apps/<id>/compose.yaml (Tomo), "
            "Apps/<Name>/docker-compose.yml (CasaOS) or apps/<id>/config.json (Runtipi)"
        )
    return max(found, key=lambda name: found[name])


def import_catalog(
    repo_root: Path,
    format: CatalogFormat | Literal["auto"] = "auto",
    *,
    max_manifest_bytes: int = DEFAULT_MAX_MANIFEST_BYTES,
) -> ImportResult:
    """Read every app of the catalog at ``repo_root``; skipped entries come back with their reason.

    Manifests larger than ``max_manifest_bytes``, symlinks leading outside ``repo_root``, invalid YAML
    or JSON and invalid apps are skipped. Raise SyncFailed only when the root itself is unusable.
    """
    root = _checked_root(repo_root)
    chosen: CatalogFormat = detect_format(root) if format == "auto" else format
    layout = LAYOUTS[chosen]
    reader = ManifestReader(root, max_manifest_bytes)
    result = ImportResult(format=chosen)
    origins: dict[str, str] = {}
    for app_dir, reason in _app_dirs(reader, layout.folder):
        path = reader.relative(app_dir)
        app, reason = (None, reason) if reason else _read_one(app_dir, layout, reader)
        if app is not None and app.id in origins:
            reason = f"duplicate app id '{app.id}' (already read from {origins[app.id]})"
        if app is None or reason:
            result.skipped.append(SkippedApp(path=path, reason=reason or "unreadable"))
            continue
        origins[app.id] = path
        result.apps.append(app)
    return result


def _checked_root(repo_root: Path) -> Path:
    """The root as a Path, which must be an existing directory."""
    root = Path(repo_root)
    if not root.is_dir():
        raise SyncFailed(f"Catalog folder {root} does not exist or is not a directory")
    return root


def _app_dirs(reader: ManifestReader, folder: str) -> Iterator[tuple[Path, str | None]]:
    """(app folder, skip reason or None) for each folder under ``folder``, sorted by name.

    Plain files are ignored; symlinks are followed only when they stay inside the catalog.
    """
    base = reader.root / folder
    try:
        reader.resolve_inside(base)
        entries = sorted(os.scandir(base), key=lambda entry: entry.name)
    except ValidationError as exc:
        yield base, exc.message
        return
    except OSError as exc:
        yield base, f"cannot list {folder}/: {exc.strerror or exc}"
        return
    for entry in entries:
        path = Path(entry.path)
        if entry.is_symlink():
            try:
                reader.resolve_inside(path)
            except ValidationError as exc:
                yield path, exc.message
                continue
        if entry.is_dir() and not entry.name.startswith("."):
            yield path, None


def _read_one(app_dir: Path, layout: Layout, reader: ManifestReader) -> tuple[CatalogApp | None, str | None]:
    """Read one app; (app, None) or (None, reason). Nothing raised here stops the import."""
    if not reader.exists(app_dir / layout.manifest):
        return None, f"no {layout.manifest} in {reader.relative(app_dir)}"
    try:
        return layout.read(app_dir, reader), None
    except ValidationError as exc:
        return None, exc.message
    except Exception as exc:  # a hostile manifest must never abort the import
        logger.warning("unexpected error reading %s", reader.relative(app_dir), exc_info=True)
        return None, f"could not be read ({type(exc).__name__}: {str(exc)[:200]})"
