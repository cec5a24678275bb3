"""Hostile catalog trees: every bad entry is skipped with a clear reason, nothing outside the root is read."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest

from tomo.errors import SyncFailed
from tomo.lib.catalog import detect_format, import_catalog
from tomo.models.marketplace import ImportResult

_opened: list[str] | None = None


def _audit(event: str, args: tuple[Any, ...]) -> None:
    """Record every file opened while a test records (audit hooks cannot be removed, so it is gated)."""
    if _opened is not None and event == "open" and isinstance(args[0], str | bytes | os.PathLike):
        _opened.append(os.fsdecode(args[0]))


sys.addaudithook(_audit)


def _import_recording_opens(root: Path, **kwargs: Any) -> tuple[ImportResult, list[str]]:
    """Import ``root`` as a Runtipi catalog; also return every file opened meanwhile."""
    global _opened
    _opened = []
    try:
        return import_catalog(root, "runtipi", **kwargs), _opened
    finally:
        _opened = None


CONFIG = {"id": "{id}", "name": "App {id}", "available": True, "port": 8080, "categories": ["utilities"]}
COMPOSE = {"services": [{"name": "web", "image": "nginx:1.27", "isMain": True, "internalPort": 80}]}


def _runtipi_app(root: Path, app_id: str) -> Path:
    """A minimal valid Runtipi app under ``root/apps``."""
    app_dir = root / "apps" / app_id
    app_dir.mkdir(parents=True)
    (app_dir / "config.json").write_text(json.dumps({**CONFIG, "id": app_id, "name": f"App {app_id}"}))
    (app_dir / "docker-compose.json").write_text(json.dumps(COMPOSE))
    return app_dir


def _casaos_app(root: Path, name: str, text: str) -> Path:
    app_dir = root / "Apps" / name
    app_dir.mkdir(parents=True)
    (app_dir / "docker-compose.yml").write_text(text)
    return app_dir


def _reasons(result: ImportResult) -> dict[str, str]:
    return {skipped.path: skipped.reason for skipped in result.skipped}


@pytest.fixture
def trees(tmp_path: Path) -> tuple[Path, Path]:
    """(catalog root with one good app, a folder outside the root)."""
    root, outside = tmp_path / "catalog", tmp_path / "outside"
    _runtipi_app(root, "good")
    outside.mkdir()
    return root, outside


def test_symlinked_app_folder_outside_the_root_is_skipped_unread(trees: tuple[Path, Path]) -> None:
    root, outside = trees
    stolen = _runtipi_app(outside, "stolen")
    (root / "apps" / "evil").symlink_to(stolen, target_is_directory=True)
    result, opened = _import_recording_opens(root)
    assert [app.id for app in result.apps] == ["good"]
    assert "outside the catalog" in _reasons(result)["apps/evil"]
    assert any(path.endswith("good/config.json") for path in opened)
    assert not [path for path in opened if path.startswith(str(outside))]


def test_symlinked_manifest_outside_the_root_is_skipped_unread(trees: tuple[Path, Path]) -> None:
    root, outside = trees
    secret = outside / "secret.json"
    secret.write_text(json.dumps(CONFIG))
    app_dir = root / "apps" / "sneaky"
    app_dir.mkdir()
    (app_dir / "config.json").symlink_to(secret)
    result, opened = _import_recording_opens(root)
    assert "apps/sneaky/config.json is a symlink that points outside the catalog" in _reasons(result)["apps/sneaky"]
    assert str(secret) not in opened


def test_symlinked_apps_folder_outside_the_root_is_refused(tmp_path: Path) -> None:
    root, outside = tmp_path / "catalog", tmp_path / "outside"
    _runtipi_app(outside, "stolen")
    root.mkdir()
    (root / "apps").symlink_to(outside / "apps", target_is_directory=True)
    result, opened = _import_recording_opens(root)
    assert result.apps == []
    assert "outside the catalog" in _reasons(result)["apps"]
    assert not [path for path in opened if path.startswith(str(outside))]


def test_symlink_inside_the_root_is_followed(trees: tuple[Path, Path]) -> None:
    root, _ = trees
    (root / "apps" / "alias").symlink_to(root / "apps" / "good", target_is_directory=True)
    result = import_catalog(root, "runtipi")
    assert [app.source_path for app in result.apps] == ["apps/alias"]
    assert _reasons(result) == {"apps/good": "duplicate app id 'good' (already read from apps/alias)"}


def test_50_mb_manifest_is_skipped_without_being_read(trees: tuple[Path, Path]) -> None:
    root, _ = trees
    app_dir = root / "apps" / "huge"
    app_dir.mkdir()
    with (app_dir / "config.json").open("w") as handle:
        handle.write('{"id": "huge", "padding": "')
        handle.truncate(50 * 1024 * 1024)
    result, opened = _import_recording_opens(root)
    assert "over the 1048576-byte limit" in _reasons(result)["apps/huge"]
    assert [app.id for app in result.apps] == ["good"]
    assert str(app_dir / "config.json") not in opened


def test_manifest_size_limit_is_a_parameter(trees: tuple[Path, Path]) -> None:
    root, _ = trees
    result = import_catalog(root, "runtipi", max_manifest_bytes=50)
    assert result.apps == []
    assert "over the 50-byte limit" in _reasons(result)["apps/good"]


def test_invalid_yaml_is_skipped_with_its_error(tmp_path: Path) -> None:
    _casaos_app(tmp_path, "Broken", "services:\n  web: [unclosed\n")
    result = import_catalog(tmp_path, "casaos")
    assert _reasons(result)["Apps/Broken"].startswith("invalid YAML in Apps/Broken/docker-compose.yml")


def test_invalid_json_is_skipped_with_its_error(trees: tuple[Path, Path]) -> None:
    root, _ = trees
    app_dir = root / "apps" / "bad"
    app_dir.mkdir()
    (app_dir / "config.json").write_text("{not json")
    result = import_catalog(root, "runtipi")
    assert _reasons(result)["apps/bad"].startswith("invalid JSON in apps/bad/config.json")
    assert [app.id for app in result.apps] == ["good"]


def test_yaml_alias_bomb_is_refused(tmp_path: Path) -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)]
    _casaos_app(tmp_path, "Bomb", "\n".join(lines) + "\nservices: {web: {image: nginx, x: *a8}}\n")
    result = import_catalog(tmp_path, "casaos")
    assert "expands to more than" in _reasons(result)["Apps/Bomb"]


def test_unsafe_yaml_tags_are_refused(tmp_path: Path) -> None:
    _casaos_app(tmp_path, "Tagged", "services: !!python/object/apply:os.system ['true']\n")
    result = import_catalog(tmp_path, "casaos")
    assert "invalid YAML" in _reasons(result)["Apps/Tagged"]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs POSIX FIFOs")
def test_fifo_manifest_is_skipped_without_blocking(trees: tuple[Path, Path]) -> None:
    root, _ = trees
    app_dir = root / "apps" / "fifo"
    app_dir.mkdir()
    os.mkfifo(app_dir / "config.json")
    result = import_catalog(root, "runtipi")
    assert "not a regular file" in _reasons(result)["apps/fifo"]


def test_service_without_image_is_skipped(tmp_path: Path) -> None:
    _casaos_app(tmp_path, "NoImage", "name: noimage\nservices:\n  web:\n    build: .\nx-casaos: {title: {en_US: X}}\n")
    result = import_catalog(tmp_path, "casaos")
    assert "service 'web' has no image" in _reasons(result)["Apps/NoImage"]


def test_dangling_symlink_is_skipped(trees: tuple[Path, Path]) -> None:
    root, _ = trees
    app_dir = root / "apps" / "dangling"
    app_dir.mkdir()
    (app_dir / "config.json").symlink_to(root / "missing.json")
    result = import_catalog(root, "runtipi")
    assert "cannot read apps/dangling/config.json" in _reasons(result)["apps/dangling"]


def test_folder_without_manifest_is_reported(trees: tuple[Path, Path]) -> None:
    root, _ = trees
    (root / "apps" / "empty").mkdir()
    (root / "apps" / "README.md").write_text("not an app")
    result = import_catalog(root, "runtipi")
    assert _reasons(result) == {"apps/empty": "no config.json in apps/empty"}


def test_one_broken_manifest_does_not_stop_the_others(tmp_path: Path) -> None:
    for index in range(3):
        _runtipi_app(tmp_path, f"app{index}")
    (tmp_path / "apps" / "app1" / "docker-compose.json").write_text(json.dumps({"services": "nope"}))
    result = import_catalog(tmp_path, "runtipi")
    assert [app.id for app in result.apps] == ["app0", "app2"]
    assert "non-empty 'services' list" in _reasons(result)["apps/app1"]


def test_missing_root_raises_sync_failed(tmp_path: Path) -> None:
    with pytest.raises(SyncFailed):
        import_catalog(tmp_path / "nowhere")


def test_unknown_layout_raises_sync_failed(tmp_path: Path) -> None:
    (tmp_path / "README.md").write_text("hello")
    with pytest.raises(SyncFailed, match="No catalog found"):
        detect_format(tmp_path)
