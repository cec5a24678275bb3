"""Shared fixtures: a real Tomo app on a fresh SQLite database, driven through the MCP protocol."""

from __future__ import annotations

import gc
import os
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("FASTMCP_LOG_ENABLED", "false")
os.environ.setdefault("FASTMCP_CHECK_FOR_UPDATES", "off")

from fastmcp import Client  # noqa: E402

from tomo.lib.config import TomoConfig  # noqa: E402
from tomo.main import TomoApp, build_app  # noqa: E402


@contextmanager
def heap_frozen() -> Iterator[None]:
    """Collect garbage as `tomo serve` does while a block measures event-loop stalls.

    `tomo serve` freezes its start-up objects (tomo.server.freeze_startup_objects), so a full
    collection never walks them. A test process holds far more (pytest, every test module, earlier
    tests' leftovers): there one full collection takes 0.2 s alone and over 1 s late in the suite,
    which a stall test would otherwise blame on the code it measures.
    """
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


@dataclass
class Answer:
    """A tool's envelope plus the protocol-level isError flag."""

    envelope: dict[str, Any]
    is_error: bool

    @property
    def data(self) -> Any:
        return self.envelope.get("data")

    @property
    def error(self) -> str | None:
        return self.envelope.get("error")


class ToolCaller:
    """Calls tools over an in-memory MCP session and returns the envelope."""

    def __init__(self, client: Client[Any]) -> None:
        self.client = client

    async def __call__(self, tool: str, /, **arguments: Any) -> Answer:
        result = await self.client.call_tool(tool, arguments, raise_on_error=False)
        assert result.structured_content is not None, result
        return Answer(result.structured_content, result.is_error)


@pytest.fixture
def database_url() -> str | None:
    """Tomo's database URL; None is the default SQLite file in the data dir. tests/pgkit.py overrides it."""
    return None


@pytest.fixture
def tomo_config(tmp_path: Path, database_url: str | None) -> TomoConfig:
    if database_url is None:
        return TomoConfig(data_dir=tmp_path / "data")
    return TomoConfig(data_dir=tmp_path / "data", database_url=database_url)


@pytest.fixture
async def tomo_app(tomo_config: TomoConfig) -> AsyncIterator[TomoApp]:
    app = build_app(tomo_config)
    yield app
    await app.shutdown()  # tests that start the app without a client leave no threads or connections behind
    _forget_tool_functions()


def _forget_tool_functions() -> None:
    """Empty FastMCP's per-function caches (lru_caches of 5,000 entries), which keep every app's tools alive.

    `tomo serve` builds one app, so they hold ~80 entries there. Here each test builds one: left alone, they
    grow to ~1M objects and a full garbage collection takes ~1 s late in the suite.
    """
    from fastmcp.server import dependencies, sessions
    from fastmcp.tools import base, function_tool
    from fastmcp.utilities import types

    for cached in (
        types.get_cached_typeadapter,
        base._get_json_serializer,
        function_tool._wrap_body_errors,
        dependencies.without_injected_parameters,
        sessions.session_id_parameter_names,
    ):
        cached.cache_clear()


@pytest.fixture
async def client(tomo_app: TomoApp) -> AsyncIterator[Client[Any]]:
    async with Client(tomo_app.mcp) as c:
        yield c


@pytest.fixture
def call(client: Client[Any]) -> ToolCaller:
    return ToolCaller(client)
