"""The tool catalogue is a contract: names, titles, descriptions, annotations and input schemas are pinned.

A change a model would see shows up here as a diff. After a deliberate change, regenerate with
``TOMO_UPDATE_SNAPSHOTS=1 python -m pytest tests/unit/test_tool_catalogue.py`` and review the diff.

Every admin's ``tools/list`` carries the whole catalogue, so it also has a byte budget: everything
registered fits 100,000 bytes, and so must the catalogue of design/TOOLS.md once every tool there is built,
projected at today's average size (``pytest -s`` prints both figures).
"""

from __future__ import annotations

import inspect
import json
import os
import re
from pathlib import Path
from typing import Any

from fastmcp import Client
from fastmcp.utilities.docstring_parsing import parse_docstring

from tomo.lib.mcp.loader import discover_tool_modules, find_tools_class
from tomo.lib.mcp.tooling import view_spec
from tomo.main import TomoApp

SNAPSHOT = Path(__file__).parent.parent / "snapshots" / "tool_catalogue.json"
REPO = Path(__file__).resolve().parents[2]
TOOLS_MD = (Path("/work/shared/design/TOOLS.md"), REPO.parent / "shared" / "design" / "TOOLS.md")
CURRENT_BUDGET = 100_000
FULL_BUDGET = 100_000
TOOL_NAME = re.compile(r"[a-z][a-z0-9]*(?:_[a-z0-9]+)*")


async def catalogue(app: TomoApp) -> list[dict[str, Any]]:
    async with Client(app.mcp) as client:
        tools = await client.list_tools()
    return sorted(
        (
            {
                "name": tool.name,
                "title": tool.title,
                "description": tool.description,
                "annotations": tool.annotations.model_dump(exclude_none=True) if tool.annotations else None,
                "tomo": (tool.meta or {}).get("tomo"),
                "input_schema": tool.input_schema,
            }
            for tool in tools
        ),
        key=lambda entry: entry["name"],
    )


async def wire_tools(app: TomoApp) -> list[dict[str, Any]]:
    """The ``tools`` of the ``tools/list`` result as the server serializes it (the local caller is an admin)."""
    async with Client(app.mcp) as client:
        result = await client.list_tools_mcp()
    tools: list[dict[str, Any]] = result.model_dump(by_alias=True, mode="json", exclude_none=True)["tools"]
    return tools


def wire_bytes(tools: list[dict[str, Any]]) -> int:
    """Bytes of the tools array as sent: compact UTF-8 JSON (the same count as a `tomo serve` stdio answer)."""
    return len(json.dumps(tools, separators=(",", ":"), ensure_ascii=False).encode())


def planned_tool_names() -> set[str]:
    """Every tool name of TOOLS.md: the first cell of each table row, several names joined by ' / '."""
    path = next((candidate for candidate in TOOLS_MD if candidate.is_file()), None)
    assert path is not None, f"TOOLS.md is at neither {' nor '.join(map(str, TOOLS_MD))}: put shared/ beside the repo"
    names: set[str] = set()
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("|"):
            cells = line.split("|")
            names.update(name.strip() for name in cells[1].split("/") if TOOL_NAME.fullmatch(name.strip()))
    names.discard("tool")  # the header row
    assert {"health_check", "install_app", "get_audit_log"} <= names, f"{path}: its tool tables were not understood"
    return names


async def test_tool_catalogue_matches_snapshot(tomo_app: TomoApp) -> None:
    current = await catalogue(tomo_app)
    rendered = json.dumps(current, indent=2, sort_keys=True) + "\n"
    if os.environ.get("TOMO_UPDATE_SNAPSHOTS") == "1":
        SNAPSHOT.parent.mkdir(parents=True, exist_ok=True)
        SNAPSHOT.write_text(rendered)
    assert SNAPSHOT.exists(), "no snapshot yet: run with TOMO_UPDATE_SNAPSHOTS=1"
    assert rendered == SNAPSHOT.read_text(), "tool catalogue changed: review, then regenerate the snapshot"


async def test_every_tool_is_documented_and_annotated(tomo_app: TomoApp) -> None:
    for entry in await catalogue(tomo_app):
        assert entry["description"] and len(entry["description"]) > 40, entry["name"]
        assert entry["title"], entry["name"]
        assert entry["annotations"] is not None, entry["name"]
        assert entry["tomo"] is not None and entry["tomo"]["role"] in {"viewer", "operator", "admin"}, entry["name"]


async def test_destructive_tools_tell_the_model_about_confirm(tomo_app: TomoApp) -> None:
    for entry in await catalogue(tomo_app):
        if entry["tomo"]["destructive"]:
            assert "confirm=true" in entry["description"], entry["name"]


async def test_admin_catalogue_fits_its_budget(tomo_app: TomoApp) -> None:
    tools = await wire_tools(tomo_app)
    assert {tool["name"] for tool in tools} == set(tomo_app.policies), "the caller must see every tool"
    size = wire_bytes(tools)
    print(f"\nadmin tools/list: {len(tools)} tools, {size:,} bytes (budget {CURRENT_BUDGET:,})")  # noqa: T201
    assert size <= CURRENT_BUDGET, (
        f"admin tools/list is {size:,} bytes for {len(tools)} tools, over {CURRENT_BUDGET:,}: tighten descriptions"
    )


async def test_full_catalogue_of_tools_md_is_projected_to_fit(tomo_app: TomoApp) -> None:
    tools = await wire_tools(tomo_app)
    size = wire_bytes(tools)
    missing = planned_tool_names() - {tool["name"] for tool in tools}
    projected = size + len(missing) * size // len(tools)
    print(f"\nprojected tools/list: {size:,} bytes + {len(missing)} tools of TOOLS.md not built yet x "  # noqa: T201
          f"{size // len(tools):,} = {projected:,} bytes (budget {FULL_BUDGET:,})")
    assert projected <= FULL_BUDGET, (
        f"{len(tools)} tools take {size:,} bytes; with the {len(missing)} of TOOLS.md still to build at that "
        f"average the catalogue would be {projected:,} bytes, over {FULL_BUDGET:,}"
    )


async def test_args_lines_are_the_schema_descriptions(tomo_app: TomoApp) -> None:
    """A tool's ``Args:`` lines are not sent as description: each must be its parameter's schema text."""
    schemas = {tool["name"]: tool["inputSchema"].get("properties", {}) for tool in await wire_tools(tomo_app)}
    for module_name in discover_tool_modules("tomo.tools"):
        cls = find_tools_class(__import__(module_name, fromlist=["_"]))
        for name, method in inspect.getmembers(cls, inspect.isfunction):
            if name.startswith("_") or view_spec(method) is not None:
                continue
            for param, text in parse_docstring(method).parameters.items():
                sent = schemas[name].get(param, {}).get("description")
                assert sent is not None and " ".join(sent.split()) == " ".join(text.split()), (
                    f"{name}: the Args line of '{param}' is not what the schema says ({sent!r}); "
                    "describe each parameter once, in its Field or in Args"
                )
