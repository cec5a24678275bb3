"""The one tool wrapper: envelope, errors, confirm, roles, audit, jobs.

Every tool method goes through :func:`wrap_method`. Tool code only returns a
:class:`~tomo.models.common.Reply` (or :class:`~tomo.models.common.JobStarted`) or
raises a domain error; everything a client sees around that is built here.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, Protocol

import structlog
from fastmcp.tools import ToolResult
from pydantic import Field

from tomo.errors import ConfirmationRequired, PermissionDenied, TomoError
from tomo.lib.mcp import envelope
from tomo.lib.mcp.tooling import (
    ToolPolicy,
    end_call_secrets,
    reset_current_principal,
    set_current_principal,
    start_call_secrets,
)
from tomo.lib.redaction import mask_values, redact
from tomo.models.common import JobStarted, Reply
from tomo.models.job import Job, JobStatus, ProgressCallback
from tomo.models.log import AuditOutcome
from tomo.models.principal import Principal

logger = structlog.get_logger("tomo.tools")

WaitSeconds = Annotated[
    int | None,
    Field(
        ge=0,
        le=600,
        description="Seconds to wait for the job before returning its id (0 = return at once; "
        "default: the default_wait_seconds setting, 30).",
    ),
]


class AuditSink(Protocol):
    """Where the wrapper records state-changing calls."""

    async def record_call(
        self,
        principal: Principal,
        tool: str,
        arguments: dict[str, Any],
        outcome: AuditOutcome,
        error_code: str | None,
        duration_ms: float,
    ) -> None: ...


class JobWaiter(Protocol):
    """Waits for a job while forwarding its progress."""

    async def wait(self, job_id: str, timeout: float, on_progress: ProgressCallback | None) -> Job: ...


class ToolRuntime:
    """What the wrapper needs from the rest of Tomo, injected by the composition root."""

    def __init__(
        self,
        resolve_principal: Callable[[], Awaitable[Principal]],
        audit: AuditSink,
        jobs: JobWaiter,
        default_wait_seconds: Callable[[], int] = lambda: 30,
    ) -> None:
        self.resolve_principal = resolve_principal
        self.audit = audit
        self.jobs = jobs
        self.default_wait_seconds = default_wait_seconds


def authorize(principal: Principal, policy: ToolPolicy, tool: str) -> None:
    """Raise PermissionDenied unless the principal may call the tool."""
    if policy.public or principal.has_role(policy.role):
        return
    if not principal.authenticated:
        if principal.detail:
            raise PermissionDenied(f"{tool} was refused: {principal.detail}")
        raise PermissionDenied(f"{tool} needs a signed-in caller: send 'Authorization: Bearer <token>' (see login).")
    raise PermissionDenied(
        f"{tool} needs the {policy.role.value} role; you are signed in as "
        f"'{principal.username}' ({principal.role}). Ask an admin if you need it."
    )


def _extended_signature(method: Callable[..., Any], policy: ToolPolicy) -> inspect.Signature:
    sig = inspect.signature(method, eval_str=True)
    params = list(sig.parameters.values())
    kw = inspect.Parameter.KEYWORD_ONLY
    if policy.destructive and "confirm" not in sig.parameters:
        params.append(inspect.Parameter("confirm", kw, default=False, annotation=bool))
    if policy.job and "wait_seconds" not in sig.parameters:
        params.append(inspect.Parameter("wait_seconds", kw, default=None, annotation=WaitSeconds))
    return sig.replace(parameters=params, return_annotation=dict[str, Any])


async def _report_progress(progress: float, message: str | None) -> None:
    from fastmcp.server.dependencies import get_context

    try:
        ctx = get_context()
    except RuntimeError:
        return
    await ctx.report_progress(progress, 100, message)


def job_envelope(job: Job) -> dict[str, Any]:
    """The envelope for a job tool once the wait is over."""
    data = {"job_id": job.id, "status": job.status.value, **(job.result or {}), "job": job}
    if job.status is JobStatus.SUCCEEDED:
        return envelope.success(job.message or f"{job.title}: done.", data)
    if not job.status.finished:
        return envelope.success(
            f"Job {job.id} ({job.title}) is still running at {job.progress:.0f}%"
            f"{': ' + job.message if job.message else ''}. Call get_job with job_id='{job.id}' to follow it.",
            data,
        )
    code = job.error.code if job.error else "JOB_FAILED"
    reason = job.error.message if job.error else f"the job ended as {job.status.value}"
    return envelope.failure(code, f"{job.title} failed: {reason} (job {job.id}; get_job shows each step).", data)


class _Call:
    """One invocation of a wrapped tool."""

    def __init__(self, name: str, policy: ToolPolicy, runtime: ToolRuntime, accepted: set[str]) -> None:
        self.name = name
        self.policy = policy
        self.runtime = runtime
        self.accepted = accepted

    async def run(self, method: Callable[..., Awaitable[Any]], kwargs: dict[str, Any]) -> ToolResult:
        started = time.perf_counter()
        principal = await self.runtime.resolve_principal()
        token = set_current_principal(principal)
        secrets, secrets_token = start_call_secrets()
        try:
            result = await self._guarded(principal, method, kwargs)
        except asyncio.CancelledError:  # the client gave up: what the call did so far is still on the record
            if self.policy.audited:
                with contextlib.suppress(asyncio.CancelledError):
                    await self.runtime.audit.record_call(
                        principal, self.name, mask_values(kwargs, secrets), AuditOutcome.CANCELLED, None,
                        (time.perf_counter() - started) * 1000)
            raise
        finally:
            end_call_secrets(secrets_token)
            reset_current_principal(token)
        if self.policy.audited:
            outcome = AuditOutcome.SUCCESS if result["success"] else (
                AuditOutcome.DENIED if result.get("error") == PermissionDenied.code else AuditOutcome.ERROR
            )
            await self.runtime.audit.record_call(
                principal, self.name, mask_values(kwargs, secrets), outcome, result.get("error"),
                (time.perf_counter() - started) * 1000,
            )
        return ToolResult(structured_content=result, is_error=not result["success"])

    async def _guarded(
        self, principal: Principal, method: Callable[..., Awaitable[Any]], kwargs: dict[str, Any]
    ) -> dict[str, Any]:
        try:
            authorize(principal, self.policy, self.name)
            if self.policy.destructive and not kwargs.get("confirm"):
                raise ConfirmationRequired(
                    f"{self.name} is destructive and was not run: call it again with confirm=true "
                    "once the user has agreed. Nothing was changed."
                )
            outcome = await method(**{k: v for k, v in kwargs.items() if k in self.accepted})
            return await self._envelope(outcome, kwargs)
        except TomoError as exc:
            logger.info("tool_failed", tool=self.name, code=exc.code)
            return envelope.from_error(exc)
        except Exception:
            logger.exception("tool_crashed", tool=self.name, arguments=redact(kwargs))
            return envelope.internal_error()

    async def _envelope(self, outcome: Any, kwargs: dict[str, Any]) -> dict[str, Any]:
        if isinstance(outcome, JobStarted):
            wait = kwargs.get("wait_seconds")
            if wait is None:
                wait = self.runtime.default_wait_seconds()
            job = await self.runtime.jobs.wait(outcome.job_id, float(wait), _report_progress)
            return job_envelope(job)
        if isinstance(outcome, Reply):
            return envelope.success(outcome.message, outcome.data)
        raise TypeError(f"tool {self.name} returned {type(outcome).__name__}, expected Reply or JobStarted")


def wrap_method(method: Callable[..., Awaitable[Any]], policy: ToolPolicy, runtime: ToolRuntime) -> Callable[..., Any]:
    """Build the function FastMCP registers for ``method``: same parameters plus confirm/wait_seconds."""
    name = method.__name__
    signature = _extended_signature(method, policy)
    accepted = set(inspect.signature(method).parameters)
    call = _Call(name, policy, runtime, accepted)

    async def handler(**kwargs: Any) -> ToolResult:
        return await call.run(method, kwargs)

    handler.__name__ = name
    handler.__qualname__ = name
    handler.__doc__ = method.__doc__
    handler.__signature__ = signature  # type: ignore[attr-defined]
    handler.__annotations__ = {p.name: p.annotation for p in signature.parameters.values()}
    handler.__annotations__["return"] = dict[str, Any]
    return handler
