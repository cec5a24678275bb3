"""Who a call runs as, for the transport being served.

stdio: the process belongs to the local user who owns the data directory and acts as
a configured Tomo user (``TOMO_USER`` / ``tomo serve --user``), by default the first
active admin. With no users at all it is the bootstrap admin (and health_check says
so). A configured user that does not exist or is inactive gets no role at all, with a
message saying why. The lookup is reused for up to a second (at once redone after this
process changes a user), and calls that find it expired share one lookup, so a burst of
calls does not query the users table each time (nor all at once when the second is up).

HTTP: the bearer token of the current HTTP request decides. The ASGI middleware
(``lib/mcp/http_auth.py``) checks it once per request and leaves the principal in the
request scope; a request without a token is anonymous (public tools only). Nothing is
kept per MCP session: the protocol is served sessionless.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from tomo.database.repositories.auth import UserRepository
from tomo.errors import InvalidToken
from tomo.lib.mcp.http_auth import CLIENT_IP_KEY, PRINCIPAL_KEY, bearer_token, client_address, header
from tomo.models.principal import ANONYMOUS_HTTP, Principal, Role, Transport
from tomo.models.user import User
from tomo.services.auth.auth import AuthService
from tomo.services.settings.settings import SettingsService

BOOTSTRAP_USERNAME = "local-admin"
LOCAL_ADDRESS = "local"
LOCAL_CACHE_SECONDS = 1.0


def _current_request() -> Any | None:
    from fastmcp.server.dependencies import get_http_request

    try:
        return get_http_request()
    except RuntimeError:
        return None


class IdentityService:
    """Resolves the principal of the current call."""

    def __init__(
        self,
        transport: Transport,
        auth_service: AuthService,
        user_repository: UserRepository,
        settings_service: SettingsService,
        configured_user: str | None = None,
    ) -> None:
        self.transport = transport
        self.auth = auth_service
        self.users = user_repository
        self.settings = settings_service
        self.configured_user = configured_user.strip().lower() if configured_user else None
        self._principal: Principal | None = None
        self._local: tuple[int, float, Principal] | None = None
        self._lookup: tuple[int, float, asyncio.Future[Principal]] | None = None

    def act_as(self, principal: Principal | None) -> None:
        """Pin every call to ``principal`` (internal callers and tests); None restores normal resolution."""
        self._principal = principal

    async def resolve(self) -> Principal:
        """The principal of the current call."""
        if self._principal is not None:
            return self._principal
        if self.transport == "http":
            return await self._http_principal()
        return await self._local_principal()

    async def authenticate(self, token: str) -> Principal:
        """The principal a bearer token stands for over HTTP; raises InvalidToken."""
        return await self.auth.authenticate(token, "http")

    def client_ip(self, scope: dict[str, Any]) -> str:
        """The client address of an HTTP request (trusted proxies from the settings)."""
        return client_address(scope, list(self.settings.get("trusted_proxies")))

    def client(self) -> tuple[str, str | None]:
        """The current caller's address and user agent (``local`` for stdio)."""
        request = _current_request() if self.transport == "http" else None
        if request is None:
            return LOCAL_ADDRESS, None
        scope = request.scope
        address = scope.get(CLIENT_IP_KEY) or self.client_ip(scope)
        return str(address), header(scope, b"user-agent")

    async def _http_principal(self) -> Principal:
        request = _current_request()
        if request is None:
            return ANONYMOUS_HTTP
        scope = request.scope
        cached = scope.get(PRINCIPAL_KEY)
        if isinstance(cached, Principal):
            return cached
        principal = await self._from_header(header(scope, b"authorization"))
        scope[PRINCIPAL_KEY] = principal
        return principal

    async def _from_header(self, value: str | None) -> Principal:
        if value is None:
            return ANONYMOUS_HTTP
        token = bearer_token(value)
        if token is None:
            return ANONYMOUS_HTTP.model_copy(update={"detail": "the Authorization header must be 'Bearer <token>'."})
        try:
            return await self.authenticate(token)
        except InvalidToken as exc:
            return ANONYMOUS_HTTP.model_copy(update={"detail": exc.message})

    async def _local_principal(self) -> Principal:
        """The stdio principal, looked up at most once a second unless this process changed users meanwhile."""
        generation, now = self.users.generation, time.monotonic()
        cached = self._local
        if cached is not None and cached[0] == generation and now - cached[1] < LOCAL_CACHE_SECONDS:
            return cached[2]
        lookup = self._lookup
        if lookup is None or lookup[0] != generation:
            lookup = self._lookup = (generation, now, asyncio.ensure_future(self._lookup_local()))
            lookup[2].add_done_callback(lambda _: self._settle(lookup))
        return await asyncio.shield(lookup[2])  # one caller giving up does not cancel the others' lookup

    def _settle(self, lookup: tuple[int, float, asyncio.Future[Principal]]) -> None:
        """Keep a finished lookup's principal (timed from when it started); a failed one is simply forgotten."""
        if self._lookup is lookup:
            self._lookup = None
        generation, started, future = lookup
        if not future.cancelled() and future.exception() is None and generation == self.users.generation:
            self._local = (generation, started, future.result())

    async def _lookup_local(self) -> Principal:
        if self.configured_user is not None:
            user = await self.users.get_by_username(self.configured_user)
            if user is None or not user.active:
                state = "does not exist" if user is None else "is deactivated"
                return self._refused(f"the configured Tomo user '{self.configured_user}' {state}. Start "
                                     "`tomo serve --user <name>` (or set TOMO_USER) with an active user; "
                                     "`tomo admin create` makes an admin.")
            return self._as(user)
        admins = await self.users.active_admins()
        if admins:
            return self._as(admins[0])
        if await self.users.count() == 0:
            return Principal(username=BOOTSTRAP_USERNAME, role=Role.ADMIN, transport=self.transport, bootstrap=True)
        return self._refused("no active admin exists to act as. Start `tomo serve --user <name>` with an active "
                             "user, or create an admin with `tomo admin create`.")

    def _as(self, user: User) -> Principal:
        return Principal(username=user.username, role=user.role, transport=self.transport, user_id=user.id)

    def _refused(self, detail: str) -> Principal:
        username = self.configured_user or "nobody"
        return Principal(username=username, role=None, transport=self.transport, detail=detail)
