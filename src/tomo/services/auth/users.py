"""User accounts: create, change, delete, and their passwords.

Guards: the first admin can be created only while no user exists; the last active
admin cannot be demoted, deactivated or deleted; admins cannot delete themselves.
Deactivating a user or resetting their password ends their sessions at once.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import structlog
from pydantic import TypeAdapter
from pydantic import ValidationError as PydanticValidationError

from tomo.database.repositories.auth import SessionRepository, UserRepository
from tomo.database.types import new_id, utcnow
from tomo.errors import AlreadyExists, AuthenticationFailed, ConflictError, UserNotFound, ValidationError
from tomo.lib.mcp.tooling import current_principal
from tomo.lib.security import PasswordHasher
from tomo.models.common import Page
from tomo.models.log import AuditOutcome
from tomo.models.principal import Principal, Role
from tomo.models.user import User, Username
from tomo.services.auth.lockout import LockoutService
from tomo.services.auth.password_policy import check_password
from tomo.services.logs.audit import AuditService
from tomo.services.settings.settings import SettingsService

logger = structlog.get_logger("tomo.auth")
_USERNAME: TypeAdapter[str] = TypeAdapter(Username)


def valid_username(username: str) -> str:
    """The normalised (lower-case) username, or ValidationError saying what a username may contain."""
    try:
        return _USERNAME.validate_python(username)
    except PydanticValidationError as exc:
        raise ValidationError("A username has 2-64 characters: letters, digits, '.', '_' or '-', starting with "
                              "a letter or digit, e.g. 'alice'.") from exc


class UserService:
    """Manages Tomo user accounts."""

    def __init__(
        self,
        user_repository: UserRepository,
        session_repository: SessionRepository,
        password_hasher: PasswordHasher,
        lockout_service: LockoutService,
        settings_service: SettingsService,
        audit_service: AuditService,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.users = user_repository
        self.sessions = session_repository
        self.hasher = password_hasher
        self.lockouts = lockout_service
        self.settings = settings_service
        self.audit = audit_service
        self.clock = clock

    async def get(self, user_id: str) -> User:
        """A user by id."""
        user = await self.users.get(user_id)
        if user is None:
            raise UserNotFound(f"User '{user_id}' not found; call list_users.")
        return user

    async def find(self, reference: str) -> User:
        """A user by id, or else by username (tools accept either)."""
        user = await self.users.get(reference) or await self.users.get_by_username(reference.strip().lower())
        if user is None:
            raise UserNotFound(f"User '{reference}' not found; call list_users.")
        return user

    async def get_by_username(self, username: str) -> User:
        """A user by name."""
        user = await self.users.get_by_username(username.lower())
        if user is None:
            raise UserNotFound(f"User '{username}' not found; call list_users.")
        return user

    async def list_page(self, limit: int, offset: int) -> Page[User]:
        """A page of users, oldest first, with the number of accounts."""
        users, total = await self.users.page(limit, offset)
        return Page(users, total, limit, offset)

    async def has_users(self) -> bool:
        """Whether any account exists (none: stdio runs as the bootstrap admin)."""
        return await self.users.count() > 0

    async def create_initial_admin(self, username: str, password: str) -> User:
        """The first admin; refused once any user exists."""
        if await self.has_users():
            raise ConflictError("Users already exist, so there is no initial admin to create: "
                                "an admin creates accounts with create_user.")
        return await self.create(username, password, Role.ADMIN)

    async def create(self, username: str, password: str, role: Role) -> User:
        """A new active user with a checked, hashed password."""
        username = valid_username(username)
        if await self.users.get_by_username(username) is not None:
            raise AlreadyExists(f"A user named '{username}' already exists; pick another name or see list_users.")
        check_password(password, username, int(self.settings.get("password_min_length")))
        now, principal = self.clock(), current_principal()
        user_id = new_id()
        await self.users.insert({
            "id": user_id, "username": username, "password_hash": await self.hasher.hash(password),
            "role": role.value, "active": True, "created_at": now, "updated_at": now, "password_changed_at": now,
            "created_by": principal.username if principal else None,
        })
        await self._audit("user_created", {"user_id": user_id, "username": username, "role": role.value})
        logger.info("user_created", username=username, role=role.value)
        return await self.get(user_id)

    async def update(self, user_id: str, role: Role | None, active: bool | None) -> User:
        """Change a user's role and/or active flag; deactivation ends their sessions."""
        user = await self.find(user_id)
        if role is None and active is None:
            raise ValidationError("Nothing to change: pass role and/or active.")
        losing_admin = user.role is Role.ADMIN and user.active and (
            (role is not None and role is not Role.ADMIN) or active is False)
        if losing_admin:
            await self._ensure_other_admin(user)
        changes: dict[str, Any] = {"updated_at": self.clock()}
        if role is not None:
            changes["role"] = role.value
        if active is not None:
            changes["active"] = active
        await self.users.update(user.id, changes)
        if active is False:
            await self.sessions.revoke(self.clock(), user_id=user.id)
        await self._audit("user_updated", {"user_id": user.id, "username": user.username,
                                           "role": role.value if role else None, "active": active})
        return await self.get(user.id)

    async def delete(self, user_id: str) -> User:
        """Delete a user with their sessions and API tokens."""
        user = await self.find(user_id)
        principal = current_principal()
        if principal is not None and principal.user_id == user.id:
            raise ConflictError("You cannot delete your own account; ask another admin.")
        if user.role is Role.ADMIN and user.active:
            await self._ensure_other_admin(user)
        await self.users.delete(user.id)
        await self._audit("user_deleted", {"user_id": user.id, "username": user.username})
        return user

    async def change_password(
        self, principal: Principal, current_password: str, new_password: str, client_ip: str
    ) -> User:
        """The caller changes their own password; their other sessions end."""
        if principal.user_id is None:
            raise ConflictError("You are not signed in as a Tomo user (bootstrap admin): create a user first, "
                                "e.g. with create_initial_admin.")
        user = await self.get(principal.user_id)
        await self.lockouts.check(user.username, client_ip)
        stored = await self.users.password_hash(user.id)
        if stored is None or not await self.hasher.verify(stored, current_password):
            await self.lockouts.record_failure(user.username, client_ip)
            raise AuthenticationFailed("The current password is wrong; nothing was changed.")
        await self._set_password(user, new_password, keep_session=principal.session_id)
        await self._audit("password_changed", {"user_id": user.id, "username": user.username})
        return user

    async def reset_password(self, user_id: str, new_password: str) -> User:
        """An admin sets a user's password; all the user's sessions end and any lockout is lifted."""
        user = await self.find(user_id)
        await self._set_password(user, new_password, keep_session=None)
        await self.lockouts.forget(user.username)
        await self._audit("password_reset", {"user_id": user.id, "username": user.username})
        return user

    async def rehash_if_needed(self, user_id: str, stored_hash: str, password: str) -> None:
        """Upgrade a hash made with older parameters after a successful login."""
        if self.hasher.needs_rehash(stored_hash):
            await self.users.update(user_id, {"password_hash": await self.hasher.hash(password)})

    async def _set_password(self, user: User, password: str, keep_session: str | None) -> None:
        check_password(password, user.username, int(self.settings.get("password_min_length")))
        now = self.clock()
        await self.users.update(user.id, {"password_hash": await self.hasher.hash(password),
                                          "password_changed_at": now, "updated_at": now})
        await self.sessions.revoke(now, user_id=user.id, keep=keep_session)

    async def _ensure_other_admin(self, user: User) -> None:
        if not [admin for admin in await self.users.active_admins() if admin.id != user.id]:
            raise ConflictError(f"'{user.username}' is the last active admin: make another user admin first, "
                                "so Tomo keeps someone who can manage it.")

    async def _audit(self, action: str, arguments: dict[str, Any]) -> None:
        await self.audit.record(current_principal(), action, arguments, AuditOutcome.SUCCESS)
