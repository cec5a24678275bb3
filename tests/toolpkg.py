"""Throwaway tool packages written to a temp dir, for loader and wrapper tests."""

from __future__ import annotations

import sys
import textwrap
import uuid
from pathlib import Path


def make_tool_package(root: Path, modules: dict[str, str]) -> str:
    """Write ``<pkg>/<module>/tools.py`` for each entry, put ``root`` on sys.path, return the package name."""
    package = f"tomo_test_tools_{uuid.uuid4().hex[:8]}"
    base = root / package
    base.mkdir(parents=True)
    (base / "__init__.py").write_text("")
    for module, source in modules.items():
        (base / module).mkdir()
        (base / module / "__init__.py").write_text("")
        (base / module / "tools.py").write_text(textwrap.dedent(source))
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    return package


ECHO_MODULE = '''
from tomo.errors import ServerNotFound
from tomo.lib.mcp.tooling import tomo_tool
from tomo.models.common import Reply, JobStarted
from tomo.models.principal import Role


class EchoTools:
    def __init__(self, job_service):
        self.jobs = job_service
        self.calls = 0

    @tomo_tool(read_only=True)
    async def echo_text(self, text: str) -> Reply:
        """Echo the text back."""
        return Reply("echoed", {"text": text})

    @tomo_tool(role=Role.OPERATOR)
    async def echo_missing_server(self, server_id: str) -> Reply:
        """Always fails with a domain error."""
        raise ServerNotFound(f"Server '{server_id}' not found; call list_servers.")

    @tomo_tool(role=Role.OPERATOR)
    async def echo_crash(self, password: str = "") -> Reply:
        """Always fails with an unexpected exception."""
        raise RuntimeError("secret-internal-detail /etc/shadow")

    @tomo_tool(role=Role.OPERATOR)
    async def echo_pin(self, settings: dict) -> Reply:
        """Treat the value of settings['PIN'] as secret, as app inputs of type password are."""
        from tomo.lib.mcp.tooling import mark_secret

        mark_secret(settings["PIN"])
        return Reply("stored", {"keys": sorted(settings)})

    @tomo_tool(role=Role.OPERATOR, destructive=True)
    async def echo_destroy(self) -> Reply:
        """Counts calls; destructive."""
        self.calls += 1
        return Reply("destroyed", {"calls": self.calls})

    @tomo_tool(role=Role.OPERATOR, job=True)
    async def echo_sleep_job(self, seconds: float = 0.2, fail: bool = False) -> JobStarted:
        """Start a job that sleeps."""
        import asyncio

        async def run(ctx):
            async with ctx.step("sleeping"):
                for i in range(10):
                    await asyncio.sleep(seconds / 10)
                    await ctx.progress((i + 1) * 10, f"slept {i + 1}/10")
            if fail:
                async with ctx.step("failing"):
                    raise ServerNotFound("gone")
            return {"slept": seconds}

        job_id = await self.jobs.start("sleep", f"Sleep {seconds}s", run, resource="sleep:one")
        return JobStarted(job_id, "sleeping")
'''
