"""API tokens: long-lived bearer tokens for MCP client configs.

A token is ``tomo_`` plus 256 random bits, shown once at creation; only its SHA-256
is stored. Its role is at most its creator's, and a call made with it never gets
more than its owner's current role either (demoting a user demotes their tokens).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from tomo.database.repositories.auth import TokenRepository
from tomo.database.types import new_id, utcnow
from tomo.errors import NotFoundError, PermissionDenied
from tomo.lib.mcp.tooling import current_principal
from tomo.lib.security import api_token_digest, new_api_token
from tomo.models.common import Page
from tomo.models.log import AuditOutcome
from tomo.models.principal import Principal, Role, Transport
from tomo.models.user import ApiToken, NewApiToken, User
from tomo.services.logs.audit import AuditService

TOUCH_INTERVAL = timedelta(minutes=1)
PREFIX_LENGTH = 12


def weaker(first: Role, second: Role) -> Role:
    """The lower of two roles."""
    return first if first.rank <= second.rank else second


def ensure_may_manage(principal: Principal, owner_id: str, what: str) -> None:
    """Admins manage everyone's sessions and tokens; others only their own."""
    if principal.has_role(Role.ADMIN) or (principal.user_id is not None and principal.user_id == owner_id):
        return
    raise PermissionDenied(f"You may only manage your own {what}; this one belongs to another user.")


def visible_owner(principal: Principal, user_id: str | None) -> str | None:
    """Whose sessions/tokens a listing shows: admins choose (None = everyone's), others see their own."""
    if principal.has_role(Role.ADMIN):
        return user_id
    if principal.user_id is None:
        raise PermissionDenied("You are not signed in as a Tomo user, so you have no sessions or tokens to list.")
    if user_id is not None and user_id != principal.user_id:
        raise PermissionDenied("Only admins may list another user's sessions or tokens; omit user_id for yours.")
    return principal.user_id


class TokenService:
    """Creates, checks, lists and revokes API tokens."""

    def __init__(
        self, token_repository: TokenRepository, audit_service: AuditService, clock: Callable[[], datetime] = utcnow
    ) -> None:
        self.repo = token_repository
        self.audit = audit_service
        self.clock = clock

    async def create(self, owner: User, name: str, role: Role | None, expires_days: int | None) -> NewApiToken:
        """Make a token for ``owner``; the secret is in the result and nowhere else."""
        principal = current_principal()
        ceiling = owner.role if principal is None or principal.role is None else weaker(owner.role, principal.role)
        granted = role or ceiling
        if granted.rank > ceiling.rank:
            raise PermissionDenied(f"A token's role may not exceed {ceiling.value} (its creator's and owner's role); "
                                   f"ask for role '{ceiling.value}' or lower.")
        secret, now = new_api_token(), self.clock()
        token_id = new_id()
        await self.repo.insert({
            "id": token_id, "user_id": owner.id, "name": name, "token_hash": api_token_digest(secret),
            "prefix": secret[:PREFIX_LENGTH], "role": granted.value, "created_at": now,
            "expires_at": now + timedelta(days=expires_days) if expires_days else None,
        })
        await self.audit.record(principal, "api_token_created", {"token_id": token_id, "owner": owner.username,
                                "name": name, "role": granted.value, "expires_days": expires_days},
                                AuditOutcome.SUCCESS)
        return NewApiToken(token=secret, api_token=await self.get(token_id))

    async def authenticate(self, secret: str, transport: Transport) -> Principal | None:
        """The principal an API token stands for, or None when it is unknown, revoked, expired or orphaned."""
        now = self.clock()
        found = await self.repo.find_usable(api_token_digest(secret), now)
        if found is None:
            return None
        token, user = found
        if token.last_used_at is None or now - token.last_used_at > TOUCH_INTERVAL:
            await self.repo.touch(token.id, now)
        return Principal(username=user.username, role=weaker(token.role, user.role), transport=transport,
                         user_id=user.id, token_id=token.id)

    async def get(self, token_id: str) -> ApiToken:
        """One token's metadata (never its secret)."""
        token = await self.repo.get(token_id, self.clock())
        if token is None:
            raise NotFoundError(f"API token '{token_id}' not found; call list_api_tokens.")
        return token

    async def list_tokens(self, user_id: str | None, limit: int, offset: int) -> Page[ApiToken]:
        """A page of the tokens of one user, or of everyone, newest first."""
        tokens, total = await self.repo.list_tokens(user_id, self.clock(), limit, offset)
        return Page(tokens, total, limit, offset)

    async def revoke(self, token_id: str) -> ApiToken:
        """Revoke a token at once (own tokens, or anyone's for an admin)."""
        principal = current_principal()
        token = await self.get(token_id)
        if principal is not None:
            ensure_may_manage(principal, token.user_id, "API tokens")
        if token.revoked_at is None:
            await self.repo.revoke(token_id, self.clock())
            await self.audit.record(principal, "api_token_revoked", {"token_id": token_id, "owner": token.username,
                                    "name": token.name}, AuditOutcome.SUCCESS)
        return await self.get(token_id)
