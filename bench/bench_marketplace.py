"""Marketplace: sync of the shared CasaOS and Runtipi catalogs and of a generated 1,000-app catalog (from
local git repositories, through the real sync job), and search latency over 10,000 apps.

Run: .venv/bin/python bench/bench_marketplace.py [searches]   (TOMO_SHARED_CATALOGS: default ../shared/catalogs)
With TOMO_BENCH_POSTGRES_URL (an admin URL, e.g. from `scripts/postgres.sh env`'s TOMO_TEST_POSTGRES_URL) the
search is also timed on PostgreSQL (the portable search path), in a database created and dropped for the run.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
os.environ.setdefault("FASTMCP_LOG_ENABLED", "false")
from _stats import print_table, row  # noqa: E402

from tomo.database.repositories.marketplace import AppChanges  # noqa: E402
from tomo.database.types import new_id, utcnow  # noqa: E402
from tomo.lib.config import TomoConfig  # noqa: E402
from tomo.lib.logging_config import configure_logging  # noqa: E402
from tomo.main import TomoApp, build_app  # noqa: E402
from tomo.services.marketplace.sync import app_row  # noqa: E402

SHARED = Path(os.environ.get("TOMO_SHARED_CATALOGS") or Path(__file__).resolve().parents[2] / "shared" / "catalogs")
GIT_ENV = {**os.environ, "GIT_AUTHOR_NAME": "bench", "GIT_AUTHOR_EMAIL": "bench@tomo.invalid",
           "GIT_COMMITTER_NAME": "bench", "GIT_COMMITTER_EMAIL": "bench@tomo.invalid"}
WORDS = (
    "media", "server", "photo", "backup", "password", "manager", "home", "automation", "music", "stream", "video",
    "book", "reader", "dns", "ad", "blocker", "vpn", "proxy", "monitor", "dashboard", "notes", "wiki", "git",
    "code", "chat", "mail", "calendar", "files", "sync", "download", "torrent", "game", "recipe", "finance",
    "budget", "document", "scanner", "metrics", "alert", "log", "search", "ai", "assistant",
)
CATEGORIES = ("media", "photos", "music", "books", "networking", "monitoring", "productivity", "development",
              "communication", "storage", "downloads", "finance", "security", "home-automation", "utilities")
QUERIES = ("jellyfin", "media server", "photo backup", "password manager", "home automation", "vpn", "dash",
           "notes", "git", "torrent download", "ad blocker", "server", "zzz nothing")


def commit(repo: Path) -> None:
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-q", "-m", "catalog"]):
        subprocess.run(["git", *args], cwd=repo, env=GIT_ENV, check=True, capture_output=True)


def generated_app(index: int, rng: random.Random) -> str:
    words = rng.sample(WORDS, 6)
    title = f"{words[0].title()}{words[1]} {index}"
    return (
        f"services:\n  web:\n    image: example/app{index}:1.0\n    ports: ['${{APP_PORT}}:80']\n"
        f"  db:\n    image: postgres:16\n    environment: ['POSTGRES_PASSWORD=${{DB_PASSWORD}}']\n"
        f"x-tomo:\n  title: {title}\n  tagline: A {words[2]} {words[3]} for your homelab\n"
        f"  description: {' '.join(rng.choices(WORDS, k=40))}\n  category: {rng.choice(CATEGORIES)}\n"
        f"  tags: [{words[4]}, {words[5]}]\n  version: '1.0'\n  main_port: 80\n  featured: {index % 50 == 0}\n"
        "  inputs:\n    - {key: DB_PASSWORD, label: Database password, type: secret}\n"
    )


def generate_catalog(root: Path, count: int) -> Path:
    rng = random.Random(42)
    for index in range(count):
        folder = root / "apps" / f"app-{index:05d}"
        folder.mkdir(parents=True)
        (folder / "compose.yaml").write_text(generated_app(index, rng))
    commit(root)
    return root


async def timed_sync(app: TomoApp, repo_id: str) -> tuple[float, dict[str, Any]]:
    started = time.perf_counter()
    job_id, _ = await app.services["marketplace_service"].sync_repo(repo_id)
    job = await app.services["job_service"].wait(job_id, 600)
    elapsed = (time.perf_counter() - started) * 1000
    if job.status.value != "succeeded":
        raise RuntimeError(f"sync failed: {job.error}")
    return elapsed, job.result or {}


async def bench_sync(work: Path, name: str, source: Path, runs: int) -> list[list[str]]:
    """First sync (clone + import + store) on a fresh data dir, then an unchanged re-sync, ``runs`` times."""
    first, again, apps = [], [], 0
    for run in range(runs):
        app = await ready(build_app(TomoConfig(data_dir=work / f"data-{name}-{run}")))
        repo = await app.services["marketplace_service"].add_repo(name, str(source), "main", "auto")
        elapsed, result = await timed_sync(app, repo.id)
        first.append(elapsed)
        apps = result["counts"]["added"]
        if not apps:
            raise RuntimeError(f"sync of {name} imported nothing: {result['skipped'][:3]}")
        again.append((await timed_sync(app, repo.id))[0])
        await app.database.dispose()
    return [row(f"sync {name} ({apps} apps), first", first), row(f"sync {name}, unchanged re-sync", again)]


async def ready(app: TomoApp) -> TomoApp:
    await app.database.migrate()
    await app.services["settings_service"].load()
    return app


def templates() -> list[Any]:
    """Real apps (the shared CasaOS and Runtipi catalogs and the built-in one), so word frequencies are real."""
    from tomo.lib.catalog import builtin_catalog_path, import_catalog

    roots = [SHARED / "casaos", SHARED / "runtipi", builtin_catalog_path()]
    return [app for root in roots if root.is_dir() for app in import_catalog(root).apps]


async def fill(app: TomoApp, count: int) -> None:
    """Insert ``count`` apps (copies of real ones, renamed) through the repository, in one transaction."""
    sources = templates()
    repository = app.services["marketplace_service"].repo
    repo_id, now = new_id(), utcnow()
    await repository.insert_repo({"id": repo_id, "name": "big", "url": "/nowhere", "branch": "main", "format": "tomo",
                                  "enabled": True, "builtin": False, "status": "ok", "app_count": 0,
                                  "created_at": now})
    rows = []
    for index in range(count):
        template = sources[index % len(sources)]
        copy = template.model_copy(update={"id": f"{template.id[:50]}-{index}", "title": f"{template.title} {index}"})
        rows.append({**app_row("big", repo_id, copy, now), "avg_rating": None, "rating_count": 0})
    await repository.apply_changes(repo_id, AppChanges(insert=rows), now)


async def bench_search(
    work: Path, searches: int, database_url: str | None = None
) -> tuple[list[list[str]], list[list[str]]]:
    """Wall-clock and CPU time (this process, all threads) per search call over 10,000 apps."""
    app = await ready(build_app(TomoConfig(data_dir=work / "data-search", database_url=database_url)))
    service = app.services["marketplace_service"]
    builtin = (await service.list_repos())[0].app_count
    await fill(app, 10_000 - builtin)
    cases = {"search (mixed queries, limit 20)": (), "search + category filter": ("media",),
             "browse (no query), page 3": ()}
    wall: dict[str, list[float]] = {label: [] for label in cases}
    cpu: dict[str, list[float]] = {label: [] for label in cases}
    rng = random.Random(1)
    for _ in range(searches):
        for label, category in cases.items():
            query = None if label.startswith("browse") else rng.choice(QUERIES)
            offset = 40 if label.startswith("browse") else 0
            started, started_cpu = time.perf_counter(), time.process_time()
            await service.search(query, category[0] if category else None, None, None, None, 20, offset)
            wall[label].append((time.perf_counter() - started) * 1000)
            cpu[label].append((time.process_time() - started_cpu) * 1000)
    _, total = await service.search(None, None, None, None, None, 1, 0)
    await app.database.dispose()
    print(f"\nsearch index: {total} apps; queries: {', '.join(QUERIES)}")
    return [row(label, samples) for label, samples in wall.items()], [row(label, cpu[label]) for label in cpu]


async def main() -> None:
    configure_logging("WARNING")
    searches = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        rows: list[list[str]] = []
        for store in ("casaos", "runtipi"):
            source = work / f"src-{store}"
            shutil.copytree(SHARED / store, source)
            commit(source)
            rows += await bench_sync(work, store, source, runs=3)
        rows += await bench_sync(work, "generated", generate_catalog(work / "src-generated", 1000), runs=2)
        print_table("marketplace sync from a local git repository (the real sync job: git, import, store)", rows)
        wall, cpu = await bench_search(work, searches)
        print_table("marketplace search over 10,000 apps, wall clock (service call: match, rank, page, total)", wall)
        print_table("the same searches, CPU time of this process (less sensitive to other load)", cpu)
        print("\ntargets: each shared catalog syncs in < 5 s; search p99 < 10 ms")
        if admin_url := os.environ.get("TOMO_BENCH_POSTGRES_URL"):
            async with postgres_database(admin_url) as url:
                wall, _ = await bench_search(work / "pg", searches, url)
            print_table("PostgreSQL (portable search path), wall clock, same searches over 10,000 apps", wall)


@contextlib.asynccontextmanager
async def postgres_database(admin_url: str) -> AsyncIterator[str]:
    """A fresh database on the server of ``admin_url``, dropped afterwards."""
    import asyncpg
    from sqlalchemy.engine import make_url

    admin, name = make_url(admin_url), f"tomo_bench_{os.getpid()}"
    dsn = admin.set(drivername="postgresql").render_as_string(hide_password=False)
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
        yield admin.set(database=name).render_as_string(hide_password=False)
    finally:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.close()


if __name__ == "__main__":
    asyncio.run(main())
