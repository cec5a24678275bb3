"""A hostile catalog repository, end to end through add_repo and a real-git sync.

Option-shaped URLs and branches are refused before git runs; inside the repository, a symlinked app
folder and a symlinked manifest pointing outside, a 50 MB manifest and invalid YAML are each skipped
with a clear reason while the good app is imported; nothing outside the sync folder is read or made.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import ToolCaller
from tests.unit.services.marketplace.test_marketplace_kit import commit_all

from tomo.main import TomoApp

_opened: list[str] | None = None


def _audit(event: str, args: tuple[Any, ...]) -> None:
    """Record files opened while a test records (audit hooks cannot be removed, so it is gated)."""
    if _opened is not None and event == "open" and isinstance(args[0], str | bytes | os.PathLike):
        _opened.append(os.path.abspath(os.fsdecode(args[0])))


sys.addaudithook(_audit)

GOOD = {
    "name": "good",
    "services": {"web": {"image": "nginx:1.27", "ports": [{"target": 80, "published": "8080"}]}},
    "x-casaos": {"main": "web", "port_map": "8080", "category": "Utilities", "title": {"en_US": "Good App"}},
}


def _app(root: Path, name: str, text: str) -> Path:
    folder = root / "Apps" / name
    folder.mkdir(parents=True)
    (folder / "docker-compose.yml").write_text(text)
    return folder


@pytest.fixture
def hostile(tmp_path: Path) -> tuple[Path, Path]:
    """(a CasaOS-layout git repository full of traps, a folder outside it holding 'secrets')."""
    root, outside = tmp_path / "hostile", tmp_path / "outside"
    (outside / "Stolen").mkdir(parents=True)
    (outside / "Stolen" / "docker-compose.yml").write_text(json.dumps({**GOOD, "name": "stolen"}))
    (outside / "secret.yml").write_text(json.dumps({**GOOD, "name": "secret"}))
    _app(root, "Good", json.dumps(GOOD))
    _app(root, "Broken", "services:\n  web: [unclosed\n")
    huge = _app(root, "Huge", "") / "docker-compose.yml"
    with huge.open("w") as handle:
        handle.write("name: huge\n# ")
        handle.truncate(50 * 1024 * 1024)
    (root / "Apps" / "Escape").symlink_to(outside / "Stolen", target_is_directory=True)
    (root / "Apps" / "Sneaky").mkdir()
    (root / "Apps" / "Sneaky" / "docker-compose.yml").symlink_to(outside / "secret.yml")
    commit_all(root, "a hostile catalog")
    return root, outside


def _tree(path: Path) -> set[str]:
    return {str(item) for item in path.rglob("*")}


async def test_option_shaped_url_is_refused_before_git_runs(call: ToolCaller, tmp_path: Path) -> None:
    marker = tmp_path / "x"
    answer = await call("add_repo", name="evil", url=f"--upload-pack=touch {marker}")
    assert answer.error == "VALIDATION_ERROR" and "must not start with '-'" in answer.envelope["message"]
    answer = await call("add_repo", name="evil", url=f"-oProxyCommand=touch {marker}")
    assert answer.error == "VALIDATION_ERROR"
    assert not marker.exists()


async def test_option_shaped_branch_is_refused_before_git_runs(
    call: ToolCaller, hostile: tuple[Path, Path], tmp_path: Path
) -> None:
    marker = tmp_path / "x"
    answer = await call("add_repo", name="evil", url=str(hostile[0]), branch=f"--upload-pack=touch {marker}")
    assert answer.error == "VALIDATION_ERROR" and "not a valid branch name" in answer.envelope["message"]
    assert not marker.exists()
    assert [repo["name"] for repo in (await call("list_repos")).data["repos"]] == ["builtin"]


async def test_hostile_entries_are_skipped_with_reasons_and_nothing_outside_is_read(
    call: ToolCaller, tomo_app: TomoApp, hostile: tuple[Path, Path], tmp_path: Path
) -> None:
    global _opened
    root, outside = hostile
    repo_id = (await call("add_repo", name="hostile", url=str(root))).data["repo"]["id"]
    before = _tree(tmp_path)
    _opened = []
    try:
        answer = await call("sync_repo", repo_id=repo_id, wait_seconds=60)
    finally:
        opened, _opened = _opened, None
    assert answer.data["status"] == "succeeded", answer.envelope
    assert answer.data["added"] == ["hostile/good"]
    reasons = {item["path"]: item["reason"] for item in answer.data["skipped"]}
    assert reasons["Apps/Broken"].startswith("invalid YAML in Apps/Broken/docker-compose.yml")
    assert "over the 1048576-byte limit" in reasons["Apps/Huge"]
    assert "points outside the catalog" in reasons["Apps/Escape"]
    assert "points outside the catalog" in reasons["Apps/Sneaky"]
    assert set(reasons) == {"Apps/Broken", "Apps/Huge", "Apps/Escape", "Apps/Sneaky"}

    checkout = tomo_app.config.data_dir / "catalogs" / repo_id
    read_here = [path for path in opened if path.startswith(str(tmp_path))]
    assert read_here and all(_inside(path, checkout) or _is_database_file(path) for path in read_here), read_here
    assert not [path for path in read_here if "Huge" in path]
    created = _tree(tmp_path) - before
    assert {path for path in created if not _inside(path, checkout) and not _is_database_file(path)} == {
        str(checkout.parent)}
    assert os.listdir(checkout.parent) == [repo_id]


def _inside(path: str, folder: Path) -> bool:
    return Path(path).is_relative_to(folder)


def _is_database_file(path: str) -> bool:
    return Path(path).name.startswith("tomo.db")


async def test_manifest_size_limit_follows_the_setting(
    call: ToolCaller, hostile: tuple[Path, Path]
) -> None:
    await call("update_settings", settings={"marketplace_max_manifest_kb": 16})
    repo_id = (await call("add_repo", name="hostile", url=str(hostile[0]))).data["repo"]["id"]
    answer = await call("sync_repo", repo_id=repo_id, wait_seconds=60)
    reasons = {item["path"]: item["reason"] for item in answer.data["skipped"]}
    assert "over the 16384-byte limit" in reasons["Apps/Huge"]
