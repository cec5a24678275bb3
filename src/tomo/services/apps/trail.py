"""The trail of an install or update job: what it changed on the server so far, so a rollback (in the job, or by
another instance after its process died) undoes exactly that."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Trail:
    """What a job changed on the server so far: the rollback undoes exactly this.

    The job keeps it in the installation's ``trail`` column before it first changes the server (and again when
    Compose's pid is known), so that when its process dies another instance undoes the same (services/apps/
    recovery.py). Everything after that point counts as possibly done: undoing it is harmless if it was not.
    """

    dir_existed: bool = True
    data_existed: bool = True
    volumes_before: set[str] = field(default_factory=set)
    uploaded: bool = False
    started: bool = False
    up_pid: int | None = None
    up_done: bool = False
    helper_image: str | None = None
    backed_up: bool = False  # an update kept the running files as compose.previous.yaml and .env.previous

    def saved(self, job_id: str) -> dict[str, Any]:
        """The column value: what a recovery needs, tagged with the job that wrote it."""
        return {"job_id": job_id, "dir_existed": self.dir_existed, "data_existed": self.data_existed,
                "volumes_before": sorted(self.volumes_before), "up_pid": self.up_pid if not self.up_done else None,
                "helper_image": self.helper_image, "backed_up": self.backed_up}

    @classmethod
    def left_by(cls, saved: dict[str, Any] | None, job_id: str) -> Trail | None:
        """The trail job ``job_id`` kept, as its crash left it (None if it changed nothing on the server)."""
        if not saved or saved.get("job_id") != job_id:
            return None
        pid = saved.get("up_pid")
        return cls(dir_existed=bool(saved["dir_existed"]), data_existed=bool(saved["data_existed"]),
                   volumes_before=set(saved["volumes_before"]), uploaded=True, started=True,
                   up_pid=int(pid) if pid is not None else None, helper_image=saved.get("helper_image"),
                   backed_up=bool(saved.get("backed_up")))
