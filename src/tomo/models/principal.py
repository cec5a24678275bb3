"""Who is calling: the principal every tool call runs as."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import ConfigDict

from tomo.models.base import TomoModel


class Role(StrEnum):
    """Tomo roles, weakest first: viewer (read-only), operator (servers, apps), admin (everything)."""

    VIEWER = "viewer"
    OPERATOR = "operator"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        """Position in the hierarchy; a higher rank includes every lower one."""
        return _RANK[self]


_RANK = {Role.VIEWER: 1, Role.OPERATOR: 2, Role.ADMIN: 3}

Transport = Literal["stdio", "http", "internal"]


class Principal(TomoModel):
    """The identity a call runs as. ``role`` None means anonymous (public tools only)."""

    model_config = ConfigDict(frozen=True)

    username: str
    role: Role | None
    transport: Transport
    user_id: str | None = None
    session_id: str | None = None
    token_id: str | None = None
    bootstrap: bool = False
    detail: str | None = None
    """Why an anonymous principal has no role; shown to the caller when a call is refused."""

    @property
    def authenticated(self) -> bool:
        """Whether the caller has any role at all."""
        return self.role is not None

    def has_role(self, required: Role) -> bool:
        """Whether this principal's role includes ``required``."""
        return self.role is not None and self.role.rank >= required.rank


ANONYMOUS_HTTP = Principal(username="anonymous", role=None, transport="http")
