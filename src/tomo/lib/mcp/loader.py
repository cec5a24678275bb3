"""Tool auto-discovery: every sub-package of ``tomo.tools`` with a ``tools.py`` becomes tools.

For each package: import ``<package>.<module>.tools``, find its one ``*Tools``
class, build it by matching constructor parameter names to the dependency map,
and register every public method (name = method name, description = docstring)
through the tool wrapper. A method marked ``@tomo_resource`` or ``@tomo_prompt``
becomes that MCP resource or prompt instead (see ``lib/mcp/views.py``), never a
tool. Adding a module means adding a folder. Any problem fails start-up with a
:class:`ToolLoadError` naming the class and parameter.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import structlog
from fastmcp import FastMCP
from fastmcp.resources import Resource, ResourceTemplate
from fastmcp.tools import Tool

from tomo.lib.mcp.schemas import SchemaCache, build_tool
from tomo.lib.mcp.tooling import ToolPolicy, ViewSpec, view_spec
from tomo.lib.mcp.views import View, build_view
from tomo.lib.mcp.wrapper import ToolRuntime

logger = structlog.get_logger("tomo.tool_loader")

DEFAULT_PACKAGES = ("tomo.tools",)


class ToolLoadError(RuntimeError):
    """A tool module cannot be loaded; the message names the module, class or parameter."""


@dataclass(frozen=True)
class LoadedTool:
    """A registered tool and the policy the wrapper enforces for it."""

    tool: Tool
    policy: ToolPolicy
    module: str


@dataclass
class LoadedModules:
    """Everything the tool modules declare: tools (with their policies), resources and prompts."""

    tools: list[LoadedTool] = field(default_factory=list)
    views: list[View] = field(default_factory=list)


def discover_tool_modules(package: str) -> list[str]:
    """Names of ``<package>.<sub>.tools`` modules, one per sub-package, sorted."""
    try:
        root = importlib.import_module(package)
    except ImportError as exc:
        raise ToolLoadError(f"tool package '{package}' cannot be imported: {exc}") from exc
    found = []
    for info in pkgutil.iter_modules(getattr(root, "__path__", [])):
        if info.ispkg and not info.name.startswith("_"):
            found.append(f"{package}.{info.name}.tools")
    return sorted(found)


def _import(module_name: str) -> ModuleType:
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name == module_name:
            raise ToolLoadError(f"tool module '{module_name}' is missing: add tools.py to the folder") from exc
        raise ToolLoadError(f"tool module '{module_name}' failed to import: {exc}") from exc
    except Exception as exc:
        raise ToolLoadError(f"tool module '{module_name}' failed to import: {type(exc).__name__}: {exc}") from exc


def find_tools_class(module: ModuleType) -> type:
    """The one class named ``*Tools`` defined in the module."""
    classes = [
        obj for name, obj in vars(module).items()
        if inspect.isclass(obj) and name.endswith("Tools") and obj.__module__ == module.__name__
    ]
    if len(classes) != 1:
        found = ", ".join(c.__name__ for c in classes) or "none"
        raise ToolLoadError(f"tool module '{module.__name__}' must define exactly one *Tools class (found: {found})")
    return classes[0]


def instantiate_tools_class(cls: type, dependencies: Mapping[str, Any]) -> Any:
    """Build ``cls`` by passing each constructor parameter the dependency of the same name."""
    kwargs: dict[str, Any] = {}
    for param in inspect.signature(cls).parameters.values():
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue
        if param.name in dependencies:
            kwargs[param.name] = dependencies[param.name]
        elif param.default is inspect.Parameter.empty:
            known = ", ".join(sorted(dependencies)) or "none"
            raise ToolLoadError(
                f"{cls.__name__}.__init__ needs '{param.name}', which is not in the dependency map (known: {known})"
            )
    return cls(**kwargs)


def public_methods(instance: Any) -> list[tuple[str, Callable[..., Any]]]:
    """Public methods defined on the instance's class (not inherited from ``object``)."""
    methods = []
    for name, _ in inspect.getmembers(type(instance), inspect.isfunction):
        if not name.startswith("_"):
            methods.append((name, getattr(instance, name)))
    return methods


def _policy_for(cls: type, name: str, method: Callable[..., Any]) -> ToolPolicy:
    meta = getattr(method, "__fastmcp__", None)
    tomo_meta = (meta.meta or {}).get("tomo") if meta is not None else None
    if tomo_meta is None:
        raise ToolLoadError(f"{cls.__name__}.{name} is public but has no @tomo_tool(...) metadata")
    if not inspect.iscoroutinefunction(method):
        raise ToolLoadError(f"{cls.__name__}.{name} must be 'async def'")
    read_only = bool(meta is not None and meta.annotations and meta.annotations.read_only_hint)
    return ToolPolicy.from_meta(tomo_meta, read_only)


def load_modules(
    dependencies: Mapping[str, Any],
    runtime: ToolRuntime,
    packages: Sequence[str] = DEFAULT_PACKAGES,
    schema_cache: SchemaCache | None = None,
) -> LoadedModules:
    """Discover, build and wrap every tool, resource and prompt of the given packages (nothing is registered yet).

    Input schemas come from ``schema_cache`` when it holds them (see ``lib/mcp/schemas.py``).
    """
    loaded = LoadedModules()
    seen: dict[str, str] = {}
    for package in packages:
        for module_name in discover_tool_modules(package):
            cls = find_tools_class(_import(module_name))
            instance = instantiate_tools_class(cls, dependencies)
            for name, method in public_methods(instance):
                if name in seen:
                    raise ToolLoadError(f"tool '{name}' is defined by both {seen[name]} and {cls.__name__}")
                seen[name] = cls.__name__
                spec = view_spec(method)
                if spec is not None:
                    loaded.views.append(_view_for(cls, name, method, spec, runtime))
                    continue
                policy = _policy_for(cls, name, method)
                loaded.tools.append(LoadedTool(build_tool(method, policy, runtime, schema_cache), policy, module_name))
    return loaded


def _view_for(cls: type, name: str, method: Callable[..., Any], spec: ViewSpec, runtime: ToolRuntime) -> View:
    if getattr(method, "__fastmcp__", None) is not None:
        raise ToolLoadError(f"{cls.__name__}.{name} is marked both as a tool and as a resource or prompt")
    if not inspect.iscoroutinefunction(method):
        raise ToolLoadError(f"{cls.__name__}.{name} must be 'async def'")
    try:
        return build_view(method, spec, runtime)
    except (TypeError, ValueError) as exc:
        raise ToolLoadError(f"{cls.__name__}.{name} cannot become a resource or prompt: {exc}") from exc


def register_all_tools(mcp: FastMCP, tools: Iterable[LoadedTool]) -> dict[str, ToolPolicy]:
    """Add the tools to the server; returns each tool's policy by name."""
    policies = {}
    for item in tools:
        mcp.add_tool(item.tool)
        policies[item.tool.name] = item.policy
    logger.debug("tools_registered", count=len(policies))
    return policies


def register_views(mcp: FastMCP, views: Iterable[View]) -> None:
    """Add the resources, resource templates and prompts to the server."""
    for view in views:
        if isinstance(view, ResourceTemplate):
            mcp.add_template(view)
        elif isinstance(view, Resource):
            mcp.add_resource(view)
        else:
            mcp.add_prompt(view)
