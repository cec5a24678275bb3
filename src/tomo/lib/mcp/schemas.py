"""Building FastMCP tools from wrapped methods, with their input schemas kept between starts.

Deriving a tool's input schema (Pydantic type adapters, docstring ``Args:`` parsing, schema
compression) costs about a millisecond per tool, the largest part of building the server: a
desktop client pays it on every launch. The schemas depend only on source code and library
versions, so they are saved in the data directory under a fingerprint of both and reused while
the fingerprint matches. Any edit to a tool package's sources (tools, models, the wrapper) or
an upgrade of Tomo, FastMCP, Pydantic or Python changes the fingerprint, and every schema is
derived again by FastMCP itself. A missing, unreadable or stale file only costs that time.

Every admin's ``tools/list`` carries every tool, so a byte that tells a model nothing is sent
often (tests/unit/test_tool_catalogue.py pins the budget). A tool's description is therefore its
docstring without the ``Args:`` section: each parameter's text is sent once, in the input schema
(its ``Field(description=...)``, or else its ``Args:`` line, which FastMCP copies there). A
parameter's own description also replaces its type's (see :func:`compact_schema`). The title
is sent once, as the tool's ``title``, which MCP clients display before ``annotations.title``.
"""

from __future__ import annotations

import hashlib
import importlib.util
import inspect
import json
import os
import re
import sys
from collections.abc import Awaitable, Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import fastmcp
import pydantic
import pydantic_core
import structlog
from fastmcp.tools import Tool
from fastmcp.tools.function_tool import FunctionTool
from fastmcp.utilities.tasks import TaskConfig

from tomo import __version__
from tomo.lib.mcp.tooling import ToolPolicy
from tomo.lib.mcp.wrapper import ToolRuntime, wrap_method

logger = structlog.get_logger("tomo.tool_schemas")

CACHE_FILE = "tool-schemas.json"

_ARGS_SECTION = re.compile(r"^Args:[ \t]*$", re.MULTILINE)


def tool_description(docstring: str | None) -> str:
    """The description a model reads: the docstring up to its ``Args:`` section."""
    text = inspect.cleandoc(docstring or "")
    found = _ARGS_SECTION.search(text)
    return text[: found.start()].rstrip() if found else text


def compact_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """Drop, in place, the type descriptions that a parameter's own description overrides.

    A parameter typed ``X | None`` keeps X's description inside its ``anyOf``; when the parameter
    has a description of its own, that is the one a model should read (as pydantic does for a
    parameter typed ``X``). Names, types, constraints, defaults and required-ness are untouched.
    """
    definitions = schema.get("$defs", {})
    for prop in schema.get("properties", {}).values():
        if isinstance(prop, dict) and "description" in prop and isinstance(prop.get("anyOf"), list):
            prop["anyOf"] = [_without_description(branch, definitions) for branch in prop["anyOf"]]
    return schema


def _without_description(branch: Any, definitions: dict[str, Any]) -> Any:
    """``branch`` without its description; a ``$ref`` to a definition becomes a copy of it (others share it)."""
    if not isinstance(branch, dict):
        return branch
    ref = branch.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/") and len(branch) == 1:
        target = definitions.get(ref.removeprefix("#/$defs/"))
        if isinstance(target, dict):
            branch = target
    return {key: value for key, value in branch.items() if key != "description"}


def package_roots(packages: Iterable[str]) -> list[Path]:
    """The top-level package folders the given tool packages live in (``tomo.tools`` -> ``.../tomo``).

    Nothing is imported; a package that cannot be found is left to the tool loader to report.
    """
    roots: set[Path] = set()
    for package in packages:
        spec = importlib.util.find_spec(package.split(".", 1)[0])
        if spec is not None and spec.submodule_search_locations:
            roots.update(Path(entry) for entry in spec.submodule_search_locations)
    return sorted(roots)


def source_fingerprint(packages: Iterable[str]) -> str:
    """A digest of everything a tool schema is derived from: sources and library versions.

    Every ``.py`` file of Tomo and of the tool packages' top-level packages counts (parameter
    types come from models, services and the wrapper as well as from the tool modules).
    """
    digest = hashlib.sha256()
    versions = (__version__, fastmcp.__version__, pydantic.VERSION, pydantic_core.__version__, sys.version)
    digest.update(repr(versions).encode())
    for root in package_roots(["tomo", *packages]):
        for path in sorted(root.rglob("*.py")):
            digest.update(str(path.relative_to(root)).encode() + b"\0")
            digest.update(path.read_bytes())
    return digest.hexdigest()


class SchemaCache:
    """Tool input schemas by tool name, valid for one source fingerprint."""

    def __init__(self, path: Path, fingerprint: str, schemas: dict[str, dict[str, Any]] | None = None) -> None:
        self.path = path
        self.fingerprint = fingerprint
        self.schemas = schemas or {}
        self.changed = False

    @classmethod
    def load(cls, path: Path, packages: Sequence[str]) -> SchemaCache:
        """The cache saved at ``path`` if it matches the current sources, else an empty one."""
        fingerprint = source_fingerprint(packages)
        try:
            saved = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return cls(path, fingerprint)
        if not isinstance(saved, dict) or saved.get("fingerprint") != fingerprint:
            return cls(path, fingerprint)
        schemas = saved.get("schemas")
        return cls(path, fingerprint, schemas if isinstance(schemas, dict) else None)

    def get(self, name: str) -> dict[str, Any] | None:
        """The saved input schema of tool ``name``, or None."""
        schema = self.schemas.get(name)
        return schema if isinstance(schema, dict) else None

    def put(self, name: str, schema: dict[str, Any]) -> None:
        """Remember a freshly derived schema (written by :meth:`save`)."""
        self.schemas[name] = schema
        self.changed = True

    def save(self) -> None:
        """Write the file if a schema was added (atomically); a write failure only logs a warning."""
        if not self.changed:
            return
        text = json.dumps({"fingerprint": self.fingerprint, "schemas": self.schemas}, sort_keys=True)
        try:
            _write_atomically(self.path, text)
        except OSError as exc:
            logger.warning("tool_schema_cache_not_saved", path=str(self.path), error=str(exc))
            return
        self.changed = False


def _write_atomically(path: Path, text: str) -> None:
    """Replace ``path`` in one step, so a concurrent start reads the old file or the new one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def build_tool(
    method: Callable[..., Awaitable[Any]], policy: ToolPolicy, runtime: ToolRuntime, cache: SchemaCache | None = None
) -> Tool:
    """Turn a decorated tool method into a FastMCP tool carrying its annotations and policy."""
    meta = method.__fastmcp__  # type: ignore[attr-defined]
    name = method.__name__
    handler = wrap_method(method, policy, runtime)
    description = tool_description(method.__doc__)
    title = meta.annotations.title
    annotations = meta.annotations.model_copy(update={"title": None})
    schema = cache.get(name) if cache is not None else None
    if schema is None:
        tool = Tool.from_function(
            handler, name=name, title=title, description=description, annotations=annotations, meta=meta.meta,
            output_schema=None,
        )
        compact_schema(tool.parameters)
        if cache is not None:
            cache.put(name, tool.parameters)
        return tool
    # The same fields Tool.from_function sets for this handler, with the schema it derived last time.
    return FunctionTool(
        fn=handler, name=name, title=title, description=description, parameters=schema, output_schema=None,
        annotations=annotations, meta=meta.meta, return_type=handler.__annotations__["return"],
        task_config=TaskConfig(mode="forbidden"),
    )
