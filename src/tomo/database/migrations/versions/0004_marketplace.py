"""Marketplace: catalog repositories, apps, ratings, and (SQLite only) the FTS5 search index.

Revision ID: 0004
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

from tomo.database.types import UTCDateTime

revision = "0004"
down_revision = "0001"
branch_labels = None
depends_on = None

FTS_TABLE = "marketplace_apps_fts"


def upgrade() -> None:
    op.create_table(
        "marketplace_repos",
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
    op.create_table(
        "marketplace_apps",
        sa.Column("pk", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("id", sa.String(200), nullable=False, unique=True),
        sa.Column("repo_id", sa.String(32), sa.ForeignKey("marketplace_repos.id", ondelete="CASCADE"),
                  nullable=False, index=True),
        sa.Column("app_id", sa.String(64), nullable=False, index=True),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("sort_title", sa.String(200), nullable=False),
        sa.Column("tagline", sa.Text, nullable=False),
        sa.Column("category", sa.String(32), nullable=False, index=True),
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
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("data", sa.JSON, nullable=False),
        sa.UniqueConstraint("repo_id", "app_id", name="uq_marketplace_apps_repo_app"),
    )
    op.create_index("ix_marketplace_apps_browse", "marketplace_apps",
                    ["deprecated", sa.text("featured DESC"), "sort_title", "id"])
    op.create_table(
        "marketplace_ratings",
        sa.Column("app_id", sa.String(200), sa.ForeignKey("marketplace_apps.id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("user_key", sa.String(128), primary_key=True),
        sa.Column("rating", sa.Integer, nullable=False),
        sa.Column("rated_at", UTCDateTime, nullable=False),
    )
    if op.get_bind().dialect.name == "sqlite":
        # rowid = marketplace_apps.pk; facets holds filter tokens. Kept in step by the repository
        # (database/repositories/search.py), in the transactions that write the apps.
        op.execute(
            f"CREATE VIRTUAL TABLE {FTS_TABLE} USING fts5("
            "name, title, tagline, description, tags, category, facets, "
            "tokenize = 'unicode61 remove_diacritics 2', prefix = '2 3')"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute(f"DROP TABLE IF EXISTS {FTS_TABLE}")
    op.drop_table("marketplace_ratings")
    op.drop_index("ix_marketplace_apps_browse", "marketplace_apps")
    op.drop_table("marketplace_apps")
    op.drop_table("marketplace_repos")
