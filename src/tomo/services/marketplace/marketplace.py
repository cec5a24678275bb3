"""The marketplace: catalog repositories, search over their apps, app details and ratings.

Apps are addressed by their public id ``<repo name>/<app id>`` (``builtin/jellyfin``); a bare app id is
accepted when only one enabled repository has it. The built-in catalog is registered and imported on
the first marketplace call (see ``SyncService.ensure_builtin``), so a fresh install can browse
offline. Heavy modules (the catalog layer, YAML) are imported on first use, not at start-up.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Final

from tomo.database.repositories.marketplace import MarketplaceRepository
from tomo.database.types import new_id, utcnow
from tomo.errors import AlreadyExists, AppNotFound, ConflictError, RepoNotFound, ValidationError
from tomo.lib import git
from tomo.lib.mcp.tooling import current_principal
from tomo.models.common import Page
from tomo.models.marketplace import SearchFilters
from tomo.services.marketplace.sync import BUILTIN_NAME, InUseCheck, SyncService

if TYPE_CHECKING:
    from tomo.models.marketplace import CatalogApp, MarketplaceAppSummary, MarketplaceRepo

REPO_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}$")
FORMATS: Final = ("auto", "tomo", "casaos", "runtipi")


def _repo_model(row: dict[str, Any]) -> MarketplaceRepo:
    from tomo.models.marketplace import MarketplaceRepo

    return MarketplaceRepo.model_validate(
        {**row, "url": git.mask_url(row["url"]), "branch": row["branch"] or None}
    )


def _summaries(rows: list[dict[str, Any]]) -> list[MarketplaceAppSummary]:
    from tomo.models.marketplace import MarketplaceAppSummary

    return [MarketplaceAppSummary.model_validate(row) for row in rows]


def normalize_category_filter(category: str) -> str:
    """A Tomo category from a user's filter value (aliases accepted); ValidationError lists the valid ones."""
    from tomo.lib.catalog.categories import CATEGORIES, CATEGORY_ALIASES

    slug = re.sub(r"[\s_/&]+", "-", category.strip().lower()).strip("-")
    found = slug if slug in CATEGORIES else CATEGORY_ALIASES.get(slug)
    if found is None:
        raise ValidationError(
            f"Unknown category {category[:40]!r}; use one of: {', '.join(CATEGORIES)} "
            "(get_marketplace_categories shows counts)."
        )
    return found


def app_detail(row: dict[str, Any], app: CatalogApp) -> dict[str, Any]:
    """Everything get_marketplace_app shows: metadata, services, ports, volumes, typed inputs, compose."""
    meta = app.model_dump(mode="json", exclude={"services", "inputs", "compose", "image_overrides", "id"})
    services = [
        service.model_dump(mode="json", include={"name", "image", "environment", "depends_on"})
        for service in app.services
    ]
    inputs = []
    for item in app.inputs:
        entry = item.model_dump(mode="json", exclude_none=True, exclude_defaults=False)
        entry["generated"] = item.type == "secret"
        if entry["generated"]:
            entry.pop("default", None)
        inputs.append(entry)
    return {
        **meta, "id": row["id"], "app_id": app.id, "repo_id": row["repo_id"], "repo_name": row["repo_name"],
        "avg_rating": row["avg_rating"], "rating_count": row["rating_count"], "services": services,
        "ports": [port.model_dump(mode="json") for service in app.services for port in service.ports],
        "volumes": [volume.model_dump(mode="json") for service in app.services for volume in service.volumes],
        "inputs": inputs, "image_overrides": app.image_overrides, "compose": app.compose,
    }


def _refuse_removal(name: str, sync_job: str | None, used: list[str]) -> None:
    """ConflictError when a sync runs or installations use apps of the repository (removal without force)."""
    if sync_job is not None:
        raise ConflictError(
            f"Repository '{name}' is being synced (job {sync_job}); wait for it (get_job job_id='{sync_job}'), or "
            "call remove_repo again with force=true to cancel the sync and remove it.",
            details={"job_id": sync_job},
        )
    if used:
        listed = ", ".join(used[:20]) + (f" and {len(used) - 20} more" if len(used) > 20 else "")
        raise ConflictError(
            f"Installations use {len(used)} app(s) of repository '{name}': {listed} (list_installed_apps shows "
            "them). Uninstall them first, or call remove_repo again with force=true: its other apps go, these "
            "stay as deprecated apps so their installations can still be updated.",
            details={"apps_in_use": used},
        )


class MarketplaceService:
    """Repositories, search, app details and ratings."""

    def __init__(self, marketplace_repository: MarketplaceRepository, sync_service: SyncService) -> None:
        self.repo = marketplace_repository
        self.sync = sync_service

    def register_in_use_check(self, check: InUseCheck) -> None:
        """Register a source of app ids in use (e.g. installations); syncs keep such apps, deprecated."""
        self.sync.register_in_use_check(check)

    async def list_repos(self, limit: int, offset: int) -> Page[MarketplaceRepo]:
        """A page of repositories, the built-in one first, with their number."""
        await self.sync.ensure_builtin()
        rows, total = await self.repo.page_repos(limit, offset)
        return Page([_repo_model(row) for row in rows], total, limit, offset)

    async def add_repo(self, name: str, url: str, branch: str, format: str) -> MarketplaceRepo:
        """Register a repository (validated; nothing is fetched until sync_repo)."""
        await self.sync.ensure_builtin()
        name = name.strip().lower()
        if not REPO_NAME.match(name) or name == BUILTIN_NAME:
            raise ValidationError(
                f"Repository name {name[:64]!r} is not allowed: use 1-40 lower-case letters, digits and hyphens "
                f"(not '{BUILTIN_NAME}'), e.g. 'casaos'. It becomes the prefix of app ids ('<name>/<app>')."
            )
        if format not in FORMATS:
            raise ValidationError(f"Unknown catalog format {format!r}; use one of {', '.join(FORMATS)}.")
        url, branch = git.validate_url(url), git.validate_branch(branch.strip())
        for row in await self.repo.list_repos():
            if row["name"] == name or (row["url"] == url and row["branch"] == branch):
                raise AlreadyExists(f"Repository '{row['name']}' already has this name or URL and branch; "
                                    "see list_repos.")
        values: dict[str, Any] = {
            "id": new_id(), "name": name, "url": url, "branch": branch, "format": format, "enabled": True,
            "builtin": False, "status": "new", "app_count": 0, "created_at": utcnow(),
        }
        await self.repo.insert_repo(values)
        return await self._repo(values["id"])

    async def _repo_row(self, repo_key: str) -> dict[str, Any]:
        await self.sync.ensure_builtin()
        row = await self.repo.get_repo(repo_key) or await self.repo.get_repo_by_name(repo_key.strip().lower())
        if row is None:
            raise RepoNotFound(f"No marketplace repository '{repo_key[:64]}'; list_repos shows ids and names.")
        return row

    async def _repo(self, repo_key: str) -> MarketplaceRepo:
        return _repo_model(await self._repo_row(repo_key))

    async def remove_repo(self, repo_key: str, *, force: bool) -> tuple[MarketplaceRepo, list[str]]:
        """Delete a repository, its apps, their ratings and its checkout; returns it and the apps kept.

        Refused while a sync runs or installations use its apps, unless ``force``: then the sync is cancelled
        and the apps in use stay, deprecated, under the repository, which stays listed, disabled, as
        ``removed`` (update_app keeps finding them; remove_repo again once they are uninstalled).
        """
        row = await self._repo_row(repo_key)
        if row["builtin"]:
            raise ValidationError(
                "The built-in catalog ships with Tomo and cannot be removed; hide its apps with "
                f"toggle_repo(repo_id='{row['id']}', enabled=false) instead."
            )
        sync_job = await self.sync.active_sync(row["id"])
        in_use = await self.sync.apps_in_use()
        used = sorted(app.id for app in (await self.repo.stored_apps(row["id"])).values() if app.id in in_use)
        if not force:
            _refuse_removal(row["name"], sync_job, used)
        if sync_job is not None:
            await self.sync.cancel_sync(sync_job)
        if used:
            note = f"Removed with force=true; kept, deprecated, for their installations: {', '.join(used)}"[:1000]
            await self.repo.retire_repo(row["id"], used, {"enabled": False, "status": "removed", "last_error": note,
                                                          "app_count": len(used)}, utcnow())
        else:
            await self.repo.delete_repo(row["id"])
        await self.sync.remove_checkout(row["id"])
        return _repo_model(row), used

    async def toggle_repo(self, repo_key: str, enabled: bool) -> MarketplaceRepo:
        """Show (enabled) or hide (disabled) a repository's apps in search and browsing."""
        row = await self._repo_row(repo_key)
        await self.repo.update_repo(row["id"], {"enabled": enabled})
        return _repo_model({**row, "enabled": enabled})

    async def sync_repo(self, repo_key: str) -> tuple[str, MarketplaceRepo]:
        """Start the sync job of a repository; returns (job id, repository)."""
        row = await self._repo_row(repo_key)
        return await self.sync.start(row), _repo_model(row)

    async def search(
        self, query: str | None, category: str | None, tags: list[str] | None, repo_key: str | None,
        featured: bool | None, limit: int, offset: int,
    ) -> tuple[list[MarketplaceAppSummary], int]:
        """A page of ranked app summaries and the total number of matches."""
        await self.sync.ensure_builtin()
        filters = SearchFilters(
            category=normalize_category_filter(category) if category else None,
            tags=tuple(tag.strip().lower() for tag in tags or () if tag.strip()),
            repo_id=(await self._repo_row(repo_key))["id"] if repo_key else None,
            featured=featured,
        )
        rows, total = await self.repo.search(query, filters, limit, offset)
        return _summaries(rows), total

    async def featured(self, limit: int) -> list[MarketplaceAppSummary]:
        """Featured apps of enabled repositories."""
        apps, _ = await self.search(None, None, None, None, True, limit, 0)
        return apps

    async def categories(self) -> list[dict[str, Any]]:
        """Every Tomo category with its number of apps (enabled repositories)."""
        from tomo.lib.catalog.categories import CATEGORIES

        await self.sync.ensure_builtin()
        counts = await self.repo.category_counts()
        return [{"category": name, "count": counts.get(name, 0)} for name in CATEGORIES]

    async def _app_row(self, app_id: str) -> dict[str, Any]:
        await self.sync.ensure_builtin()
        key = app_id.strip()
        row = await self.repo.get_app(key) if "/" in key else None
        if row is None and "/" not in key:
            candidates = await self.repo.ids_for_app_id(key.lower())
            if len(candidates) > 1:
                raise ValidationError(f"App id '{key}' is in several repositories: {', '.join(candidates[:10])}; "
                                      "pass one of these full ids.", details={"candidates": candidates[:10]})
            row = await self.repo.get_app(candidates[0]) if candidates else None
        if row is None:
            raise AppNotFound(f"No marketplace app '{app_id[:120]}'; search_marketplace finds apps and their ids.")
        return row

    async def get_app(self, app_id: str) -> CatalogApp:
        """The full catalog app (compose, services, inputs) by public id or unambiguous bare id."""
        from tomo.models.marketplace import CatalogApp

        return CatalogApp.model_validate((await self._app_row(app_id))["data"])

    async def get_app_detail(self, app_id: str) -> dict[str, Any]:
        """What get_marketplace_app shows (see :func:`app_detail`)."""
        from tomo.models.marketplace import CatalogApp

        row = await self._app_row(app_id)
        return app_detail(row, CatalogApp.model_validate(row["data"]))

    async def rate(self, app_id: str, rating: int) -> dict[str, Any]:
        """Record the caller's rating (1-5) of an app, replacing an earlier one; returns the new average."""
        if not 1 <= rating <= 5:
            raise ValidationError(f"A rating is a whole number from 1 to 5; got {rating}.")
        principal = current_principal()
        if principal is None or not (principal.user_id or principal.username):
            raise ValidationError("Rating needs a known caller; sign in first.")
        row = await self._app_row(app_id)
        average, count = await self.repo.rate(row["id"], principal.user_id or principal.username, rating, utcnow())
        return {"app_id": row["id"], "title": row["title"], "rating": rating, "avg_rating": average,
                "rating_count": count}
