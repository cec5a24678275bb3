"""Marketplace tools: catalog repositories, app search and details, ratings."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field

from tomo.lib.mcp.tooling import tomo_resource, tomo_tool
from tomo.models.common import DEFAULT_PAGE_SIZE, JobStarted, Page, PageLimit, PageOffset, Reply
from tomo.models.principal import Role
from tomo.services.marketplace.marketplace import MarketplaceService

RepoId = Annotated[
    str, Field(min_length=1, max_length=64, description="Repository id (or name) as shown by list_repos.")
]
AppId = Annotated[
    str,
    Field(min_length=1, max_length=200, description="App id as shown by search_marketplace, e.g. 'builtin/jellyfin'."),
]
CatalogFormatChoice = Literal["auto", "tomo", "casaos", "runtipi"]


class MarketplaceTools:
    """Browse app catalogs synced from git, and manage the catalog repositories."""

    def __init__(self, marketplace_service: MarketplaceService) -> None:
        self.marketplace = marketplace_service

    @tomo_tool(read_only=True, idempotent=True, title="List catalog repositories")
    async def list_repos(self, limit: PageLimit = DEFAULT_PAGE_SIZE, offset: PageOffset = 0) -> Reply:
        """List the marketplace's catalog repositories with their app count, last sync, status and format.

        The built-in catalog ("builtin") is always there; others come from add_repo. Status "error" (last
        sync failed) or "interrupted" (Tomo stopped during a sync) has the reason in last_error; sync_repo
        retries.
        """
        page = await self.marketplace.list_repos(limit, offset)
        return page.reply("list_repos", "repos", "repositories")

    @tomo_tool(role=Role.ADMIN, title="Add catalog repository")
    async def add_repo(
        self,
        name: Annotated[
            str,
            Field(min_length=1, max_length=40,
                  description="Unique name: lower-case letters, digits, '-', e.g. 'casaos'."),
        ],
        url: Annotated[
            str,
            Field(min_length=1, max_length=2000, description="https://, ssh:// or git@host:owner/repo.git URL, or "
                  "absolute path of a local git repository."),
        ],
        branch: Annotated[
            str, Field(min_length=1, max_length=200, description="Branch to follow, e.g. 'main'.")
        ] = "main",
        format: Annotated[CatalogFormatChoice, Field(description="Catalog layout; auto detects it.")] = "auto",
    ) -> Reply:
        """Register a git repository of apps (Tomo, CasaOS or Runtipi format) as a marketplace catalog.

        Nothing is downloaded yet: call sync_repo with the returned id to import its apps. The name
        prefixes the apps' ids ("casaos/jellyfin"). Public stores:
        https://github.com/IceWhaleTech/CasaOS-AppStore.git (branch main),
        https://github.com/runtipi/runtipi-appstore.git (branch master).
        """
        repo = await self.marketplace.add_repo(name, url, branch, format)
        return Reply(f"Repository '{repo.name}' added; call sync_repo(repo_id='{repo.id}') to import its apps.",
                     {"repo": repo})

    @tomo_tool(role=Role.ADMIN, destructive=True, title="Remove catalog repository")
    async def remove_repo(
        self,
        repo_id: RepoId,
        confirm: bool = False,
        force: Annotated[bool, Field(description="Cancel a running sync; keep installed apps, deprecated.")] = False,
    ) -> Reply:
        """Remove a catalog repository with all its apps, their ratings and its local checkout.

        Refused while it syncs or its apps are installed (named), unless force=true: the sync is cancelled
        and installed apps stay, deprecated, for update_app. The built-in catalog cannot be removed
        (toggle_repo hides it). Destructive: call with confirm=true once the user agreed.

        Args:
            confirm: must be true to proceed.
        """
        repo, kept = await self.marketplace.remove_repo(repo_id, force=force)
        if not kept:
            return Reply(f"Repository '{repo.name}' and its {repo.app_count} apps were removed.",
                         {"repo": repo, "kept": []})
        return Reply(f"Repository '{repo.name}' was removed but for {len(kept)} app(s) still installed, kept as "
                     f"deprecated: {', '.join(kept[:20])}. Call remove_repo again once they are uninstalled.",
                     {"repo": repo, "kept": kept})

    @tomo_tool(role=Role.ADMIN, job=True, open_world=True, title="Sync catalog repository")
    async def sync_repo(self, repo_id: RepoId) -> JobStarted:
        """Fetch a catalog repository with git and import its apps, as a job.

        Reports the apps added, updated, removed (installed ones are kept, marked deprecated) and
        skipped with reasons; a broken manifest never stops the sync. Seconds to a minute for a large
        store. Follow it with get_job.
        """
        job_id, repo = await self.marketplace.sync_repo(repo_id)
        return JobStarted(job_id, f"Syncing repository '{repo.name}'.")

    @tomo_tool(role=Role.ADMIN, idempotent=True, title="Enable or disable catalog repository")
    async def toggle_repo(
        self,
        repo_id: RepoId,
        enabled: Annotated[bool, Field(description="true shows the repository's apps, false hides them.")],
    ) -> Reply:
        """Show or hide a repository's apps in search, categories and featured lists; nothing is deleted."""
        repo = await self.marketplace.toggle_repo(repo_id, enabled)
        state = "enabled" if repo.enabled else "disabled"
        return Reply(f"Repository '{repo.name}' is {state}.", {"repo": repo})

    @tomo_tool(read_only=True, idempotent=True, title="Search marketplace")
    async def search_marketplace(
        self,
        query: Annotated[
            str | None, Field(max_length=200, description="Words to look for, e.g. 'media server'.")
        ] = None,
        category: Annotated[
            str | None, Field(max_length=40, description="Only this category (see get_marketplace_categories).")
        ] = None,
        tags: Annotated[list[str] | None, Field(max_length=10, description="Only apps with all these tags.")] = None,
        repo_id: Annotated[str | None, Field(max_length=64, description="Only this repository (id or name).")] = None,
        featured: Annotated[bool | None, Field(description="Only featured (true) or other (false) apps.")] = None,
        limit: Annotated[int, Field(ge=1, le=100, description="Apps per page.")] = 20,
        offset: PageOffset = 0,
    ) -> Reply:
        """Search the marketplace's apps by words, ranked by relevance, with filters and paging.

        Names and titles weigh most, then tags, tagline, category, description. Every word must match
        (prefixes count: "photo" finds "photos"), else apps matching any word are shown. No query:
        featured first, then by title. Returns compact summaries and the total; get_marketplace_app
        shows one in full.
        """
        apps, total = await self.marketplace.search(query, category, tags, repo_id, featured, limit, offset)
        return Page(apps, total, limit, offset).reply("search_marketplace", "apps", "matching app(s)")

    @tomo_tool(read_only=True, idempotent=True, title="Get marketplace app")
    async def get_marketplace_app(self, app_id: AppId) -> Reply:
        """Show one marketplace app in full: metadata, services, ports, volumes, typed inputs and compose file.

        Inputs are what install_app asks for, each typed (text, password, number, boolean, email, url,
        select, secret); generated secrets are created at install (no value shown). A bare id such as
        "jellyfin" works when only one repository has it.
        """
        app = await self.marketplace.get_app_detail(app_id)
        return Reply(f"{app['title']} {app['version']} from '{app['repo_name']}': {len(app['services'])} "
                     f"service(s), {len(app['inputs'])} input(s).", {"app": app})

    @tomo_tool(read_only=True, idempotent=True, title="Get marketplace categories")
    async def get_marketplace_categories(self) -> Reply:
        """List every marketplace category with its number of apps (enabled repositories only).

        Use a category name as the category filter of search_marketplace.
        """
        categories = await self.marketplace.categories()
        return Reply(f"{len(categories)} categories.", {"categories": categories})

    @tomo_tool(read_only=True, idempotent=True, title="Get featured apps")
    async def get_featured_apps(
        self, limit: Annotated[int, Field(ge=1, le=50, description="Apps to return.")] = 10
    ) -> Reply:
        """List featured marketplace apps (well-known, good first installs) as compact summaries."""
        apps = await self.marketplace.featured(limit)
        return Reply(f"{len(apps)} featured apps.", {"apps": apps})

    @tomo_tool(idempotent=True, title="Rate marketplace app")
    async def rate_marketplace_app(
        self, app_id: AppId, rating: Annotated[int, Field(ge=1, le=5, description="1 (poor) to 5 (great).")]
    ) -> Reply:
        """Rate a marketplace app from 1 to 5; one rating per user (rating again replaces it).

        Returns the app's new average and number of ratings.
        """
        result = await self.marketplace.rate(app_id, rating)
        return Reply(f"Rated {result['title']} {rating}/5; average {result['avg_rating']:.2f} from "
                     f"{result['rating_count']} rating(s).", result)

    @tomo_resource("tomo://marketplace/apps/{app_id}", title="Marketplace app")
    async def marketplace_app_resource(self, app_id: str) -> dict[str, Any]:
        """One marketplace app as get_marketplace_app shows it: metadata, services, typed inputs, ports, compose.

        app_id is a bare id ("jellyfin") or a full one with its '/' percent-encoded ("builtin%2Fjellyfin").
        """
        return {"app": await self.marketplace.get_app_detail(app_id)}

    @tomo_resource("tomo://marketplace/apps/{repo}/{app}", title="Marketplace app (full id)")
    async def marketplace_app_by_repo_resource(self, repo: str, app: str) -> dict[str, Any]:
        """One marketplace app by its full id written as is ("tomo://marketplace/apps/builtin/jellyfin").

        The same as tomo://marketplace/apps/{app_id}, for an id whose '/' is not percent-encoded.
        """
        return {"app": await self.marketplace.get_app_detail(f"{repo}/{app}")}
