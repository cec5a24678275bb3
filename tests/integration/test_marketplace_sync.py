"""The real CasaOS and Runtipi stores, committed to throwaway git repositories and synced through the tools.

Every app is checked, not a sample: at least 98% imported, every skip with a reason, the stored
compose of each app holding exactly the services of its source file, generated secrets marked,
platform variables mapped; a re-sync after an upstream change reports exactly that change.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from tests.conftest import ToolCaller
from tests.unit.services.marketplace.test_marketplace_kit import (
    commit_all,
    copy_catalog,
    marketplace,
    shared_catalogs_path,
)

from tomo.lib.catalog import TOMO_VARIABLES
from tomo.lib.compose.interpolation import referenced_names
from tomo.main import TomoApp

LAYOUT = {"casaos": ("Apps", "docker-compose.yml"), "runtipi": ("apps", "config.json")}


@pytest.fixture
def stores(tmp_path: Path) -> dict[str, Path]:
    """Git repositories holding copies of the shared CasaOS and Runtipi catalogs."""
    shared = shared_catalogs_path()
    return {store: copy_catalog(shared / store, tmp_path / store) for store in LAYOUT}


def source_dirs(root: Path, store: str) -> list[Path]:
    folder, manifest = LAYOUT[store]
    return sorted(path.parent for path in (root / folder).glob(f"*/{manifest}"))


def source_services(app_dir: Path, store: str) -> list[str]:
    """The services the platform itself would run for this app folder."""
    if store == "casaos":
        return list(yaml.safe_load((app_dir / "docker-compose.yml").read_text())["services"])
    yaml_path, json_path = app_dir / "docker-compose.yml", app_dir / "docker-compose.json"
    if yaml_path.exists() and "x-runtipi" in yaml_path.read_text():
        return list(yaml.safe_load(yaml_path.read_text())["services"])
    if json_path.exists():
        return [service["name"] for service in json.loads(json_path.read_text())["services"]]
    return list(yaml.safe_load(yaml_path.read_text())["services"])


async def add_and_sync(call: ToolCaller, store: str, root: Path) -> dict[str, Any]:
    repo = (await call("add_repo", name=store, url=str(root))).data["repo"]
    answer = await call("sync_repo", repo_id=repo["id"], wait_seconds=120)
    assert answer.data["status"] == "succeeded", answer.envelope
    data: dict[str, Any] = answer.data
    return data


async def test_shared_stores_import_at_least_98_percent_with_reasons(call: ToolCaller, stores: dict[str, Path]) -> None:
    for store, root in stores.items():
        result = await add_and_sync(call, store, root)
        total = len(source_dirs(root, store))
        assert result["format"] == store and total > 50
        assert result["counts"]["added"] >= 0.98 * total, result["skipped"]
        assert result["counts"]["added"] + result["counts"]["skipped"] == total
        assert all(item["path"] and len(item["reason"]) > 10 for item in result["skipped"])
    repos = {repo["name"]: repo for repo in (await call("list_repos")).data["repos"]}
    for store, root in stores.items():
        assert repos[store]["status"] == "ok" and repos[store]["commit"]
        assert repos[store]["app_count"] >= 0.98 * len(source_dirs(root, store))


async def test_every_stored_compose_keeps_exactly_the_source_services(
    call: ToolCaller, tomo_app: TomoApp, stores: dict[str, Path]
) -> None:
    service = marketplace(tomo_app)
    for store, root in stores.items():
        await add_and_sync(call, store, root)
        apps = {app.source_path: app for app in [await service.get_app(summary.id) for summary in
                                                  (await service.search(None, None, None, store, None, 1000, 0))[0]]}
        multi = 0
        for app_dir in source_dirs(root, store):
            app = apps.get(f"{LAYOUT[store][0]}/{app_dir.name}")
            if app is None:
                continue
            expected = source_services(app_dir, store)
            multi += len(expected) > 1
            assert list(app.compose["services"]) == expected, app.id
            assert [item.name for item in app.services] == expected, app.id
        assert multi >= 10, store


async def test_generated_secrets_are_marked_and_variables_mapped(
    call: ToolCaller, tomo_app: TomoApp, stores: dict[str, Path]
) -> None:
    service = marketplace(tomo_app)
    secrets = 0
    for store, root in stores.items():
        await add_and_sync(call, store, root)
        for summary in (await service.search(None, None, None, store, None, 1000, 0))[0]:
            detail = (await call("get_marketplace_app", app_id=summary.id)).data["app"]
            for item in detail["inputs"]:
                assert item["generated"] == (item["type"] == "secret"), (summary.id, item)
                assert not item["generated"] or ("default" not in item and item["generate"]["length"] >= 8)
                secrets += item["generated"]
            inputs = {item.get("env") or item["key"] for item in detail["inputs"]}
            assert not referenced_names(detail["compose"]) - set(TOMO_VARIABLES) - inputs, summary.id
    assert secrets >= 60


def edit_add_delete(root: Path, store: str) -> tuple[str, str, str]:
    """Change one app's tagline, delete another, add a copy of a third under a new id; returns their ids."""
    folders = source_dirs(root, store)
    edited, deleted, copied = folders[0], folders[1], folders[2]
    new_dir = copied.parent / f"{copied.name}-copy"
    shutil.copytree(copied, new_dir)
    if store == "casaos":
        ids = [yaml.safe_load((folder / "docker-compose.yml").read_text())["name"] for folder in (edited, deleted)]
        compose_path = edited / "docker-compose.yml"
        compose = yaml.safe_load(compose_path.read_text())
        compose["x-casaos"]["tagline"] = {"en_US": "Edited upstream"}
        compose_path.write_text(yaml.safe_dump(compose, sort_keys=False))
        copy_path = new_dir / "docker-compose.yml"
        copy = yaml.safe_load(copy_path.read_text())
        copy["name"] = new_id = f"{copy['name']}-copy"
        copy_path.write_text(yaml.safe_dump(copy, sort_keys=False))
    else:
        ids = [json.loads((folder / "config.json").read_text())["id"] for folder in (edited, deleted)]
        config = json.loads((edited / "config.json").read_text())
        (edited / "config.json").write_text(json.dumps({**config, "short_desc": "Edited upstream"}))
        copy = json.loads((new_dir / "config.json").read_text())
        new_id = f"{copy['id']}-copy"
        (new_dir / "config.json").write_text(json.dumps({**copy, "id": new_id}))
    shutil.rmtree(deleted)
    commit_all(root, "edit one app, delete one, add one")
    return ids[0], ids[1], new_id


async def test_resync_after_upstream_change_reports_exactly_those_changes(
    call: ToolCaller, tomo_app: TomoApp, stores: dict[str, Path]
) -> None:
    for store, root in stores.items():
        first = await add_and_sync(call, store, root)
        edited, deleted, added = edit_add_delete(root, store)
        again = await call("sync_repo", repo_id=first["repo_id"], wait_seconds=120)
        result = again.data
        assert (result["added"], result["updated"], result["removed"]) == (
            [f"{store}/{added}"], [f"{store}/{edited}"], [f"{store}/{deleted}"]), store
        assert result["counts"]["unchanged"] == first["counts"]["added"] - 2
        assert (await marketplace(tomo_app).get_app(f"{store}/{edited}")).tagline == "Edited upstream"
        assert result["commit"] != first["commit"]
