"""In-memory tool-call latency through the full MCP protocol stack (no sockets).

Run: .venv/bin/python bench/bench_tool_latency.py [calls]
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
os.environ.setdefault("FASTMCP_LOG_ENABLED", "false")
from _stats import print_table, row  # noqa: E402

from tomo.lib.config import TomoConfig  # noqa: E402
from tomo.lib.logging_config import configure_logging  # noqa: E402
from tomo.main import build_app  # noqa: E402

CASES = [
    ("health_check", {}),
    ("health_check detailed", {"detailed": True}),
    ("get_settings", {"category": "ssh"}),
    ("list_jobs", {"limit": 20}),
    ("update_settings (audited write)", {"settings": {"ssh_command_timeout": 61}}),
]


async def main() -> None:
    from fastmcp import Client

    configure_logging("WARNING")
    calls = int(sys.argv[1]) if len(sys.argv) > 1 else 500
    with tempfile.TemporaryDirectory() as data:
        app = build_app(TomoConfig(data_dir=Path(data)))
        rows = []
        async with Client(app.mcp) as client:
            for label, args in CASES:
                tool = label.split(" ")[0]
                for _ in range(20):
                    await client.call_tool(tool, args)
                samples = []
                for _ in range(calls):
                    started = time.perf_counter()
                    await client.call_tool(tool, args)
                    samples.append((time.perf_counter() - started) * 1000)
                rows.append(row(label, samples))
    print_table("in-memory tool call round trip (fastmcp.Client -> Tomo, full protocol)", rows)
    print("\ntarget: health_check median < 1 ms")


if __name__ == "__main__":
    asyncio.run(main())
