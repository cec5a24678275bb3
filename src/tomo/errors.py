"""Tomo's domain errors: one tree, stable codes.

Every error a client can see is a subclass of :class:`TomoError` with a stable
UPPER_SNAKE ``code``. Services raise these; the tool wrapper turns them into the
envelope ``{success: false, message, error: code}``. Library exceptions
(asyncssh, OSError, SQLAlchemy) are translated into this tree once, in ``lib/``
or ``database/``, with ``raise ... from exc``.

    TomoError (INTERNAL_ERROR)
    ├── ValidationError (VALIDATION_ERROR)
    ├── NotFoundError (NOT_FOUND)
    │   ├── ServerNotFound (SERVER_NOT_FOUND)
    │   ├── JobNotFound (JOB_NOT_FOUND)
    │   ├── AppNotFound (APP_NOT_FOUND)
    │   ├── InstallationNotFound (INSTALLATION_NOT_FOUND)
    │   ├── RepoNotFound (REPO_NOT_FOUND)
    │   └── UserNotFound (USER_NOT_FOUND)
    ├── AlreadyExists (ALREADY_EXISTS)
    ├── ConflictError (CONFLICT)
    ├── ConfirmationRequired (CONFIRMATION_REQUIRED)
    ├── FeatureDisabled (FEATURE_DISABLED)
    ├── AuthError
    │   ├── AuthenticationRequired (AUTHENTICATION_REQUIRED)
    │   ├── InvalidToken (INVALID_TOKEN)
    │   ├── AuthenticationFailed (AUTHENTICATION_FAILED)
    │   ├── AccountLocked (ACCOUNT_LOCKED)
    │   └── PermissionDenied (PERMISSION_DENIED)
    ├── RemoteError
    │   ├── ConnectionFailed (CONNECTION_FAILED)
    │   ├── HostKeyMismatch (HOST_KEY_MISMATCH)
    │   ├── HostKeyUnknown (HOST_KEY_UNKNOWN)
    │   ├── CommandFailed (COMMAND_FAILED)
    │   ├── CommandTimeout (COMMAND_TIMEOUT)
    │   └── DockerNotInstalled (DOCKER_NOT_INSTALLED)
    ├── DeploymentFailed (DEPLOYMENT_FAILED)
    ├── SyncFailed (SYNC_FAILED)
    ├── JobFailed (JOB_FAILED)
    └── DatabaseError (DATABASE_ERROR)
"""

from __future__ import annotations

from typing import Any


class TomoError(Exception):
    """Base of every domain error; unknown failures surface as INTERNAL_ERROR."""

    code = "INTERNAL_ERROR"

    def __init__(self, message: str, *, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}


class ValidationError(TomoError):
    """An argument or input is malformed or out of range."""

    code = "VALIDATION_ERROR"


class NotFoundError(TomoError):
    """A referenced object does not exist."""

    code = "NOT_FOUND"


class ServerNotFound(NotFoundError):
    """No registered server has this id or name."""

    code = "SERVER_NOT_FOUND"


class JobNotFound(NotFoundError):
    """No job has this id."""

    code = "JOB_NOT_FOUND"


class AppNotFound(NotFoundError):
    """No marketplace app has this id."""

    code = "APP_NOT_FOUND"


class InstallationNotFound(NotFoundError):
    """No installed app has this id."""

    code = "INSTALLATION_NOT_FOUND"


class RepoNotFound(NotFoundError):
    """No marketplace repository has this id."""

    code = "REPO_NOT_FOUND"


class UserNotFound(NotFoundError):
    """No user has this id or name."""

    code = "USER_NOT_FOUND"


class AlreadyExists(TomoError):
    """An object with the same unique name already exists."""

    code = "ALREADY_EXISTS"


class ConflictError(TomoError):
    """The object is busy (another job runs on it) or in a state that forbids the call."""

    code = "CONFLICT"


class ConfirmationRequired(TomoError):
    """A destructive tool was called without confirm=true; nothing was changed."""

    code = "CONFIRMATION_REQUIRED"


class FeatureDisabled(TomoError):
    """The feature is switched off by a setting."""

    code = "FEATURE_DISABLED"


class AuthError(TomoError):
    """Base of authentication and authorization failures."""

    code = "AUTHENTICATION_REQUIRED"


class AuthenticationRequired(AuthError):
    """The call needs a signed-in caller."""

    code = "AUTHENTICATION_REQUIRED"


class InvalidToken(AuthError):
    """The bearer token is malformed, expired, revoked or not ours."""

    code = "INVALID_TOKEN"


class AuthenticationFailed(AuthError):
    """Credentials were rejected (Tomo login or a remote server's SSH login)."""

    code = "AUTHENTICATION_FAILED"


class AccountLocked(AuthError):
    """Too many failed logins: the account is locked for a while."""

    code = "ACCOUNT_LOCKED"


class PermissionDenied(AuthError):
    """The caller's role does not allow this tool."""

    code = "PERMISSION_DENIED"


class RemoteError(TomoError):
    """Base of failures talking to a managed server."""

    code = "REMOTE_ERROR"


class ConnectionFailed(RemoteError):
    """The server is unreachable, refused the connection or timed out."""

    code = "CONNECTION_FAILED"


class HostKeyMismatch(RemoteError):
    """The server's SSH host key differs from the pinned one."""

    code = "HOST_KEY_MISMATCH"


class HostKeyUnknown(RemoteError):
    """No host key is pinned for the server yet: an operator's test_connection pins it."""

    code = "HOST_KEY_UNKNOWN"


class CommandFailed(RemoteError):
    """A remote command exited non-zero."""

    code = "COMMAND_FAILED"


class CommandTimeout(RemoteError):
    """A remote command did not finish in time."""

    code = "COMMAND_TIMEOUT"


class DockerNotInstalled(RemoteError):
    """Docker or Docker Compose is missing on the server."""

    code = "DOCKER_NOT_INSTALLED"


class DeploymentFailed(TomoError):
    """An app could not be deployed, updated or removed; changes were rolled back."""

    code = "DEPLOYMENT_FAILED"


class SyncFailed(TomoError):
    """A marketplace repository could not be synced."""

    code = "SYNC_FAILED"


class JobFailed(TomoError):
    """A job ended in failure."""

    code = "JOB_FAILED"


class DatabaseError(TomoError):
    """The database could not complete the operation."""

    code = "DATABASE_ERROR"
