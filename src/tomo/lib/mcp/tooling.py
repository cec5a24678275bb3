"""Per-tool metadata, declared next to each tool method with :func:`tomo_tool`.

The metadata rides on FastMCP's standalone ``tool`` decorator: MCP annotations
(read-only, destructive, idempotent, open-world) go to the client, and Tomo's
own policy (minimum role, confirm, job, public) sits under ``meta["tomo"]`` where
the tool loader reads it.
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, TypeVar

from fastmcp.tools import tool as fastmcp_tool
from mcp.types import ToolAnnotations

from tomo.models.principal import Principal, Role

F = TypeVar("F", bound=Callable[..., Any])

_current_principal: ContextVar[Principal | None] = ContextVar("tomo_principal", default=None)
_call_secrets: ContextVar[set[str] | None] = ContextVar("tomo_call_secrets", default=None)


@dataclass(frozen=True)
class ToolPolicy:
    """How the wrapper treats a tool: who may call it and what it needs."""

    role: Role
    read_only: bool
    destructive: bool
    job: bool
    public: bool

    @property
    def audited(self) -> bool:
        """State-changing calls are audited; read-only ones are not."""
        return not self.read_only

    def to_meta(self) -> dict[str, Any]:
        """The policy as it appears in the tool's ``meta``."""
        return {"role": self.role.value, "destructive": self.destructive, "job": self.job, "public": self.public}

    @classmethod
    def from_meta(cls, meta: dict[str, Any], read_only: bool) -> ToolPolicy:
        """Rebuild the policy from a tool's ``meta["tomo"]``."""
        return cls(
            role=Role(meta["role"]),
            read_only=read_only,
            destructive=bool(meta["destructive"]),
            job=bool(meta["job"]),
            public=bool(meta["public"]),
        )


def tomo_tool(
    *,
    role: Role | str = Role.VIEWER,
    read_only: bool = False,
    destructive: bool = False,
    idempotent: bool = False,
    open_world: bool = False,
    job: bool = False,
    public: bool = False,
    title: str | None = None,
) -> Callable[[F], F]:
    """Declare a tool method's annotations and policy.

    Args:
        role: minimum role to call it (viewer, operator, admin).
        read_only: the tool changes nothing (not audited, viewer-safe).
        destructive: the tool deletes or overwrites; callers must pass ``confirm=true``.
        idempotent: calling twice with the same arguments has no further effect.
        open_world: the tool reaches outside Tomo (remote servers, git hosts).
        job: the tool starts a job and returns ``JobStarted``; the wrapper adds ``wait_seconds``.
        public: callable without authentication (login, minimal health check).
    """
    policy = ToolPolicy(role=Role(role), read_only=read_only, destructive=destructive, job=job, public=public)
    annotations = ToolAnnotations(
        title=title,
        read_only_hint=read_only,
        destructive_hint=destructive,
        idempotent_hint=idempotent,
        open_world_hint=open_world,
    )
    decorator: Callable[[F], F] = fastmcp_tool(annotations=annotations, meta={"tomo": policy.to_meta()})
    return decorator


def current_principal() -> Principal | None:
    """The principal of the tool call being served (None outside a call)."""
    return _current_principal.get()


def set_current_principal(principal: Principal | None) -> Any:
    """Bind the principal for the current task; returns a token for :func:`reset_current_principal`."""
    return _current_principal.set(principal)


def mark_secret(value: str) -> None:
    """Declare a value of the current call secret: the wrapper masks it in the audit record.

    For secrets whose argument name does not say so (an app input called ``PIN``, say), which
    redaction by key name cannot catch.
    """
    secrets = _call_secrets.get()
    if secrets is not None and len(value) >= 4:
        secrets.add(value)


def start_call_secrets() -> tuple[set[str], Any]:
    """Begin collecting secret values for one tool call; returns the set and a reset token."""
    secrets: set[str] = set()
    return secrets, _call_secrets.set(secrets)


def end_call_secrets(token: Any) -> None:
    """Stop collecting secret values (undo :func:`start_call_secrets`)."""
    _call_secrets.reset(token)


def reset_current_principal(token: Any) -> None:
    """Undo :func:`set_current_principal`."""
    _current_principal.reset(token)


@dataclass(frozen=True)
class ViewSpec:
    """A read-only MCP resource (``uri`` set) or a prompt (``uri`` None) declared on a *Tools method.

    The tool loader registers such a method as that resource or prompt, never as a tool. Reads
    run as the caller, need ``role`` and are not audited.
    """

    title: str
    uri: str | None = None
    role: Role = Role.VIEWER


VIEW_ATTRIBUTE = "__tomo_view__"


def tomo_resource(uri: str, *, title: str, role: Role | str = Role.VIEWER) -> Callable[[F], F]:
    """Declare a method as the read-only resource ``uri`` (``{name}`` parts are its parameters).

    The method returns a Pydantic model or JSON-ready data; clients read it as JSON text. Its
    docstring's first paragraph is the resource's description.
    """
    return _view(ViewSpec(title=title, uri=uri, role=Role(role)))


def tomo_prompt(*, title: str, role: Role | str = Role.VIEWER) -> Callable[[F], F]:
    """Declare a method as an MCP prompt named after it; it returns the prompt's text.

    Its parameters are the prompt's arguments (described in the docstring's ``Args:``).
    """
    return _view(ViewSpec(title=title, role=Role(role)))


def _view(spec: ViewSpec) -> Callable[[F], F]:
    def mark(method: F) -> F:
        setattr(method, VIEW_ATTRIBUTE, spec)
        return method

    return mark


def view_spec(method: Callable[..., Any]) -> ViewSpec | None:
    """The resource or prompt a method declares, if any."""
    spec = getattr(method, VIEW_ATTRIBUTE, None)
    return spec if isinstance(spec, ViewSpec) else None


def quoted(value: str, limit: int = 200) -> str:
    """A caller's value for prompt text: one line, at most ``limit`` characters, in single quotes."""
    text = " ".join(value.split()).replace("'", "")[:limit]
    return f"'{text}'"
