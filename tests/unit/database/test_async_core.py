"""sqlalchemy.ext.asyncio loaded without the ORM: the same names as the real package, the ORM half on first use."""

from __future__ import annotations

import ast
import importlib.util
import subprocess
import sys
from pathlib import Path

from tomo.database import async_core


def _run(code: str) -> list[str]:
    """Run ``code`` in a fresh interpreter (this one has imported the ORM already) and return its output lines."""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    return done.stdout.split()


def test_the_core_names_are_those_the_package_takes_from_its_core_modules() -> None:
    spec = importlib.util.find_spec(async_core.PACKAGE)
    assert spec is not None and spec.origin is not None
    tree = ast.parse(Path(spec.origin).read_text(encoding="utf-8"))
    exported: dict[str, set[str]] = {}
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.level == 1 and node.module:
            exported.setdefault(node.module, set()).update(alias.asname or alias.name for alias in node.names)
    assert {module: set(names) for module, names in async_core.CORE_NAMES.items()} == {
        module: exported[module] for module in async_core.CORE_NAMES
    }


def test_tomo_database_loads_the_asyncio_engine_without_the_orm() -> None:
    lines = _run(
        "import sys\n"
        "import tomo.database.repositories.auth, tomo.database.upsert, tomo.database.engine\n"
        "from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncResult, create_async_engine\n"
        "from sqlalchemy.ext.asyncio.engine import AsyncConnection as Real\n"
        "print('sqlalchemy.orm' in sys.modules, AsyncConnection is Real)\n"
    )
    assert lines == ["False", "True"]


def test_the_orm_half_loads_on_first_use_and_the_package_is_then_complete() -> None:
    lines = _run(
        "import sys\n"
        "import tomo.database.engine\n"
        "import sqlalchemy.ext.asyncio as package\n"
        "print(hasattr(package, '__no_such_dunder__'), 'sqlalchemy.orm' in sys.modules)\n"
        "from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker\n"
        "from sqlalchemy.ext.asyncio.session import AsyncSession as Real\n"
        "print('sqlalchemy.orm' in sys.modules, AsyncSession is Real, '__getattr__' in vars(package))\n"
        "try:\n"
        "    package.no_such_name\n"
        "except AttributeError:\n"
        "    print('AttributeError')\n"
    )
    assert lines == ["False", "False", "True", "True", "False", "AttributeError"]


def test_an_already_imported_package_is_left_as_it_is() -> None:
    lines = _run(
        "import sqlalchemy.ext.asyncio as full\n"
        "from tomo.database import async_core\n"
        "print(async_core.load() is full, hasattr(full, 'AsyncSession'))\n"
    )
    assert lines == ["True", "True"]
