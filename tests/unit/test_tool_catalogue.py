"""The tool catalogue is a contract: names, descriptions, annotations and input schemas are pinned.

A change a model would see shows up here as a diff. After a deliberate change, regenerate with
``TOMO_UPDATE_SNAPSHOTS=1 python -m pytest tests/unit/test_tool_catalogue.py`` and review the diff.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from fastmcp import Client

from tomo.main import TomoApp

SNAPSHOT = Path(__file__).parent.parent / "snapshots" / "tool_catalogue.json"


async def catalogue(app: TomoApp) -> list[dict[str, Any]]:
    async with Client(app.mcp) as client:
        tools = await client.list_tools()
    return sorted(
        (
            {
                "name": tool.name,
                "description": tool.description,
                "annotations": tool.annotations.model_dump(exclude_none=True) if tool.annotations else None,
                "tomo": (tool.meta or {}).get("tomo"),
                "input_schema": tool.input_schema,
            }
            for tool in tools
        ),
        key=lambda entry: entry["name"],
    )


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
        assert entry["annotations"] is not None, entry["name"]
        assert entry["tomo"] is not None and entry["tomo"]["role"] in {"viewer", "operator", "admin"}, entry["name"]
