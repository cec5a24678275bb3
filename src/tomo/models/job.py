"""Jobs: long operations recorded step by step."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import Field

from tomo.models.base import TomoModel

#: Reports a job's progress as (percent done, 0 to 100; the current step's message).
ProgressCallback = Callable[[float, str | None], Awaitable[None]]


class JobStatus(StrEnum):
    """Lifecycle of a job. ``interrupted`` = Tomo stopped while it ran."""

    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    INTERRUPTED = "interrupted"

    @property
    def finished(self) -> bool:
        """Whether the job will not change any more."""
        return self not in (JobStatus.PENDING, JobStatus.RUNNING)


class StepStatus(StrEnum):
    """Outcome of one step."""

    RUNNING = "running"
    OK = "ok"
    SKIPPED = "skipped"
    FAILED = "failed"
    CANCELLED = "cancelled"


class JobStep(TomoModel):
    """One step of a job with its timing and a short detail."""

    name: str
    status: StepStatus
    started_at: datetime
    finished_at: datetime | None = None
    duration_ms: float | None = None
    detail: str | None = None


class JobError(TomoModel):
    """Why a job failed: a stable code and a message for the model."""

    code: str
    message: str


class Job(TomoModel):
    """A persisted long operation."""

    id: str
    kind: str
    title: str
    status: JobStatus
    progress: float = Field(ge=0, le=100)
    message: str | None = None
    server_id: str | None = None
    resource: str | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    steps: list[JobStep] = Field(default_factory=list)
    result: dict[str, Any] | None = None
    error: JobError | None = None
    created_by: str | None = None
    owner: str | None = None
    created_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None


class JobSummary(TomoModel):
    """The compact view of a job for lists."""

    id: str
    kind: str
    title: str
    status: JobStatus
    progress: float
    server_id: str | None = None
    error_code: str | None = None
    created_at: datetime
    finished_at: datetime | None = None
