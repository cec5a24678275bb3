"""Marketplace tables: catalog repositories, their apps, and users' ratings.

An app's public id is ``<repo name>/<app id>`` (``builtin/jellyfin``, ``casaos/jellyfin``): stable across
syncs and unique across repositories. ``pk`` is an internal integer key that the SQLite full-text index
(``marketplace_apps_fts``, created by migration 0004 on SQLite only) uses as its rowid.
"""

from __future__ import annotations

import sqlalchemy as sa

from tomo.database.tables import metadata
from tomo.database.types import UTCDateTime

marketplace_repos = sa.Table(
    "marketplace_repos",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("name", sa.String(64), nullable=False, unique=True),
    sa.Column("url", sa.Text, nullable=False),
    sa.Column("branch", sa.String(255), nullable=False),
    sa.Column("format", sa.String(16), nullable=False),
    sa.Column("enabled", sa.Boolean, nullable=False),
    sa.Column("builtin", sa.Boolean, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("last_synced", UTCDateTime, nullable=True),
    sa.Column("last_error", sa.Text, nullable=True),
    sa.Column("app_count", sa.Integer, nullable=False),
    sa.Column("commit", sa.String(64), nullable=True),
    sa.Column("content_hash", sa.String(64), nullable=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
)

marketplace_apps = sa.Table(
    "marketplace_apps",
    metadata,
    sa.Column("pk", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("id", sa.String(200), nullable=False, unique=True),
    sa.Column(
        "repo_id", sa.String(32), sa.ForeignKey("marketplace_repos.id", ondelete="CASCADE"), nullable=False, index=True
    ),
    sa.Column("app_id", sa.String(64), nullable=False, index=True),
    sa.Column("name", sa.String(64), nullable=False),
    sa.Column("title", sa.String(200), nullable=False),
    sa.Column("sort_title", sa.String(200), nullable=False),
    sa.Column("tagline", sa.Text, nullable=False),
    sa.Column("category", sa.String(32), nullable=False),
    sa.Column("tags", sa.JSON, nullable=False),
    sa.Column("tags_text", sa.Text, nullable=False),
    sa.Column("version", sa.String(128), nullable=False),
    sa.Column("icon", sa.Text, nullable=True),
    sa.Column("featured", sa.Boolean, nullable=False),
    sa.Column("deprecated", sa.Boolean, nullable=False),
    sa.Column("avg_rating", sa.Float, nullable=True),
    sa.Column("rating_count", sa.Integer, nullable=False),
    sa.Column("format", sa.String(16), nullable=False),
    sa.Column("source_path", sa.Text, nullable=False),
    sa.Column("content_hash", sa.String(64), nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    # the long columns last: summaries and sorts never read past them
    sa.Column("description", sa.Text, nullable=False),
    sa.Column("data", sa.JSON, nullable=False),
    sa.UniqueConstraint("repo_id", "app_id", name="uq_marketplace_apps_repo_app"),
)
sa.Index(
    "ix_marketplace_apps_browse",  # the order of browsing without a query: no sort at all
    marketplace_apps.c.deprecated, marketplace_apps.c.featured.desc(), marketplace_apps.c.sort_title,
    marketplace_apps.c.id,
)
sa.Index(
    "ix_marketplace_apps_category_browse",  # the same order within one category; counts read only the index
    marketplace_apps.c.category, marketplace_apps.c.deprecated, marketplace_apps.c.featured.desc(),
    marketplace_apps.c.sort_title, marketplace_apps.c.id, marketplace_apps.c.repo_id,
)

marketplace_ratings = sa.Table(
    "marketplace_ratings",
    metadata,
    sa.Column(
        "app_id", sa.String(200), sa.ForeignKey("marketplace_apps.id", ondelete="CASCADE"), primary_key=True
    ),
    sa.Column("user_key", sa.String(128), primary_key=True),
    sa.Column("rating", sa.Integer, nullable=False),
    sa.Column("rated_at", UTCDateTime, nullable=False),
)
