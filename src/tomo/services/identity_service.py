"""Who a call runs as, before full authentication exists for a transport.

stdio: the local user who owns the data directory acts as a configured Tomo user;
with no users yet it acts as a bootstrap admin. HTTP: until bearer
authentication is configured the server only binds loopback and callers act as
the same local bootstrap admin.
"""

from __future__ import annotations

from tomo.models.principal import Principal, Role, Transport


class IdentityService:
    """Resolves the principal of the current call for the transport being served."""

    def __init__(self, transport: Transport) -> None:
        self.transport = transport
        self._principal = Principal(
            username="local-admin", role=Role.ADMIN, transport=transport, bootstrap=True
        )

    async def resolve(self) -> Principal:
        """The principal of the current call."""
        return self._principal
