"""Helpers for the marketplace tests: real git repositories in tmp_path, the shared catalogs, small catalogs.

No tests here; the other ``test_marketplace_*`` modules and the sync integration test import these.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tomo.main import TomoApp
from tomo.models.job import Job
from tomo.models.principal import Principal, Role

if TYPE_CHECKING:
    from tomo.services.marketplace.marketplace import MarketplaceService

REPO_ROOT = Path(__file__).resolve().parents[4]
GIT_ENV = {"GIT_AUTHOR_NAME": "Tomo Tests", "GIT_AUTHOR_EMAIL": "tests@tomo.invalid",
           "GIT_COMMITTER_NAME": "Tomo Tests", "GIT_COMMITTER_EMAIL": "tests@tomo.invalid"}


def shared_catalogs_path() -> Path:
    """``$TOMO_SHARED_CATALOGS``, else ``<repo>/../shared/catalogs``; skip (fail when required) if missing."""
    configured = os.environ.get("TOMO_SHARED_CATALOGS")
    path = Path(configured) if configured else REPO_ROOT.parent / "shared" / "catalogs"
    if not (path / "casaos" / "Apps").is_dir() or not (path / "runtipi" / "apps").is_dir():
        message = f"shared catalogs not found at {path} (set TOMO_SHARED_CATALOGS)"
        if os.environ.get("TOMO_TESTBED") == "required":
            pytest.fail(message)
        pytest.skip(message)
    return path


def git(repo: Path, *args: str) -> str:
    """Run git in ``repo`` (author set, no user config needed); return stdout."""
    result = subprocess.run(["git", *args], cwd=repo, env={**os.environ, **GIT_ENV}, capture_output=True,
                            text=True, check=True, timeout=120)
    return result.stdout


def commit_all(repo: Path, message: str = "update") -> str:
    """Commit everything in ``repo`` (creating the repository on branch main first if needed); return the commit."""
    if not (repo / ".git").exists():
        git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "--allow-empty", "-m", message)
    return git(repo, "rev-parse", "HEAD").strip()


def copy_catalog(source: Path, dest: Path) -> Path:
    """A git repository holding a copy of the catalog at ``source``."""
    shutil.copytree(source, dest, symlinks=True)
    commit_all(dest, "import catalog")
    return dest


def tomo_app_manifest(app_id: str, title: str, **fields: Any) -> str:
    """A minimal Tomo-format compose.yaml (one service) with the given x-tomo fields."""
    x_tomo = {"title": title, "category": "utilities", "version": "1.0", "main_port": 80, **fields}
    return json.dumps({"services": {"web": {"image": f"example/{app_id}:1.0", "ports": ["${APP_PORT}:80"]}},
                       "x-tomo": x_tomo})


def write_tomo_app(root: Path, app_id: str, title: str | None = None, **fields: Any) -> Path:
    """Write ``apps/<app_id>/compose.yaml`` in Tomo's format (JSON is valid YAML)."""
    folder = root / "apps" / app_id
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "compose.yaml").write_text(tomo_app_manifest(app_id, title or app_id.title(), **fields))
    return folder


async def ready(app: TomoApp) -> TomoApp:
    """Migrate and load settings without an MCP session."""
    await app.database.migrate()
    await app.services["settings_service"].load()
    return app


def act_as(app: TomoApp, username: str, role: Role = Role.VIEWER) -> None:
    """Make every following tool call run as a signed-in user with ``role``."""
    principal = Principal(username=username, role=role, transport="http", user_id=f"id-{username}")
    identity = app.services["identity_service"]
    if hasattr(identity, "act_as"):
        identity.act_as(principal)
    else:  # an identity service that pins one principal for every call
        identity._principal = principal


def marketplace(app: TomoApp) -> MarketplaceService:
    service: MarketplaceService = app.services["marketplace_service"]
    return service


async def add_and_sync(app: TomoApp, name: str, url: Path | str, *, branch: str = "main") -> tuple[str, Job]:
    """Add a repository and run its sync to the end; returns (repo id, finished job)."""
    repo = await marketplace(app).add_repo(name, str(url), branch, "auto")
    return repo.id, await sync(app, repo.id)


async def sync(app: TomoApp, repo_id: str) -> Job:
    """Run a repository's sync job to the end."""
    job_id, _ = await marketplace(app).sync_repo(repo_id)
    job: Job = await app.services["job_service"].wait(job_id, 120)
    assert job.status.finished, job
    return job
