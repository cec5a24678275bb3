"""The response envelope every tool returns: ``{success, message, data?, error?}``."""

from __future__ import annotations

from typing import Any

from pydantic_core import to_jsonable_python

from tomo.errors import TomoError
from tomo.lib.redaction import redact_text

INTERNAL_MESSAGE = (
    "Tomo hit an unexpected internal error and did not finish the call. "
    "Nothing secret was exposed; get_logs(level='ERROR') shows the server-side record."
)


def success(message: str, data: Any = None) -> dict[str, Any]:
    """A successful envelope; ``data`` is converted to plain JSON values."""
    envelope: dict[str, Any] = {"success": True, "message": message}
    if data is not None:
        envelope["data"] = to_jsonable_python(data)
    return envelope


def failure(code: str, message: str, data: Any = None) -> dict[str, Any]:
    """A failed envelope with a stable error code."""
    envelope: dict[str, Any] = {"success": False, "message": redact_text(message), "error": code}
    if data:
        envelope["data"] = to_jsonable_python(data)
    return envelope


def from_error(exc: TomoError) -> dict[str, Any]:
    """The envelope for a domain error, its safe ``details`` included as data."""
    return failure(exc.code, exc.message, exc.details or None)


def internal_error() -> dict[str, Any]:
    """The envelope for an unexpected exception: generic, no details leaked."""
    return failure("INTERNAL_ERROR", INTERNAL_MESSAGE)
