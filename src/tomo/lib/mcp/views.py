"""Resources and prompts built from *Tools methods marked with ``@tomo_resource`` / ``@tomo_prompt``.

Like the tool wrapper, this is the one place around such a method: it runs it as the caller,
checks the role, turns the result into JSON text (resources) and turns domain errors into MCP
errors whose message says what to do next. Reads are not audited. A crash is left to FastMCP,
which logs it and answers a generic error (the server masks error details).
"""

from __future__ import annotations

import inspect
import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any

import pydantic_core
import structlog
from fastmcp.exceptions import FastMCPError, PromptError, ResourceError
from fastmcp.exceptions import ValidationError as FastMCPValidationError
from fastmcp.prompts import Prompt
from fastmcp.resources import Resource, ResourceTemplate
from mcp.types import Annotations

from tomo.errors import NotFoundError, TomoError, ValidationError
from tomo.lib.mcp.tooling import ToolPolicy, ViewSpec, reset_current_principal, set_current_principal
from tomo.lib.mcp.wrapper import ToolRuntime, authorize

logger = structlog.get_logger("tomo.views")
_ARGUMENT = re.compile(r"^    (?P<name>\w+): (?P<text>.+)$")

View = Resource | ResourceTemplate | Prompt


def build_view(method: Callable[..., Awaitable[Any]], spec: ViewSpec, runtime: ToolRuntime) -> View:
    """The FastMCP resource, resource template or prompt for a marked method."""
    name = method.__name__
    description = _first_paragraph(method.__doc__)
    if spec.uri is None:
        prompt_fn = _handler(method, spec, runtime, _prompt_error, render=str)
        prompt = Prompt.from_function(prompt_fn, name=name, title=spec.title, description=description)
        documented = _argument_docs(method.__doc__)
        prompt.arguments = [argument.model_copy(update={"description": documented.get(argument.name)})
                            for argument in prompt.arguments or []]  # fmt: skip
        return prompt
    read_fn = _handler(method, spec, runtime, _resource_error, render=_json_text)
    kwargs: dict[str, Any] = {
        "name": name, "title": spec.title, "description": description, "mime_type": "application/json",
        "annotations": Annotations(audience=["user", "assistant"]),
    }
    if "{" in spec.uri:
        return ResourceTemplate.from_function(read_fn, uri_template=spec.uri, **kwargs)
    return Resource.from_function(read_fn, uri=spec.uri, **kwargs)


def _handler(
    method: Callable[..., Awaitable[Any]],
    spec: ViewSpec,
    runtime: ToolRuntime,
    translate: Callable[[TomoError, str], FastMCPError],
    render: Callable[[Any], str],
) -> Callable[..., Awaitable[str]]:
    policy = ToolPolicy(role=spec.role, read_only=True, destructive=False, job=False, public=False)
    label = spec.uri or method.__name__

    async def handler(**kwargs: Any) -> str:
        principal = await runtime.resolve_principal()
        token = set_current_principal(principal)
        target = label.format(**kwargs) if spec.uri else label
        try:
            authorize(principal, policy, target)
            return render(await method(**kwargs))
        except TomoError as exc:
            logger.info("view_failed", view=label, code=exc.code)
            raise translate(exc, target) from exc
        finally:
            reset_current_principal(token)

    signature = inspect.signature(method, eval_str=True).replace(return_annotation=str)
    handler.__name__ = handler.__qualname__ = method.__name__
    handler.__doc__ = None  # the description is passed explicitly: FastMCP would parse the docstring with griffe
    handler.__signature__ = signature  # type: ignore[attr-defined]
    handler.__annotations__ = {p.name: p.annotation for p in signature.parameters.values()} | {"return": str}
    return handler


def _resource_error(exc: TomoError, uri: str) -> FastMCPError:
    if isinstance(exc, NotFoundError):
        return FastMCPValidationError(f"Resource not found: {uri} ({exc.code}). {exc.message}",
                                      log_level=logging.DEBUG)
    if isinstance(exc, ValidationError):
        return FastMCPValidationError(f"Invalid resource URI {uri}: {exc.message}", log_level=logging.DEBUG)
    return ResourceError(f"Reading {uri} failed ({exc.code}): {exc.message}", log_level=logging.DEBUG)


def _prompt_error(exc: TomoError, name: str) -> FastMCPError:
    return PromptError(f"Prompt {name} failed ({exc.code}): {exc.message}", log_level=logging.DEBUG)


def _json_text(value: Any) -> str:
    return pydantic_core.to_json(value, indent=2).decode()


def _argument_docs(doc: str | None) -> dict[str, str]:
    """The ``Args:`` section of a prompt method's docstring: argument name -> description.

    FastMCP would read it with griffe, whose import alone costs ~50 ms of every start; Tomo's prompts
    write one ``name: description`` line per argument (continued on more-indented lines).
    """
    _, _, section = inspect.cleandoc(doc or "").partition("\nArgs:\n")
    found: dict[str, str] = {}
    name = ""
    for line in section.splitlines():
        if match := _ARGUMENT.match(line):
            name, found[match["name"]] = match["name"], match["text"]
        elif name and line.startswith("        ") and line.strip():
            found[name] += " " + line.strip()
        else:
            break
    return found


def _first_paragraph(doc: str | None) -> str:
    return inspect.cleandoc(doc or "").split("\n\n", 1)[0].replace("\n", " ")
