"""Servers: machines reached over SSH, the input that registers them, and what Tomo learns about them.

Every value that can reach a remote command or a connection is checked here by a constrained type
whose error message says what to send instead. Credentials only ever come *in*
(:class:`ServerCredentials`); no model that goes out carries them.
"""

from __future__ import annotations

import ipaddress
import posixpath
import re
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import AfterValidator, ConfigDict, Field, SecretStr, model_validator
from pydantic import ValidationError as PydanticValidationError

from tomo.errors import ValidationError
from tomo.models.base import TomoModel

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$"
USERNAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_.-]{0,31}$"
FINGERPRINT_PATTERN = r"^SHA256:[A-Za-z0-9+/]{43}=?$"
APPS_ROOT_PATTERN = r"^/[A-Za-z0-9._/-]{1,200}$"

_NAME = re.compile(NAME_PATTERN)
_ID_LIKE = re.compile(r"^[0-9a-f]{32}$")
_USERNAME = re.compile(USERNAME_PATTERN)
_LABEL = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")
_FINGERPRINT = re.compile(FINGERPRINT_PATTERN)
_APPS_ROOT = re.compile(APPS_ROOT_PATTERN)
#: Folders refused as apps_root (prepare_server would take them over).
_SYSTEM_DIRS = frozenset({
    "/", "/bin", "/boot", "/dev", "/etc", "/home", "/lib", "/lib64", "/opt", "/proc", "/root", "/run", "/sbin",
    "/srv", "/sys", "/tmp", "/usr", "/usr/bin", "/usr/lib", "/usr/local", "/usr/sbin", "/var", "/var/lib",  # noqa: S108
})


class AuthType(StrEnum):
    """How Tomo logs in over SSH."""

    PASSWORD = "password"  # noqa: S105 - the name of an auth type, not a secret
    KEY = "key"


class ServerStatus(StrEnum):
    """What the last test_connection found: unknown until the first test."""

    UNKNOWN = "unknown"
    ONLINE = "online"
    OFFLINE = "offline"
    ERROR = "error"


def check_server_name(value: str) -> str:
    """A readable, unique-looking server name."""
    if not _NAME.fullmatch(value):
        raise ValueError(
            "a server name is 1-63 letters, digits, '.', '_' or '-', starting with a letter or digit; "
            "send something like 'nas' or 'pi-4'"
        )
    if _ID_LIKE.fullmatch(value):
        raise ValueError("a server name must not look like a server id (32 hex digits); send a name such as 'nas'")
    return value


def normalize_host(value: str) -> str:
    """A hostname (lower-cased, no trailing dot) or an IP address (canonical form)."""
    host = value.strip()
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not host:
        raise ValueError("host is required: send a hostname such as 'nas.lan' or an IP address such as '192.168.1.10'")
    if "%" in host:
        raise ValueError("IPv6 zone ids ('%eth0') are not supported; send a global or unique-local IPv6 address")
    try:
        return ipaddress.ip_address(host).compressed
    except ValueError:
        pass
    name = host[:-1] if host.endswith(".") else host
    labels = name.split(".")
    if len(name) > 253 or not all(_LABEL.fullmatch(label) for label in labels) or labels[-1].isdigit():
        raise ValueError(
            "host must be a DNS name of letters, digits, '-' and '.' (e.g. 'nas.lan') or an IPv4/IPv6 address "
            "(e.g. '192.168.1.10'); spaces, shell characters and ports ('host:22') are not accepted: "
            "give the port separately"
        )
    return name.lower()


def is_loopback_literal(host: str) -> bool:
    """Whether a normalised host names this machine without DNS: localhost, 127.0.0.0/8, ::1, 0.0.0.0, ::."""
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback or address.is_unspecified


def check_username(value: str) -> str:
    """A POSIX login name: no spaces or shell characters."""
    if not _USERNAME.fullmatch(value):
        raise ValueError(
            "username must be 1-32 letters, digits, '_', '.' or '-', starting with a letter or '_' "
            "(e.g. 'admin' or 'pi'); spaces and shell characters such as ';', '$' or quotes are not allowed"
        )
    return value


def check_fingerprint(value: str) -> str:
    """An OpenSSH SHA256 fingerprint, as test_connection and HOST_KEY_MISMATCH report it."""
    value = value.strip()
    if not _FINGERPRINT.fullmatch(value):
        raise ValueError(
            "fingerprint must look like 'SHA256:' followed by 43 base64 characters, exactly as "
            "test_connection or the HOST_KEY_MISMATCH error shows it (or `ssh-keygen -lf` on the server)"
        )
    return value.rstrip("=")


def check_apps_root(value: str) -> str:
    """The apps_root setting as a safe absolute path; raises tomo ValidationError saying what to set."""
    path = posixpath.normpath(value) if isinstance(value, str) and value.startswith("/") else ""
    if not _APPS_ROOT.fullmatch(path) or ".." in path.split("/") or path in _SYSTEM_DIRS:
        raise ValidationError(
            f"The apps_root setting {value!r} cannot be used: it must be an absolute path of letters, digits, "
            "'.', '_', '-' and '/' that is not a system folder. Set one with update_settings, e.g. "
            "{'apps_root': '/opt/tomo/apps'}."
        )
    return path


ServerName = Annotated[
    str,
    Field(max_length=63, description="Unique server name, e.g. 'nas'.",
          json_schema_extra={"pattern": NAME_PATTERN}),
    AfterValidator(check_server_name),
]
Host = Annotated[
    str,
    Field(max_length=255, description="Hostname or IP address, no port, e.g. '192.168.1.10'."),
    AfterValidator(normalize_host),
]
Port = Annotated[int, Field(ge=1, le=65535, description="SSH port (usually 22).")]
Username = Annotated[
    str,
    Field(max_length=32, description="SSH login name (e.g. 'admin').", json_schema_extra={"pattern": USERNAME_PATTERN}),
    AfterValidator(check_username),
]
Fingerprint = Annotated[
    str,
    Field(max_length=80, description="SHA256 fingerprint from HOST_KEY_MISMATCH, e.g. 'SHA256:jn+yXtPh...'.",
          json_schema_extra={"pattern": FINGERPRINT_PATTERN}),
    AfterValidator(check_fingerprint),
]
Password = Annotated[str, Field(min_length=1, max_length=4096)]
PrivateKeyText = Annotated[str, Field(min_length=1, max_length=65536)]


class ServerCredentials(TomoModel):
    """SSH credentials as given by the user: stored encrypted, never returned, never logged."""

    model_config = ConfigDict(extra="forbid")

    auth_type: AuthType = Field(description="'password' or 'key'.")
    password: SecretStr | None = Field(
        default=None, max_length=4096, description="The SSH password (auth_type 'password')."
    )
    private_key: SecretStr | None = Field(
        default=None, max_length=65536,
        description="The whole private key text, BEGIN/END lines included (auth_type 'key'): ed25519, ecdsa or rsa.",
    )
    passphrase: SecretStr | None = Field(
        default=None, max_length=4096, description="Passphrase of an encrypted private key."
    )

    @model_validator(mode="after")
    def _consistent(self) -> ServerCredentials:
        problem = credentials_problem(self.auth_type, self.password, self.private_key, self.passphrase)
        if problem:
            raise ValueError(problem)
        return self

    def secrets(self) -> dict[str, str | None]:
        """The plain values, for encryption only."""
        return {
            "password": _reveal(self.password),
            "private_key": _reveal(self.private_key),
            "passphrase": _reveal(self.passphrase),
        }


def _reveal(secret: SecretStr | None) -> str | None:
    return None if secret is None else secret.get_secret_value()


def credentials_problem(
    auth_type: AuthType, password: SecretStr | None, private_key: SecretStr | None, passphrase: SecretStr | None
) -> str | None:
    """Why the credentials do not fit ``auth_type`` (None when they do), saying what to send instead."""
    for field_name, value in (("password", password), ("private_key", private_key), ("passphrase", passphrase)):
        if value is not None and not value.get_secret_value():
            return f"{field_name} is empty: send a value or leave it out"
    if auth_type is AuthType.PASSWORD:
        if password is None:
            return "auth_type 'password' needs password: send the SSH password, or use auth_type 'key'"
        if private_key is not None or passphrase is not None:
            return "auth_type 'password' takes only password; to log in with a key send auth_type 'key'"
        return None
    if private_key is None:
        return "auth_type 'key' needs private_key: send the whole private key text (BEGIN ... END lines)"
    if password is not None:
        return "auth_type 'key' takes private_key (and passphrase), not password; send auth_type 'password' instead"
    return None


def build_credentials(**fields: Any) -> ServerCredentials:
    """ServerCredentials from loose fields; raises tomo ValidationError with a readable message."""
    try:
        return ServerCredentials.model_validate({k: v for k, v in fields.items() if v is not None})
    except PydanticValidationError as exc:
        raise ValidationError(describe_problems(exc)) from exc


def describe_problems(exc: PydanticValidationError) -> str:
    """Pydantic errors as one sentence, without echoing the (possibly secret) input values."""
    problems = []
    for err in exc.errors(include_input=False, include_url=False)[:6]:
        where = ".".join(str(part) for part in err["loc"])
        message = str(err["msg"]).removeprefix("Value error, ")
        problems.append(f"{where}: {message}" if where else message)
    return "; ".join(problems) + "."


class ServerCreate(TomoModel):
    """What add_server registers."""

    name: ServerName
    host: Host
    port: Port = 22
    username: Username
    credentials: ServerCredentials


class ServerUpdate(TomoModel):
    """What update_server changes: only the fields given."""

    name: ServerName | None = None
    host: Host | None = None
    port: Port | None = None
    username: Username | None = None
    credentials: ServerCredentials | None = None

    def changes(self) -> dict[str, Any]:
        """The fields that were given (credentials excluded)."""
        return {k: v for k, v in self.model_dump(exclude={"credentials"}).items() if v is not None}


class DiskInfo(TomoModel):
    """Size of one filesystem in bytes (None when the server did not say)."""

    path: str = "/"
    total_bytes: int | None = None
    free_bytes: int | None = None


NOT_INSTALLED = "not installed"


class SystemInfo(TomoModel):
    """What a server is, read in one SSH round trip."""

    os: str
    hostname: str
    architecture: str
    kernel: str
    cpu_count: int | None = None
    memory_total: int | None = Field(default=None, description="Bytes of RAM (MemTotal).")
    disk: DiskInfo = Field(default_factory=DiskInfo)
    docker_version: str = NOT_INSTALLED
    docker_daemon_reachable: bool = False
    compose_version: str = NOT_INSTALLED
    collected_at: datetime


class Server(TomoModel):
    """A registered server as clients see it (never its credentials)."""

    id: str
    name: str
    host: str
    port: int
    username: str
    auth_type: AuthType
    key_type: str | None = None
    status: ServerStatus = ServerStatus.UNKNOWN
    last_seen: datetime | None = None
    last_error: str | None = None
    host_key_fingerprint: str | None = None
    host_key_pinned_at: datetime | None = None
    system_info: SystemInfo | None = None
    created_at: datetime
    updated_at: datetime


class ServerSummary(TomoModel):
    """The compact view list_servers returns."""

    id: str
    name: str
    host: str
    port: int
    username: str
    auth_type: AuthType
    status: ServerStatus
    last_seen: datetime | None = None
    os: str | None = None
    docker_version: str | None = None

    @classmethod
    def of(cls, server: Server) -> ServerSummary:
        info = server.system_info
        return cls(
            **server.model_dump(include=set(cls.model_fields) - {"os", "docker_version"}),
            os=info.os if info else None,
            docker_version=info.docker_version if info else None,
        )


class ConnectionTest(TomoModel):
    """What test_connection found."""

    server_id: str
    name: str
    connected: bool
    latency_ms: float
    host_key_fingerprint: str
    host_key_pinned_now: bool = Field(description="True when this connection pinned the host key (first use).")
    reused_connection: bool
    system_info: SystemInfo
    system_info_cached: bool = Field(description="True when system_info is the copy read less than 10 minutes ago.")


class CommandOutput(TomoModel):
    """The result of execute_command: exit status and the tails of both streams."""

    exit_status: int
    stdout_tail: str
    stderr_tail: str
    truncated: bool
    duration_ms: float
