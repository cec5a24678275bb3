"""Protocol-level guards: roles checked before validation, validation errors as envelopes, filtered tool lists."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

import mcp.types as mt
from fastmcp.exceptions import ValidationError as FastMCPValidationError
from fastmcp.server.middleware import CallNext, Middleware, MiddlewareContext
from fastmcp.tools import Tool, ToolResult
from pydantic import ValidationError as PydanticValidationError

from tomo.errors import PermissionDenied
from tomo.lib.mcp import envelope
from tomo.lib.mcp.tooling import ToolPolicy
from tomo.lib.mcp.wrapper import AuditSink, authorize
from tomo.models.log import AuditOutcome
from tomo.models.principal import Principal


def describe_validation_error(tool: str, exc: BaseException) -> str:
    """A readable account of what was wrong with the arguments, without echoing their values."""
    cause = exc if isinstance(exc, PydanticValidationError) else exc.__cause__
    if isinstance(cause, PydanticValidationError):
        problems = []
        for err in cause.errors(include_input=False, include_url=False)[:8]:
            where = ".".join(str(part) for part in err["loc"]) or "arguments"
            problems.append(f"{where}: {err['msg']}")
        detail = "; ".join(problems)
    else:
        detail = "the arguments do not match the tool's input schema"
    return f"Invalid arguments for {tool}: {detail}. Fix them (see the tool's input schema) and call {tool} again."


class TomoMiddleware(Middleware):
    """Turns FastMCP's argument validation failures into VALIDATION_ERROR envelopes; hides forbidden tools."""

    def __init__(
        self,
        policies: Mapping[str, ToolPolicy],
        resolve_principal: Callable[[], Awaitable[Principal]],
        audit: AuditSink,
    ) -> None:
        self.policies = policies
        self.resolve_principal = resolve_principal
        self.audit = audit

    async def on_call_tool(
        self,
        context: MiddlewareContext[mt.CallToolRequestParams],
        call_next: CallNext[mt.CallToolRequestParams, ToolResult],
    ) -> ToolResult:
        denied = await self._deny(context.message)
        if denied is not None:
            return denied
        try:
            return await call_next(context)
        except (FastMCPValidationError, PydanticValidationError) as exc:
            name = context.message.name
            result = envelope.failure("VALIDATION_ERROR", describe_validation_error(name, exc))
            policy = self.policies.get(name)
            if policy is not None and policy.audited:
                principal = await self.resolve_principal()
                arguments: dict[str, Any] = dict(context.message.arguments or {})
                await self.audit.record_call(principal, name, arguments, AuditOutcome.ERROR, "VALIDATION_ERROR", 0.0)
            return ToolResult(structured_content=result, is_error=True)

    async def _deny(self, message: mt.CallToolRequestParams) -> ToolResult | None:
        """Refuse a forbidden call before its arguments are validated (the wrapper checks again)."""
        policy = self.policies.get(message.name)
        if policy is None or policy.public:
            return None
        principal = await self.resolve_principal()
        try:
            authorize(principal, policy, message.name)
        except PermissionDenied as exc:
            if policy.audited:
                arguments: dict[str, Any] = dict(message.arguments or {})
                await self.audit.record_call(principal, message.name, arguments, AuditOutcome.DENIED, exc.code, 0.0)
            return ToolResult(structured_content=envelope.from_error(exc), is_error=True)
        return None

    async def on_list_tools(
        self, context: MiddlewareContext[mt.ListToolsRequest], call_next: CallNext[mt.ListToolsRequest, Sequence[Tool]]
    ) -> Sequence[Tool]:
        tools = await call_next(context)
        principal = await self.resolve_principal()
        return [t for t in tools if self._visible(t.name, principal)]

    def _visible(self, name: str, principal: Principal) -> bool:
        policy = self.policies.get(name)
        return policy is None or policy.public or principal.has_role(policy.role)
