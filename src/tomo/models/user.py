"""Users, login sessions, API tokens and lockouts as clients see them (never a hash or a secret)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import Field, StringConstraints

from tomo.models.base import TomoModel
from tomo.models.principal import Role

Username = Annotated[
    str,
    StringConstraints(strip_whitespace=True, to_lower=True, min_length=2, max_length=64,
                      pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$"),
    Field(description="Letters, digits, '.', '_', '-' (stored lower-case), e.g. 'alice'."),
]
Password = Annotated[str, Field(min_length=1, max_length=1024, description="A password (never echoed back).")]
EntityId = Annotated[str, Field(min_length=1, max_length=64, description="An id as returned by a list tool.")]


class User(TomoModel):
    """A Tomo user account."""

    id: str
    username: str
    role: Role
    active: bool
    created_at: datetime
    updated_at: datetime
    password_changed_at: datetime
    last_login_at: datetime | None = None
    created_by: str | None = None


class LoginSession(TomoModel):
    """A login session; the JWT from ``login`` is valid only while its session is active."""

    id: str
    user_id: str
    username: str
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None = None
    client_ip: str | None = None
    user_agent: str | None = None
    active: bool
    current: bool = False


class ApiToken(TomoModel):
    """A long-lived API token (its secret is shown once, at creation, and never stored)."""

    id: str
    user_id: str
    username: str
    name: str
    prefix: str = Field(description="The first characters of the token, to recognise it.")
    role: Role
    created_at: datetime
    expires_at: datetime | None = None
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None
    active: bool


class NewApiToken(TomoModel):
    """A token just created: ``token`` is the secret, shown this once."""

    token: str
    api_token: ApiToken


class LoginResult(TomoModel):
    """What ``login`` returns: a bearer token bound to a new session."""

    token: str
    token_type: str = "bearer"  # noqa: S105 - the OAuth token type
    expires_at: datetime
    session_id: str
    user: User


class LockoutKind(StrEnum):
    """What a lockout applies to."""

    USER = "user"
    IP = "ip"


class Lockout(TomoModel):
    """A username or client address refused for a while after too many failed logins."""

    kind: LockoutKind
    subject: str
    locked_at: datetime
    locked_until: datetime
    failures: int
