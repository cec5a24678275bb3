"""SQLAlchemy's asyncio engine without the ORM that its package imports.

Tomo runs Core statements only, but ``sqlalchemy.ext.asyncio``'s ``__init__`` imports its session module and
with it the whole ORM: ~40 modules, ~6 MB of every Tomo process (idle RSS, bench/bench_startup.py). This module
loads the package without running that ``__init__``: its engine and result modules load as usual and their names
are set on the package (``AsyncConnection``, ``AsyncEngine``, ``create_async_engine``...). The first access to any
other name of the package (``AsyncSession``, ``async_sessionmaker``...) runs the real ``__init__`` in place, so
code that uses the ORM half still finds the complete package, and loads the ORM then.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import threading
from types import ModuleType
from typing import Any

PACKAGE = "sqlalchemy.ext.asyncio"
#: The package's modules that need no ORM, and the names its ``__init__`` takes from them.
CORE_NAMES = {
    "engine": ("async_engine_from_config", "AsyncConnection", "AsyncEngine", "AsyncTransaction", "create_async_engine",
               "create_async_pool_from_url"),
    "result": ("AsyncMappingResult", "AsyncResult", "AsyncScalarResult", "AsyncTupleResult"),
}
_completing = threading.Lock()


def load() -> ModuleType:
    """``sqlalchemy.ext.asyncio`` with its Core half loaded (the package itself if already imported)."""
    existing = sys.modules.get(PACKAGE)
    if existing is not None:
        return existing
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or spec.loader is None:
        raise ImportError(f"{PACKAGE} is not installed", name=PACKAGE)
    package = importlib.util.module_from_spec(spec)
    sys.modules[PACKAGE] = package
    try:
        for module_name, names in CORE_NAMES.items():
            module = importlib.import_module(f"{PACKAGE}.{module_name}")
            package.__dict__.update({name: getattr(module, name) for name in names})
    except BaseException:
        del sys.modules[PACKAGE]
        raise
    # Only now: while the modules above load, the import system probes the package for their submodules.
    package.__dict__["__getattr__"] = _completer(package, spec.loader)
    from sqlalchemy.util import concurrency

    concurrency._concurrency_shim._initialize()  # as the real __init__ does: no greenlet is an ImportError now
    return package


def _completer(package: ModuleType, loader: Any) -> Any:
    def complete(name: str) -> Any:
        """Module ``__getattr__``: a name the Core half lacks; run the package's own ``__init__``, then look again."""
        if name.startswith("__"):  # probes such as __path__ or __file__ by tools: not a reason to load the ORM
            raise AttributeError(f"module {PACKAGE!r} has no attribute {name!r}")
        with _completing:
            if package.__dict__.pop("__getattr__", None) is not None:
                loader.exec_module(package)
        return getattr(package, name)

    return complete
