"""Marketplace sync: bring a catalog repository's apps up to date (as a job), and the built-in catalog.

A sync fetches the repository with git into ``<data_dir>/catalogs/<repo id>``, reads it with the
catalog layer in a thread, and stores the difference in one transaction: apps added, updated
(content hash changed), removed upstream. An app whose folder is now skipped (broken manifest) keeps
its last good version; an app removed upstream that an installation still uses is kept and marked
deprecated. The built-in catalog is read from the package on first use, and again only when its
content hash changes. A sync that a stop or crash cut short leaves its repository ``interrupted`` (set at
the next start, as its job is).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Literal, cast

import structlog

from tomo import __version__
from tomo.database.repositories.marketplace import AppChanges, MarketplaceRepository, StoredApp
from tomo.database.types import new_id, utcnow
from tomo.errors import DatabaseError, SyncFailed, TomoError
from tomo.lib import git
from tomo.lib.config import TomoConfig
from tomo.models.job import Job
from tomo.services.jobs.jobs import JobContext, JobService
from tomo.services.settings.settings import SettingsService

if TYPE_CHECKING:
    from tomo.models.marketplace import CatalogApp, CatalogFormat, ImportResult

logger = structlog.get_logger("tomo.marketplace")

InUseCheck = Callable[[], Awaitable[set[str]]]
BUILTIN_NAME: Final = "builtin"
REPORT_LIST_LIMIT: Final = 100
SYNC_RESOURCE: Final = "marketplace_repo:"
INTERRUPTED_SYNC: Final = ("The last sync did not finish: Tomo stopped while it ran, so the apps may be from "
                           "before it. Run sync_repo to sync again.")


@dataclass
class SyncReport:
    """What one sync changed; lists hold public app ids."""

    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    deprecated: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)
    unchanged: int = 0
    app_count: int = 0

    def counts(self) -> dict[str, int]:
        """How many apps fell in each outcome."""
        names = ("added", "updated", "removed", "deprecated", "kept", "skipped")
        return {name: len(getattr(self, name)) for name in names} | {"unchanged": self.unchanged}

    def as_result(self) -> dict[str, Any]:
        """The job result: counts, and each list cut at :data:`REPORT_LIST_LIMIT` entries."""
        lists = {name: value[:REPORT_LIST_LIMIT] for name, value in vars(self).items() if isinstance(value, list)}
        truncated = any(len(value) > REPORT_LIST_LIMIT for value in vars(self).values() if isinstance(value, list))
        return {**lists, "counts": self.counts(), "app_count": self.app_count, "lists_truncated": truncated}


def content_hash(data: dict[str, Any]) -> str:
    """A stable digest of an app's stored form, to tell changed apps from unchanged ones."""
    return hashlib.sha256(json.dumps(data, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def app_row(repo_name: str, repo_id: str, app: CatalogApp, now: datetime) -> dict[str, Any]:
    """The ``marketplace_apps`` row for one imported app (ratings excluded)."""
    data = app.model_dump(mode="json")
    tags = [tag.lower() for tag in app.tags]
    return {
        "id": f"{repo_name}/{app.id}", "repo_id": repo_id, "app_id": app.id, "name": app.name,
        "title": app.title[:200], "sort_title": app.title[:200].lower(), "tagline": app.tagline,
        "description": app.description, "category": app.category, "tags": tags, "tags_text": "|" + "|".join(tags) + "|",
        "version": app.version[:128], "icon": app.icon, "featured": app.featured, "deprecated": app.deprecated,
        "format": app.format, "source_path": app.source_path, "data": data, "content_hash": content_hash(data),
        "updated_at": now,
    }


def tree_hash(root: Path) -> str:
    """Digest of every file under ``root`` (paths and contents) plus Tomo's version (the importer may change)."""
    digest = hashlib.sha256(__version__.encode())
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


class SyncService:
    """Runs repository syncs and keeps the built-in catalog imported."""

    def __init__(
        self,
        marketplace_repository: MarketplaceRepository,
        job_service: JobService,
        settings_service: SettingsService,
        config: TomoConfig,
    ) -> None:
        self.repo = marketplace_repository
        self.jobs = job_service
        self.settings = settings_service
        self.catalogs_dir = config.data_dir / "catalogs"
        self._in_use_checks: list[InUseCheck] = []
        self._builtin_ready = False
        self._builtin_lock = asyncio.Lock()

    def register_in_use_check(self, check: InUseCheck) -> None:
        """Add a source of app ids in use (installations); such apps are never removed by a sync."""
        self._in_use_checks.append(check)

    async def apps_in_use(self) -> set[str]:
        """Public ids of marketplace apps that some installation uses."""
        used: set[str] = set()
        for check in self._in_use_checks:
            used |= await check()
        return used

    async def active_sync(self, repo_id: str) -> str | None:
        """The id of the job syncing ``repo_id`` now, in any instance."""
        return await self.jobs.active_for_resource(f"{SYNC_RESOURCE}{repo_id}")

    async def cancel_sync(self, job_id: str) -> None:
        """Cancel a sync job and wait (up to about 10 s) for it to end."""
        await self.jobs.cancel(job_id)

    def checkout_dir(self, repo_id: str) -> Path:
        """Where a repository is checked out."""
        return self.catalogs_dir / repo_id

    async def remove_checkout(self, repo_id: str) -> None:
        """Delete a repository's checkout folder."""
        await git.remove_tree(self.checkout_dir(repo_id))

    async def recover_interrupted(self) -> list[str]:
        """At start-up: repositories left ``syncing`` with no active sync job (a process stopped or crashed
        mid-sync, and its job was recovered) become ``interrupted``; a sync another live instance is running is
        left alone. Returns their names."""
        running = {resource.removeprefix(SYNC_RESOURCE) for resource in
                   await self.jobs.active_resources(SYNC_RESOURCE)}
        names = await self.repo.mark_interrupted_syncs(INTERRUPTED_SYNC, keep=running)
        if names:
            logger.warning("marketplace_syncs_interrupted", count=len(names), repos=names)
        return names

    async def recover_job(self, job: Job, ctx: JobContext) -> str:
        """Recovery of a sync job whose process died: its repository is marked interrupted (the next sync
        repairs it; nothing else to undo, as a sync replaces the apps in one transaction)."""
        repo_id = str(job.params.get("repo_id", ""))
        names = await self.repo.mark_interrupted_syncs(INTERRUPTED_SYNC, only=repo_id)
        return f"repository {names[0]} marked interrupted; run sync_repo again" if names else "nothing to undo"

    async def start(self, repo: dict[str, Any]) -> str:
        """Start the sync job of ``repo``; one sync per repository at a time. Returns the job id."""

        async def runner(ctx: JobContext) -> dict[str, Any]:
            return await self._run(ctx, repo)

        return await self.jobs.start(
            "marketplace_sync", f"Sync repository {repo['name']}", runner,
            resource=f"{SYNC_RESOURCE}{repo['id']}", params={"repo_id": repo["id"], "name": repo["name"]},
        )

    async def _run(self, ctx: JobContext, repo: dict[str, Any]) -> dict[str, Any]:
        await self.repo.update_repo(repo["id"], {"status": "syncing"})
        try:
            root, commit = await self._fetch_step(ctx, repo)
            await ctx.progress(35, "reading the catalog")
            async with ctx.step("import") as step:
                result = await self._import(root, repo["format"])
                step.detail = f"{result.format} catalog: {len(result.apps)} apps read, {len(result.skipped)} skipped"
            await ctx.progress(70, "storing apps")
            async with ctx.step("store") as step:
                report = await self.store(repo, result)
                step.detail = ", ".join(f"{count} {name}" for name, count in report.counts().items())
        except BaseException as exc:
            reason = exc.message if isinstance(exc, TomoError) else f"the sync stopped ({type(exc).__name__})"
            await asyncio.shield(self.repo.update_repo(repo["id"], {"status": "error", "last_error": reason}))
            raise
        await self.repo.update_repo(repo["id"], {
            "status": "ok", "last_error": None, "last_synced": utcnow(), "commit": commit,
            "app_count": report.app_count, "format": result.format,
        })
        logger.info("marketplace_synced", repo=repo["name"], **report.counts())
        return {"repo_id": repo["id"], "repo": repo["name"], "commit": commit, "format": result.format,
                **report.as_result()}

    async def _fetch_step(self, ctx: JobContext, repo: dict[str, Any]) -> tuple[Path, str | None]:
        if repo["builtin"]:
            from tomo.lib.catalog import builtin_catalog_path

            await ctx.skip("fetch", "the built-in catalog ships inside Tomo; nothing to download")
            return builtin_catalog_path(), None
        async with ctx.step("fetch") as step:
            dest = self.checkout_dir(repo["id"])
            timeout = float(self.settings.get("marketplace_sync_timeout"))
            commit = await git.checkout(repo["url"], repo["branch"], dest, timeout=timeout)
            step.detail = f"{git.mask_url(repo['url'])} {repo['branch']} at {commit[:12]}"
        return dest, commit

    async def _import(self, root: Path, format: str) -> ImportResult:
        from tomo.lib.catalog import import_catalog

        max_bytes = int(self.settings.get("marketplace_max_manifest_kb")) * 1024
        chosen = cast("CatalogFormat | Literal['auto']", format)
        return await asyncio.to_thread(import_catalog, root, chosen, max_manifest_bytes=max_bytes)

    async def store(self, repo: dict[str, Any], result: ImportResult) -> SyncReport:
        """Store an import's apps as the repository's new state and report the differences."""
        if await self.repo.get_repo(repo["id"]) is None:
            raise SyncFailed(f"Repository '{repo['name']}' was removed while it synced; nothing was stored.")
        stored = await self.repo.stored_apps(repo["id"])
        now = utcnow()
        report = SyncReport(skipped=[{"path": item.path, "reason": item.reason} for item in result.skipped])
        changes = AppChanges()
        for app in result.apps:
            row = app_row(repo["name"], repo["id"], app, now)
            old = stored.pop(app.id, None)
            if old is None:
                changes.insert.append({**row, "avg_rating": None, "rating_count": 0})
                report.added.append(row["id"])
            elif old.content_hash != row["content_hash"]:
                changes.update.append(row)
                report.updated.append(row["id"])
            else:
                report.unchanged += 1
        await self._gone(list(stored.values()), {item.path for item in result.skipped}, changes, report)
        report.app_count = await self.repo.apply_changes(repo["id"], changes, now)
        return report

    async def _gone(
        self, gone: list[StoredApp], skipped_paths: set[str], changes: AppChanges, report: SyncReport
    ) -> None:
        """Sort apps no longer read: kept (folder skipped), deprecated (in use) or removed."""
        report.kept = [old.id for old in gone if old.source_path in skipped_paths]
        missing = [old for old in gone if old.source_path not in skipped_paths]
        in_use = await self.apps_in_use() if missing else set()
        for old in missing:
            if old.id not in in_use:
                changes.delete.append(old.id)
                report.removed.append(old.id)
            elif not old.deprecated or old.content_hash:
                changes.deprecate.append(old.id)
                report.deprecated.append(old.id)

    async def ensure_builtin(self) -> None:
        """Register and import the built-in catalog once per process (again only if its content changed)."""
        if self._builtin_ready:
            return
        async with self._builtin_lock:
            if self._builtin_ready:
                return
            try:
                await self._refresh_builtin()
            except DatabaseError:  # another Tomo process on the same database did it at the same time
                logger.warning("builtin_catalog_race", action="retrying once")
                await self._refresh_builtin()
            self._builtin_ready = True

    async def _refresh_builtin(self) -> None:
        from tomo.lib.catalog import builtin_catalog_path, import_catalog

        root = builtin_catalog_path()
        digest = await asyncio.to_thread(tree_hash, root)
        repo = await self.repo.get_repo_by_name(BUILTIN_NAME) or await self._register_builtin(root)
        if repo["content_hash"] == digest and repo["url"] == str(root):
            return
        result = await asyncio.to_thread(import_catalog, root, "tomo")
        report = await self.store(repo, result)
        await self.repo.update_repo(repo["id"], {
            "url": str(root), "content_hash": digest, "status": "ok", "last_synced": utcnow(),
            "app_count": report.app_count, "last_error": None,
        })
        logger.info("builtin_catalog_imported", **report.counts())

    async def _register_builtin(self, root: Path) -> dict[str, Any]:
        values = {
            "id": new_id(), "name": BUILTIN_NAME, "url": str(root), "branch": "", "format": "tomo",
            "enabled": True, "builtin": True, "status": "new", "app_count": 0, "created_at": utcnow(),
        }
        await self.repo.insert_repo(values)
        return {**values, "last_synced": None, "last_error": None, "commit": None, "content_hash": None}
