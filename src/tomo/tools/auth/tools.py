"""Authentication tools: login, users, sessions, API tokens, lockouts."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from tomo.errors import AuthenticationRequired, ConflictError, PermissionDenied
from tomo.lib.mcp.tooling import current_principal, tomo_tool
from tomo.models.common import DEFAULT_PAGE_SIZE, PageLimit, PageOffset, Reply
from tomo.models.principal import Principal, Role
from tomo.models.user import EntityId, Password, Username
from tomo.services.auth.auth import AuthService
from tomo.services.auth.identity import IdentityService
from tomo.services.auth.lockout import LockoutService
from tomo.services.auth.tokens import TokenService, visible_owner
from tomo.services.auth.users import UserService

UserRef = Annotated[str, Field(min_length=1, max_length=64, description="A user's id (see list_users) or username.")]
TokenName = Annotated[str, Field(min_length=1, max_length=64, description="A label, e.g. 'claude-desktop'.")]
ExpiresDays = Annotated[int | None, Field(ge=1, le=3650, description="Days until the token expires; omit for never.")]
AdminsOnlyUser = Annotated[str | None, Field(max_length=64, description="Admins: only this user (id or username).")]


def _caller() -> Principal:
    principal = current_principal()
    if principal is None or not principal.authenticated:
        raise AuthenticationRequired("Sign in first: call login, or send an API token.")
    return principal


class AuthTools:
    """Sign in and out; manage users, sessions, API tokens and lockouts."""

    def __init__(
        self,
        auth_service: AuthService,
        user_service: UserService,
        token_service: TokenService,
        lockout_service: LockoutService,
        identity_service: IdentityService,
    ) -> None:
        self.auth = auth_service
        self.users = user_service
        self.tokens = token_service
        self.lockouts = lockout_service
        self.identity = identity_service

    @tomo_tool(public=True, title="Log in")
    async def login(self, username: Username, password: Password) -> Reply:
        """Sign in with a username and password and get a bearer token for HTTP calls.

        For HTTP without an API token. Send the token as 'Authorization: Bearer <token>' on every
        later request; it is valid for session_hours (24 h by default) or until logout. Repeated
        wrong passwords lock the account for a while (ACCOUNT_LOCKED).
        """
        client_ip, user_agent = self.identity.client()
        result = await self.auth.login(username, password, client_ip, user_agent, self.identity.transport)
        return Reply(f"Signed in as '{result.user.username}' ({result.user.role.value}); send the token as "
                     "'Authorization: Bearer <token>'.", result)

    @tomo_tool(title="Log out")
    async def logout(self) -> Reply:
        """End your login session; its token stops working at once.

        API tokens are not sessions: revoke them with revoke_api_token instead.
        """
        principal = _caller()
        await self.auth.logout(principal)
        return Reply("Signed out: the login token no longer works.")

    @tomo_tool(read_only=True, idempotent=True, title="Current user")
    async def get_current_user(self) -> Reply:
        """Show who you are acting as: username, role, and how you signed in.

        Use it to check your permissions before a task (viewer: read-only tools; operator: servers,
        apps, docker, app backups; admin: everything).
        """
        principal = _caller()
        how = "login session" if principal.session_id else "API token" if principal.token_id else principal.transport
        if principal.user_id is None:
            user = {"id": None, "username": principal.username, "role": principal.role, "bootstrap": True}
            return Reply(f"Acting as the bootstrap admin over {how}: no users exist yet (see create_initial_admin).",
                         {"user": user, "auth": how})
        user_record = await self.users.get(principal.user_id)
        return Reply(f"Signed in as '{principal.username}' ({principal.role}) via {how}.",
                     {"user": user_record.model_copy(update={"role": principal.role}), "auth": how})

    @tomo_tool(role=Role.ADMIN, title="Create initial admin")
    async def create_initial_admin(self, username: Username, password: Password) -> Reply:
        """Create the first admin account; works only while Tomo has no users at all.

        Use it once on a fresh install, over stdio as the bootstrap admin (`tomo admin create` does the
        same from a terminal). Afterwards stdio acts as this admin and HTTP needs a token. Password:
        at least password_min_length characters (default 12), not common, not containing the username.
        """
        user = await self.users.create_initial_admin(username, password)
        return Reply(f"Created admin '{user.username}'. Next: login, or create_api_token for an MCP client.",
                     {"user": user})

    @tomo_tool(role=Role.ADMIN, title="Create user")
    async def create_user(self, username: Username, password: Password, role: Role) -> Reply:
        """Create a user account with a role.

        Roles: viewer (read-only tools), operator (servers, apps, docker, app backups), admin
        (everything, including users and settings). Password: at least password_min_length characters
        (default 12), not common, not containing the username; the user can change it with
        change_password.
        """
        user = await self.users.create(username, password, role)
        return Reply(f"Created {user.role.value} '{user.username}'.", {"user": user})

    @tomo_tool(role=Role.ADMIN, idempotent=True, title="Update user")
    async def update_user(
        self,
        user_id: UserRef,
        role: Annotated[Role | None, Field(description="New role; omit to keep.")] = None,
        active: Annotated[bool | None, Field(description="false disables the account; omit to keep.")] = None,
    ) -> Reply:
        """Change a user's role or enable/disable the account.

        Takes effect at once, also for tokens already issued; disabling ends the user's sessions and
        API tokens. The last active admin cannot be demoted or disabled.
        """
        user = await self.users.update(user_id, role, active)
        state = "active" if user.active else "disabled"
        return Reply(f"User '{user.username}' is now {user.role.value}, {state}.", {"user": user})

    @tomo_tool(role=Role.ADMIN, title="Delete user")
    async def delete_user(self, user_id: UserRef) -> Reply:
        """Delete a user account together with its sessions and API tokens.

        Cannot be undone; consider update_user(active=false) to keep the history. You cannot
        delete yourself or the last active admin.
        """
        user = await self.users.delete(user_id)
        return Reply(f"Deleted user '{user.username}'.", {"user": user})

    @tomo_tool(role=Role.ADMIN, read_only=True, idempotent=True, title="List users")
    async def list_users(self, limit: PageLimit = DEFAULT_PAGE_SIZE, offset: PageOffset = 0) -> Reply:
        """List user accounts, oldest first, with role, active flag and last login (never passwords)."""
        page = await self.users.list_page(limit, offset)
        return page.reply("list_users", "users", "user(s)")

    @tomo_tool(title="Change password")
    async def change_password(
        self,
        current_password: Annotated[Password, Field(description="Your password now (never echoed back).")],
        new_password: Annotated[Password, Field(description="The new password (never echoed back).")],
    ) -> Reply:
        """Change your own password; your other login sessions end.

        The new one: at least password_min_length characters (default 12), not common, not containing
        your username.
        """
        client_ip, _ = self.identity.client()
        user = await self.users.change_password(_caller(), current_password, new_password, client_ip)
        return Reply(f"Password changed for '{user.username}'; other sessions were signed out.")

    @tomo_tool(role=Role.ADMIN, title="Reset user password")
    async def reset_user_password(
        self,
        user_id: UserRef,
        new_password: Annotated[Password, Field(description="The new password (rules as create_user).")],
    ) -> Reply:
        """Set another user's password (for a forgotten password); all their sessions end.

        Also lifts a lockout of that username. Tell the user the new password through a safe
        channel and ask them to change it with change_password.
        """
        user = await self.users.reset_password(user_id, new_password)
        return Reply(f"Password reset for '{user.username}'; their sessions were signed out.")

    @tomo_tool(read_only=True, idempotent=True, title="List sessions")
    async def list_sessions(
        self, user_id: AdminsOnlyUser = None, limit: PageLimit = DEFAULT_PAGE_SIZE, offset: PageOffset = 0
    ) -> Reply:
        """List unexpired login sessions with when and from where they started.

        Everyone sees their own sessions (yours is marked current); admins see everyone's, or
        one user's with user_id. End one with revoke_session.
        """
        page = await self.auth.list_sessions(await self._owner(user_id), limit, offset)
        return page.reply("list_sessions", "sessions", "session(s)")

    @tomo_tool(idempotent=True, title="Revoke session")
    async def revoke_session(
        self, session_id: Annotated[EntityId, Field(description="Session id from list_sessions.")]
    ) -> Reply:
        """End a login session (your own, or anyone's for an admin); its token stops working at once."""
        _caller()
        session = await self.auth.revoke_session(session_id)
        return Reply(f"Session {session.id} of '{session.username}' is revoked.", {"session": session})

    @tomo_tool(title="Create API token")
    async def create_api_token(
        self,
        name: TokenName,
        role: Annotated[Role | None, Field(description="Role of the token; default and maximum: yours.")] = None,
        expires_days: ExpiresDays = None,
        user_id: Annotated[
            str | None, Field(max_length=64, description="Admins: create it for this user (id or username).")
        ] = None,
    ) -> Reply:
        """Create a long-lived API token to paste into an MCP client's configuration.

        The token is shown once, in this answer: tell the user to copy it now (Tomo keeps only a hash).
        Give it the lowest role that does the job; it can never exceed your own. Revoke it with
        revoke_api_token.
        """
        principal = _caller()
        if user_id is None and principal.user_id is None:
            raise ConflictError("API tokens belong to a user and you are the bootstrap admin: create a user "
                                "first (create_initial_admin), or pass user_id.")
        owner = await self.users.find(user_id) if user_id is not None else await self.users.get(str(principal.user_id))
        if owner.id != principal.user_id and not principal.has_role(Role.ADMIN):
            raise PermissionDenied("Only admins may create API tokens for another user; omit user_id.")
        created = await self.tokens.create(owner, name, role, expires_days)
        return Reply(f"Created API token '{name}' ({created.api_token.role.value}) for '{owner.username}'. "
                     "Copy it now: it is shown only once.", created)

    @tomo_tool(read_only=True, idempotent=True, title="List API tokens")
    async def list_api_tokens(
        self, user_id: AdminsOnlyUser = None, limit: PageLimit = DEFAULT_PAGE_SIZE, offset: PageOffset = 0
    ) -> Reply:
        """List API tokens (name, role, prefix, expiry, last use); never the secrets.

        Everyone sees their own tokens; admins see everyone's, or one user's with user_id.
        """
        page = await self.tokens.list_tokens(await self._owner(user_id), limit, offset)
        return page.reply("list_api_tokens", "tokens", "API token(s)")

    @tomo_tool(idempotent=True, title="Revoke API token")
    async def revoke_api_token(
        self, token_id: Annotated[EntityId, Field(description="Token id from list_api_tokens.")]
    ) -> Reply:
        """Revoke an API token (your own, or anyone's for an admin); it stops working at once."""
        _caller()
        token = await self.tokens.revoke(token_id)
        return Reply(f"API token '{token.name}' of '{token.username}' is revoked.", {"token": token})

    @tomo_tool(role=Role.ADMIN, read_only=True, idempotent=True, title="Locked accounts")
    async def get_locked_accounts(self) -> Reply:
        """List usernames and client addresses locked after too many failed logins, with when the lock ends.

        Locks end by themselves after lockout_minutes; unlock_account lifts one now.
        """
        locks = await self.lockouts.locked()
        return Reply(f"{len(locks)} lockout(s) in force.", {"locks": locks})

    @tomo_tool(role=Role.ADMIN, idempotent=True, title="Unlock account")
    async def unlock_account(
        self, username: Annotated[str, Field(min_length=1, max_length=128,
                                             description="A locked username or client address, e.g. '192.0.2.10'.")]
    ) -> Reply:
        """Lift a lockout now, for a username or a client address shown by get_locked_accounts."""
        subject = username.strip().lower()
        kinds = await self.lockouts.unlock(subject)
        return Reply(f"Unlocked '{subject}' ({', '.join(k.value for k in kinds)}).", {"unlocked": kinds})

    async def _owner(self, user_id: str | None) -> str | None:
        principal = _caller()
        if user_id is not None and principal.has_role(Role.ADMIN):
            user_id = (await self.users.find(user_id)).id
        return visible_owner(principal, user_id)
