"""A start on a current schema leaves the heavy, rarely needed libraries unimported (start-up speed, issue 2)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

#: Loaded on first use only: SSH, migrations, catalog parsing, password hashing, the PostgreSQL dialect, and
#: griffe (FastMCP's docstring parser: the saved tool schemas and the prompts' own Args reading avoid it), and the
#: HTTP transport of the app probe (httpx2 itself is imported by FastMCP; httpcore2 only by a client), and RE2 (the
#: redaction patterns, compiled when the first text is masked), and SQLAlchemy's ORM (Tomo runs Core statements;
#: database/async_core.py loads the asyncio engine without it).
LAZY = ("asyncssh", "alembic", "yaml", "argon2", "sqlalchemy.dialects.postgresql", "asyncpg", "griffe", "httpcore2",
        "re2", "sqlalchemy.orm")
#: Never loaded by a process that configures logging first, as the tomo command does: rich's traceback rendering,
#: with pygments and attrs, which structlog would import for nothing (lib/logging_config.py hides them from it).
UNUSED_BY_LOGGING = ("rich.traceback", "rich.pretty", "pygments", "attr")

START = """
import asyncio, sys
from pathlib import Path
from tomo.lib.config import TomoConfig
{setup}
from tomo.main import build_app

async def main():
    app = build_app(TomoConfig(data_dir=Path({data_dir!r})))
    await app.startup()
    await app.shutdown()

asyncio.run(main())
print(",".join(name for name in {lazy!r} if name in sys.modules))
"""


def test_a_start_on_a_current_schema_imports_none_of_the_lazy_libraries(tmp_path: Path) -> None:
    code = START.format(data_dir=str(tmp_path / "data"), lazy=LAZY, setup="")
    first = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    assert "alembic" in first.stdout.splitlines()[-1]  # the first start migrates: the check can see imports
    second = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    assert second.stdout.splitlines()[-1] == ""


def test_a_start_with_logging_configured_imports_no_traceback_renderer(tmp_path: Path) -> None:
    setup = "from tomo.lib.logging_config import configure_logging\nconfigure_logging('WARNING')"
    code = START.format(data_dir=str(tmp_path / "data"), lazy=UNUSED_BY_LOGGING, setup=setup)
    subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)  # migrates
    second = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    assert second.stdout.splitlines()[-1] == ""
