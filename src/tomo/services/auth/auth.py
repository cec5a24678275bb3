"""Login, logout, bearer-token checks and login sessions.

``login`` checks lockouts first, then the password (an unknown username costs the same
argon2 verification as a known one), then opens a session and signs a JWT bound to it.
A bearer token is either an API token (``tomo_...``) or such a JWT; a JWT is honoured
only while its session is active and its user exists and is active, and the role
always comes from the user record, so a role change or a logout applies at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import structlog

from tomo.database.repositories.auth import SessionRepository, UserRepository
from tomo.database.types import new_id, utcnow
from tomo.errors import AuthenticationFailed, ConflictError, InvalidToken, NotFoundError, TomoError
from tomo.lib.mcp.tooling import current_principal
from tomo.lib.security import API_TOKEN_PREFIX, PasswordHasher, decode_jwt, encode_jwt, load_jwt_secret
from tomo.models.common import Page
from tomo.models.log import AuditOutcome
from tomo.models.principal import Principal, Transport
from tomo.models.user import LoginResult, LoginSession, User
from tomo.services.auth.lockout import LockoutService, locked_error
from tomo.services.auth.tokens import TokenService, ensure_may_manage
from tomo.services.auth.users import UserService
from tomo.services.logs.audit import AuditService
from tomo.services.settings.settings import SettingsService

logger = structlog.get_logger("tomo.auth")

BAD_CREDENTIALS = "Invalid username or password. Check both and try again; repeated failures lock the account."
SESSION_RETENTION = timedelta(days=7)


class AuthService:
    """Authenticates people (login) and requests (bearer tokens)."""

    def __init__(
        self,
        user_service: UserService,
        user_repository: UserRepository,
        session_repository: SessionRepository,
        token_service: TokenService,
        lockout_service: LockoutService,
        password_hasher: PasswordHasher,
        settings_service: SettingsService,
        audit_service: AuditService,
        jwt_secret: str | None,
        data_dir: Path,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.user_service = user_service
        self.users = user_repository
        self.sessions = session_repository
        self.tokens = token_service
        self.lockouts = lockout_service
        self.hasher = password_hasher
        self.settings = settings_service
        self.audit = audit_service
        self._configured_secret = jwt_secret
        self._data_dir = data_dir
        self._secret: bytes | None = None
        self.clock = clock

    async def secret(self) -> bytes:
        """The JWT signing secret, read (or created) once in a worker thread."""
        if self._secret is None:
            self._secret = await asyncio.to_thread(load_jwt_secret, self._configured_secret, self._data_dir)
        return self._secret

    async def login(self, username: str, password: str, client_ip: str, user_agent: str | None,
                    transport: Transport) -> LoginResult:
        """Check the credentials and open a session; raises AccountLocked or AuthenticationFailed."""
        await self.lockouts.check(username, client_ip)
        user = await self._verify(username, password)
        if user is None:
            raise await self._failure(username, client_ip, transport)
        result = await self._open_session(user, client_ip, user_agent)
        principal = Principal(username=user.username, role=user.role, transport=transport, user_id=user.id,
                              session_id=result.session_id)
        await self.audit.record(principal, "login_succeeded", {"username": username, "client_ip": client_ip},
                                AuditOutcome.SUCCESS)
        logger.info("login_succeeded", username=username, client_ip=client_ip)
        return result

    async def _verify(self, username: str, password: str) -> User | None:
        found = await self.users.credentials(username)
        if found is None:
            await self.hasher.burn(password)
            return None
        user, stored = found
        if not await self.hasher.verify(stored, password) or not user.active:
            return None
        await self.user_service.rehash_if_needed(user.id, stored, password)
        return user

    async def _failure(self, username: str, client_ip: str, transport: Transport) -> TomoError:
        """Count and audit a failed login; returns the error for the caller."""
        lockout = await self.lockouts.record_failure(username, client_ip)
        principal = Principal(username=username, role=None, transport=transport)
        await self.audit.record(principal, "login_failed", {"username": username, "client_ip": client_ip},
                                AuditOutcome.ERROR, error_code=AuthenticationFailed.code)
        logger.info("login_failed", username=username, client_ip=client_ip)
        return locked_error(lockout) if lockout is not None else AuthenticationFailed(BAD_CREDENTIALS)

    async def _open_session(self, user: User, client_ip: str, user_agent: str | None) -> LoginResult:
        now = self.clock()
        expires = now + timedelta(hours=int(self.settings.get("session_hours")))
        session_id = new_id()
        values = {"id": session_id, "user_id": user.id, "created_at": now, "expires_at": expires,
                  "client_ip": client_ip[:64], "user_agent": (user_agent or "")[:200] or None}
        await self.sessions.open(values, user.username, now - SESSION_RETENTION)
        token = encode_jwt(await self.secret(), user.id, user.role.value, session_id, now, expires)
        return LoginResult(token=token, expires_at=expires, session_id=session_id,
                           user=user.model_copy(update={"last_login_at": now}))

    async def authenticate(self, token: str, transport: Transport) -> Principal:
        """The principal a bearer token stands for; raises InvalidToken when it is not (or no longer) valid."""
        if token.startswith(API_TOKEN_PREFIX):
            principal = await self.tokens.authenticate(token, transport)
            if principal is None:
                raise InvalidToken("The API token is unknown, revoked or expired: create a new one.")
            return principal
        claims = decode_jwt(await self.secret(), token)
        user = await self.sessions.active_user(claims.session_id, claims.user_id, self.clock())
        if user is None:
            raise InvalidToken("The login session has ended (logout, expiry or a disabled account): call login.")
        return Principal(username=user.username, role=user.role, transport=transport, user_id=user.id,
                         session_id=claims.session_id)

    async def logout(self, principal: Principal) -> None:
        """End the caller's login session; its token stops working at once."""
        if principal.session_id is None:
            what = "an API token (revoke it with revoke_api_token)" if principal.token_id else "no login session"
            raise ConflictError(f"There is no login session to end: this call uses {what}.")
        await self.sessions.revoke(self.clock(), session_id=principal.session_id)
        await self.audit.record(principal, "logout", {"session_id": principal.session_id}, AuditOutcome.SUCCESS)

    async def list_sessions(self, user_id: str | None, limit: int, offset: int) -> Page[LoginSession]:
        """A page of the unexpired sessions of one user or of everyone (the caller's own marked ``current``)."""
        principal = current_principal()
        current = principal.session_id if principal else None
        sessions, total = await self.sessions.list_sessions(user_id, self.clock(), limit, offset)
        return Page([s.model_copy(update={"current": s.id == current}) for s in sessions], total, limit, offset)

    async def revoke_session(self, session_id: str) -> LoginSession:
        """End a session (own sessions, or anyone's for an admin)."""
        principal = current_principal()
        session = await self.sessions.get(session_id, self.clock())
        if session is None:
            raise NotFoundError(f"Session '{session_id}' not found; call list_sessions.")
        if principal is not None:
            ensure_may_manage(principal, session.user_id, "sessions")
        await self.sessions.revoke(self.clock(), session_id=session_id)
        await self.audit.record(principal, "session_revoked", {"session_id": session_id, "owner": session.username},
                                AuditOutcome.SUCCESS)
        revoked = await self.sessions.get(session_id, self.clock())
        if revoked is None:
            raise TomoError("The session disappeared while it was revoked.")
        return revoked
