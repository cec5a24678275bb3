"""The tool schema cache: a later start reuses saved input schemas, and any source change invalidates them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import fastmcp
import pytest
from fastmcp import Client
from fastmcp.tools import Tool
from tests.toolpkg import ECHO_MODULE, make_tool_package

from tomo.lib.config import TomoConfig
from tomo.lib.mcp.loader import ToolLoadError
from tomo.lib.mcp.schemas import CACHE_FILE, SchemaCache, source_fingerprint
from tomo.main import TomoApp, build_app


async def tool_fields(app: TomoApp) -> dict[str, dict[str, Any]]:
    """Every attribute of every registered tool except the handler function itself."""
    return {
        tool.name: {key: value for key, value in vars(tool).items() if key != "fn"}
        for tool in await app.mcp.list_tools()
    }


async def listed(app: TomoApp) -> list[dict[str, Any]]:
    async with Client(app.mcp) as client:
        return [tool.model_dump(mode="json") for tool in await client.list_tools()]


def record_derivations(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record the names of tools whose schema FastMCP derives (cache misses)."""
    derived: list[str] = []
    original = Tool.from_function

    def recording(fn: Any, **kwargs: Any) -> Tool:
        derived.append(kwargs["name"])
        return original(fn, **kwargs)

    monkeypatch.setattr(Tool, "from_function", recording)
    return derived


async def test_second_start_reuses_saved_schemas_and_lists_identical_tools(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = TomoConfig(data_dir=tmp_path / "data")
    first = build_app(config)
    derived = record_derivations(monkeypatch)
    second = build_app(config)
    assert derived == []
    assert await listed(second) == await listed(first)  # (also migrates the database the listing reads)
    assert await tool_fields(second) == await tool_fields(first)


def test_first_start_saves_every_schema(tmp_path: Path) -> None:
    app = build_app(TomoConfig(data_dir=tmp_path / "data"))
    saved = json.loads((tmp_path / "data" / CACHE_FILE).read_text())
    assert set(saved["schemas"]) == set(app.policies)


def test_edited_tool_source_makes_the_next_start_derive_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    package = make_tool_package(tmp_path / "pkgs", {"echo": ECHO_MODULE})
    config = TomoConfig(data_dir=tmp_path / "data")
    build_app(config, tool_packages=(package,))
    tools_py = tmp_path / "pkgs" / package / "echo" / "tools.py"
    tools_py.write_text(tools_py.read_text() + "\n# edited\n")
    derived = record_derivations(monkeypatch)
    build_app(config, tool_packages=(package,))
    assert "echo_text" in derived


def test_fingerprint_covers_sources_and_library_versions(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    package = make_tool_package(tmp_path / "pkgs", {"echo": ECHO_MODULE})
    before = source_fingerprint([package])
    (tmp_path / "pkgs" / package / "models.py").write_text("LIMIT = 5\n")
    after_new_file = source_fingerprint([package])
    monkeypatch.setattr(fastmcp, "__version__", "0.0.0-other")
    after_upgrade = source_fingerprint([package])
    assert len({before, after_new_file, after_upgrade}) == 3


def test_schemas_saved_for_other_sources_are_not_used(tmp_path: Path) -> None:
    path = tmp_path / CACHE_FILE
    path.write_text(json.dumps({"fingerprint": "from-an-older-version", "schemas": {"health_check": {"x": 1}}}))
    cache = SchemaCache.load(path, ["tomo.tools"])
    assert cache.get("health_check") is None


async def test_corrupt_cache_file_is_ignored_and_replaced(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / CACHE_FILE).write_text("{not json")
    app = build_app(TomoConfig(data_dir=data))
    fresh = build_app(TomoConfig(data_dir=tmp_path / "other"))
    assert await listed(app) == await listed(fresh)
    assert set(json.loads((data / CACHE_FILE).read_text())["schemas"]) == set(app.policies)


def test_unwritable_cache_does_not_stop_startup(tmp_path: Path) -> None:
    data = tmp_path / "data"
    (data / CACHE_FILE).mkdir(parents=True)  # a directory where the file should go: the write fails
    app = build_app(TomoConfig(data_dir=data))
    assert "health_check" in app.policies


def test_unknown_tool_package_still_fails_with_the_loader_message(tmp_path: Path) -> None:
    with pytest.raises(ToolLoadError, match="tool package 'no_such_tomo_package' cannot be imported"):
        build_app(TomoConfig(data_dir=tmp_path / "data"), tool_packages=("no_such_tomo_package",))
