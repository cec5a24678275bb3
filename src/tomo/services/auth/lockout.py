"""Brute-force protection: failed logins counted per username and per client address.

Each failure is a row with a time, so counts decay on their own: only failures within
the last ``lockout_minutes`` count. Reaching ``lockout_threshold`` failures for one
username (or ``lockout_ip_threshold`` from one address, whatever usernames it tries)
locks that subject for ``lockout_minutes``; the failures are then folded into the
lockout, so after it ends counting starts again from zero; a successful login forgets
the username's failures (see ``SessionRepository.open``), an address's keep decaying.
Unknown usernames are counted like real ones, so lockouts do not reveal which accounts
exist.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import structlog

from tomo.database.repositories.auth import LockoutRepository
from tomo.database.types import utcnow
from tomo.errors import AccountLocked, NotFoundError
from tomo.lib.mcp.tooling import current_principal
from tomo.models.log import AuditOutcome
from tomo.models.principal import Principal
from tomo.models.user import Lockout, LockoutKind
from tomo.services.logs.audit import AuditService
from tomo.services.settings.settings import SettingsService

logger = structlog.get_logger("tomo.auth")


def _until(lockout: Lockout) -> str:
    return lockout.locked_until.strftime("%Y-%m-%dT%H:%M:%SZ")


def locked_error(lockout: Lockout) -> AccountLocked:
    """The error a caller sees while ``lockout`` is in force."""
    who = f"account '{lockout.subject}'" if lockout.kind is LockoutKind.USER else "your address"
    return AccountLocked(
        f"Too many failed logins: the {who} is locked until {_until(lockout)} (UTC). "
        "Wait until then, or ask an admin to call unlock_account.",
        details={"locked_until": lockout.locked_until.isoformat()},
    )


class LockoutService:
    """Counts failures, locks and unlocks usernames and client addresses."""

    def __init__(
        self,
        lockout_repository: LockoutRepository,
        settings_service: SettingsService,
        audit_service: AuditService,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.repo = lockout_repository
        self.settings = settings_service
        self.audit = audit_service
        self.clock = clock

    @property
    def window(self) -> timedelta:
        """How long failures count and how long a lockout lasts."""
        return timedelta(minutes=int(self.settings.get("lockout_minutes")))

    async def check(self, username: str, client_ip: str) -> None:
        """Raise AccountLocked while the username or the client address is locked."""
        active = await self.repo.active(self.clock(), [(LockoutKind.USER, username), (LockoutKind.IP, client_ip)])
        if active:
            raise locked_error(active[-1])

    async def record_failure(self, username: str, client_ip: str) -> Lockout | None:
        """Count one failed login; returns the lockout it triggered, if any."""
        now = self.clock()
        await self.repo.purge_failures(now - self.window)
        await self.repo.add_failure(username, client_ip, now)
        triggered = None
        limits = ((LockoutKind.USER, username, "lockout_threshold"),
                  (LockoutKind.IP, client_ip, "lockout_ip_threshold"))
        for kind, subject, setting in limits:
            failures = await self.repo.count_failures(kind, subject, now - self.window)
            if failures >= int(self.settings.get(setting)):
                triggered = Lockout(kind=kind, subject=subject, locked_at=now, locked_until=now + self.window,
                                    failures=failures)
                await self.repo.lock(triggered)
                logger.warning("login_lockout", kind=kind.value, subject=subject, failures=failures)
                anonymous = Principal(username=username, role=None, transport="internal")
                await self.audit.record(anonymous, "account_locked", {"kind": kind.value, "subject": subject,
                                        "client_ip": client_ip, "failures": failures}, AuditOutcome.SUCCESS,
                                        detail=f"locked until {_until(triggered)}")
        return triggered

    async def forget(self, username: str) -> None:
        """Lift a username's lockout and failures without a trace of its own (password resets)."""
        await self.repo.unlock(LockoutKind.USER, username)

    async def locked(self) -> list[Lockout]:
        """Every lockout in force, soonest expiry first."""
        return await self.repo.active(self.clock())

    async def unlock(self, subject: str) -> list[LockoutKind]:
        """Lift the lockout of a username or client address (and forget its failures)."""
        cleared = [kind for kind in LockoutKind if await self.repo.unlock(kind, subject)]
        if not cleared:
            raise NotFoundError(f"'{subject}' is not locked; get_locked_accounts lists current lockouts.")
        await self.audit.record(current_principal(), "account_unlocked", {"subject": subject,
                                "kinds": [k.value for k in cleared]}, AuditOutcome.SUCCESS)
        return cleared
