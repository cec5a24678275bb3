"""A state-changing call that the client cancels is still on the audit record, with outcome ``cancelled``."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from fastmcp import Client
from tests.conftest import ToolCaller
from tests.toolpkg import make_tool_package

from tomo.lib.config import TomoConfig
from tomo.main import build_app

SLOW_MODULE = '''
import asyncio

from tomo.lib.mcp.tooling import tomo_tool
from tomo.models.common import Reply
from tomo.models.principal import Role


class SlowTools:
    def __init__(self):
        self.started = asyncio.Event()

    @tomo_tool(role=Role.OPERATOR)
    async def slow_change(self, target: str, password: str = "") -> Reply:
        """Change something slowly (ten seconds); for the cancellation test."""
        self.started.set()
        await asyncio.sleep(10)
        return Reply("changed", {"target": target})
'''


async def test_a_cancelled_state_changing_call_is_audited_as_cancelled(tmp_path: Path) -> None:
    package = make_tool_package(tmp_path / "pkgs", {"slow": SLOW_MODULE})
    app = build_app(TomoConfig(data_dir=tmp_path / "data"), tool_packages=("tomo.tools", package))
    async with Client(app.mcp) as client:
        call = ToolCaller(client)
        started = time.monotonic()
        request = asyncio.create_task(client.call_tool("slow_change", {"target": "nas", "password": "s3cret-pw"}))
        await asyncio.sleep(0.3)
        request.cancel()
        entries: list[dict[str, object]] = []
        while not entries and time.monotonic() - started < 5:
            await asyncio.sleep(0.1)
            entries = (await call("get_audit_log", tool="slow_change")).data["entries"]
    assert [entry["outcome"] for entry in entries] == ["cancelled"]
    assert "s3cret-pw" not in str(entries) and "nas" in str(entries)
    assert time.monotonic() - started < 5  # recorded at the cancellation, not after the ten seconds
    await app.shutdown()
