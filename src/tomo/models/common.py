"""Small shapes shared by tools: what a tool method returns before the wrapper builds the envelope."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Reply:
    """A successful tool result: a sentence for the model and the data."""

    message: str
    data: Any = None


@dataclass(frozen=True)
class JobStarted:
    """Returned by job tools: the wrapper waits up to ``wait_seconds`` and reports progress."""

    job_id: str
    message: str
