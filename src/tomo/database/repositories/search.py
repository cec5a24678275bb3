"""Marketplace search: the SQLite FTS5 index, and a portable path for other databases.

This is the only module with SQLite-specific SQL. On SQLite, ``marketplace_apps_fts`` (rowid =
``marketplace_apps.pk``) indexes name, title, tagline, description, tags and category, plus a
``facets`` column of filter tokens (repository, category, featured, each tag). The repository calls
:func:`index_apps` / :func:`unindex_apps` in the same transaction that writes the apps. A search is
then answered in one statement: filters are facet terms of the same MATCH, the total is a count of
it (no scoring), and matches are ranked by tier (:data:`TIER_COLUMNS`: every word in the name or
title; else in those, the tagline, tags or category; else anywhere), then by bm25 with column weights.
bm25 scores every row it is given, so a tier is scored only when the page reaches it. The best
:data:`RERANK_WINDOW` are then re-ranked to put exact names first. Elsewhere (PostgreSQL) the same
columns are matched with case-insensitive ``LIKE`` and ranked by the same closeness rules.

User input never reaches FTS syntax: a query is cut into words (letters, digits, underscore), each
becomes a quoted prefix term (``"media"* "server"*``). All words must match; when that finds
nothing, any word may match.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from tomo.database.tables_marketplace import marketplace_apps as apps
from tomo.database.tables_marketplace import marketplace_repos as repos
from tomo.models.marketplace import SearchFilters

FTS_TABLE: Final = "marketplace_apps_fts"
TEXT_COLUMNS: Final = ("name", "title", "tagline", "description", "tags", "category")
FTS_WEIGHTS: Final = "10.0, 10.0, 4.0, 1.0, 3.0, 2.0, 0.0"  # the text columns, then facets (no weight)
TIER_COLUMNS: Final = (  # where all the words are found, best first: each tier adds columns to the one before
    ("name", "title"), ("name", "title", "tagline", "tags", "category"), TEXT_COLUMNS,
)
RERANK_WINDOW: Final = 50
MAX_TERMS: Final = 8
_WORD = re.compile(r"\w+", re.UNICODE)

SUMMARY_COLUMNS: Final = (
    apps.c.id, apps.c.app_id, apps.c.name, apps.c.title, apps.c.tagline, apps.c.category, apps.c.tags,
    apps.c.version, apps.c.icon, apps.c.featured, apps.c.deprecated, apps.c.repo_id, apps.c.avg_rating,
    apps.c.rating_count, repos.c.name.label("repo_name"),
)
TOTAL: Final = sa.func.count().over().label("total")


def query_terms(query: str | None) -> list[str]:
    """The words of a user query, lower-cased, at most :data:`MAX_TERMS`; operators and quotes are dropped."""
    return _WORD.findall((query or "").lower())[:MAX_TERMS]


# --- ranking rules (SQL for the portable path; closeness() mirrors them for the FTS re-rank) ---------------

def closeness(terms: Sequence[str], app_id: str, name: str, sort_title: str) -> tuple[int, int]:
    """Exact names first: the whole query is the id, name or title (0); one word is the name (1); the name
    starts with the query (2, shortest first); anything else (3)."""
    slug = "-".join(terms)
    if slug in (app_id, name) or sort_title == " ".join(terms):
        return 0, len(name)
    if name in terms or app_id in terms:
        return 1, len(name)
    return (2, len(name)) if name.startswith(slug) else (3, 0)


def _closeness_sql(terms: Sequence[str]) -> list[sa.ColumnElement[int]]:
    slug, words = "-".join(terms), " ".join(terms)
    tier = sa.case(
        (sa.or_(apps.c.app_id == slug, apps.c.name == slug, apps.c.sort_title == words), 0),
        (sa.or_(apps.c.name.in_(terms), apps.c.app_id.in_(terms)), 1),
        (apps.c.name.startswith(slug, autoescape=True), 2),
        else_=3,
    )
    return [tier, sa.case((tier < 3, sa.func.length(apps.c.name)), else_=0)]


def phrase_miss(terms: Sequence[str], title: str, tagline: str) -> int:
    """0 when a several-word query appears as typed in the title or tagline ("media server"), else 1."""
    phrase = " ".join(terms)
    return 0 if len(terms) > 1 and (phrase in title.lower() or phrase in tagline.lower()) else 1


def _phrase_sql(terms: Sequence[str]) -> sa.ColumnElement[int]:
    if len(terms) < 2:
        return sa.literal(1)
    phrase = " ".join(terms)
    hit = sa.or_(apps.c.title.icontains(phrase, autoescape=True), apps.c.tagline.icontains(phrase, autoescape=True))
    return sa.case((hit, 0), else_=1)


# --- filters, browsing and the portable path ------------------------------------------------------------------

def filter_clauses(filters: SearchFilters) -> list[sa.ColumnElement[bool]]:
    """WHERE clauses for the filters; apps of disabled repositories are never shown."""
    clauses: list[sa.ColumnElement[bool]] = [repos.c.enabled.is_(True)]
    if filters.category:
        clauses.append(apps.c.category == filters.category)
    if filters.repo_id:
        clauses.append(apps.c.repo_id == filters.repo_id)
    if filters.featured is not None:
        clauses.append(apps.c.featured.is_(filters.featured))
    clauses.extend(apps.c.tags_text.contains(f"|{tag.lower()}|", autoescape=True) for tag in filters.tags)
    return clauses


def _base() -> sa.FromClause:
    return apps.join(repos, repos.c.id == apps.c.repo_id)


@dataclass(frozen=True)
class Statements:
    """How to read one page: ``page`` is ordered (no limit/offset yet); when ``page_has_total`` every row
    carries the number of matches (a window count, so matching runs once), else ``count`` is run first."""

    count: sa.Select[Any]
    page: sa.Select[Any]
    page_has_total: bool


def browse_statements(filters: SearchFilters) -> Statements:
    """Apps matching the filters only (no words): featured first, then by title (an index gives this order)."""
    where = filter_clauses(filters)
    order = [apps.c.deprecated.asc(), apps.c.featured.desc(), apps.c.sort_title, apps.c.id]
    count = sa.select(sa.func.count()).select_from(_base()).where(*where)
    page = sa.select(*SUMMARY_COLUMNS).select_from(_base()).where(*where).order_by(*order)
    return Statements(count, page, page_has_total=False)


def _like_score(term: str) -> sa.ColumnElement[int]:
    """How well one word matches an app: name or title first, then tags, tagline, category, description."""
    weighted = (
        (sa.or_(apps.c.name.istartswith(term, autoescape=True), apps.c.title.istartswith(term, autoescape=True)), 16),
        (sa.or_(apps.c.name.icontains(term, autoescape=True), apps.c.title.icontains(term, autoescape=True)), 10),
        (apps.c.tags_text.icontains(term, autoescape=True), 4),
        (apps.c.tagline.icontains(term, autoescape=True), 3),
        (apps.c.category.icontains(term, autoescape=True), 2),
        (apps.c.description.icontains(term, autoescape=True), 1),
    )
    return sa.case(*weighted, else_=0)


def _like_match(term: str) -> sa.ColumnElement[bool]:
    columns = (apps.c.name, apps.c.title, apps.c.tagline, apps.c.description, apps.c.tags_text, apps.c.category)
    return sa.or_(*(column.icontains(term, autoescape=True) for column in columns))


def like_statements(terms: Sequence[str], any_term: bool, filters: SearchFilters) -> Statements:
    """Any database: case-insensitive substring matches, ranked closeness, deprecated last, phrase, score."""
    matched = [_like_match(term) for term in terms]
    where = [*filter_clauses(filters), sa.or_(*matched) if any_term else sa.and_(*matched)]
    score: sa.ColumnElement[int] = sa.literal(0)
    for term in terms:
        score = score + _like_score(term)
    order = [*_closeness_sql(terms), apps.c.deprecated.asc(), _phrase_sql(terms), score.desc(),
             apps.c.featured.desc(), apps.c.id]
    count = sa.select(sa.func.count()).select_from(_base()).where(*where)
    page = sa.select(*SUMMARY_COLUMNS, TOTAL).select_from(_base()).where(*where).order_by(*order)
    return Statements(count, page, page_has_total=True)


async def run_page(
    conn: AsyncConnection, statements: Statements, limit: int, offset: int
) -> tuple[list[dict[str, Any]], int]:
    """Execute the statements: the page's rows (without the total column) and the number of matches."""
    if not statements.page_has_total:
        total = int((await conn.execute(statements.count)).scalar_one())
        if offset >= total:
            return [], total
    rows = [dict(row._mapping) for row in await conn.execute(statements.page.limit(limit).offset(offset))]
    if statements.page_has_total:
        if rows:
            total = int(rows[0]["total"])
        else:  # nothing at this offset: zero matches, or a page past the end
            total = int((await conn.execute(statements.count)).scalar_one()) if offset else 0
        for row in rows:
            del row["total"]
    return rows, total


async def like_search(
    conn: AsyncConnection, terms: Sequence[str], filters: SearchFilters, limit: int, offset: int
) -> tuple[list[dict[str, Any]], int]:
    """The portable search: all words, else any word."""
    for any_term in (False, True):
        rows, total = await run_page(conn, like_statements(terms, any_term, filters), limit, offset)
        if total or len(terms) < 2:
            break
    return rows, total


# --- the SQLite FTS5 path ---------------------------------------------------------------------------------

def _token(prefix: str, value: str) -> str:
    """One facet token (letters and digits only, so the tokenizer keeps it whole)."""
    return prefix + hashlib.sha1(value.encode(), usedforsecurity=False).hexdigest()[:16]


def facets(repo_id: str, category: str, featured: bool, tags: Sequence[str]) -> str:
    """The facets column of one app: its repository, category, featured flag and tags as tokens."""
    tokens = [_token("r", repo_id), _token("c", category), "f1" if featured else "f0"]
    return " ".join(tokens + [_token("t", tag.lower()) for tag in tags])


def _facet_terms(filters: SearchFilters) -> list[str]:
    """The filters as facet terms, all of which must match."""
    found = [f'facets : "{_token("r", filters.repo_id)}"'] if filters.repo_id else []
    if filters.category:
        found.append(f'facets : "{_token("c", filters.category)}"')
    if filters.featured is not None:
        found.append(f'facets : "{"f1" if filters.featured else "f0"}"')
    return found + [f'facets : "{_token("t", tag.lower())}"' for tag in filters.tags]


def fts_match(terms: Sequence[str], any_term: bool, filters: SearchFilters) -> dict[str, str]:
    """The MATCH expressions: ``everything`` (the words in any text column, and the filters) and ``m0``,
    ``m1``, ``m2``: the same matches split into the tiers of :data:`TIER_COLUMNS` (a tier is the words
    within its columns NOT within the previous tier's). When any word may match there is one tier, ``m0``:
    bm25 alone then ranks a rare word above a common one, where tiers would put a common word in a name
    first."""
    words = (" OR " if any_term else " AND ").join(f'"{term}"*' for term in terms)
    text = [f"{{{' '.join(columns)}}} : ({words})" for columns in TIER_COLUMNS]
    facet_terms = _facet_terms(filters)
    match = {"everything": " AND ".join([text[-1], *facet_terms])}
    if any_term:
        return {**match, "m0": match["everything"]}
    for tier, within_columns in enumerate(text):
        within = " AND ".join([within_columns, *facet_terms])
        match[f"m{tier}"] = f"({within}) NOT ({text[tier - 1]})" if tier else within
    return match


async def fts_search(
    conn: AsyncConnection, terms: Sequence[str], filters: SearchFilters, limit: int, offset: int
) -> tuple[list[dict[str, Any]], int]:
    """One statement matches, counts and ranks inside the index and reads the summaries of the best
    ``max(RERANK_WINDOW, offset + limit)`` matches; that window is then re-ranked to put exact names first."""
    rows: list[sa.Row[Any]] = []
    for any_term in (False, True):
        match = fts_match(terms, any_term, filters)
        statement = _ANY_WORD_PAGE if any_term else _PAGE
        rows = list(await conn.execute(statement, {**match, "n": max(RERANK_WINDOW, offset + limit)}))
        if rows or len(terms) < 2:
            break
    head = sorted(rows[:RERANK_WINDOW], key=lambda row: (*closeness(terms, row.app_id, row.name, row.sort_title),
                                                         row.deprecated, phrase_miss(terms, row.title, row.tagline)))
    page = [*head, *rows[RERANK_WINDOW:]][offset:offset + limit]
    return [dict(zip(_SUMMARY_NAMES, row[2:], strict=True)) for row in page], int(rows[0].total) if rows else 0


_VISIBLE: Final = ("rowid NOT IN (SELECT pk FROM marketplace_apps WHERE repo_id IN "
                   "(SELECT id FROM marketplace_repos WHERE NOT enabled))")


def _page_statement(tiers: int) -> sa.Select[Any]:
    """The best ``:n`` matches in tier order, with their summaries and, on each row, the number of matches.

    Each tier is its own ranked and limited subquery; UNION ALL under the outer LIMIT stops before a tier
    that is not needed, so bm25 (which scores every row it is given) runs only over the tiers a page needs.
    Apps of disabled repositories are left out (:data:`_VISIBLE`) in the same statement.
    """
    tier = (f"SELECT * FROM (SELECT rowid AS pk, {{tier}} AS tier, bm25({FTS_TABLE}, {FTS_WEIGHTS}) AS score "  # noqa: S608
            f"FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH :m{{tier}} AND {_VISIBLE} ORDER BY score, rowid LIMIT :n)")
    hits = sa.text(" UNION ALL ".join(tier.format(tier=number) for number in range(tiers))
                   + " LIMIT :n").columns(sa.column("pk", sa.Integer), sa.column("tier", sa.Integer),
                                         sa.column("score", sa.Float)).subquery("hits")
    total = sa.text(f"SELECT count(*) AS total FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH :everything "  # noqa: S608
                    f"AND {_VISIBLE}").columns(sa.column("total", sa.Integer))
    return (
        sa.select(apps.c.sort_title, total.scalar_subquery().label("total"), *SUMMARY_COLUMNS)
        .select_from(hits.join(apps, apps.c.pk == hits.c.pk).join(repos, repos.c.id == apps.c.repo_id))
        .order_by(hits.c.tier, hits.c.score, hits.c.pk)
    )


_PAGE: Final = _page_statement(len(TIER_COLUMNS))
_ANY_WORD_PAGE: Final = _page_statement(1)
_SUMMARY_NAMES: Final = [column.name for column in SUMMARY_COLUMNS]  # _PAGE's columns after sort_title and total


async def index_apps(conn: AsyncConnection, app_ids: Sequence[str]) -> None:
    """Add the given apps (public ids) to the FTS index; call after inserting or updating them."""
    insert = sa.text(
        f"INSERT INTO {FTS_TABLE} (rowid, {', '.join(TEXT_COLUMNS)}, facets) "  # noqa: S608 - constants
        "VALUES (:pk, :name, :title, :tagline, :description, :tags_text, :category, :facets)"
    )
    columns = (apps.c.pk, apps.c.name, apps.c.title, apps.c.tagline, apps.c.description, apps.c.tags_text,
               apps.c.category, apps.c.repo_id, apps.c.featured, apps.c.tags)
    for chunk in chunks(app_ids):
        rows = await conn.execute(sa.select(*columns).where(apps.c.id.in_(chunk)))
        values = [{**row._mapping, "facets": facets(row.repo_id, row.category, row.featured, row.tags)}
                  for row in rows]
        if values:
            await conn.execute(insert, values)


async def unindex_apps(conn: AsyncConnection, app_ids: Sequence[str]) -> None:
    """Remove the given apps from the FTS index; call before deleting or updating them."""
    for chunk in chunks(app_ids):
        await conn.execute(
            sa.text(
                f"DELETE FROM {FTS_TABLE} WHERE rowid IN "  # noqa: S608 - constant names only
                "(SELECT pk FROM marketplace_apps WHERE id IN :ids)"
            ).bindparams(sa.bindparam("ids", chunk, expanding=True))
        )


async def unindex_repo(conn: AsyncConnection, repo_id: str) -> None:
    """Remove every app of a repository from the FTS index (before the repository is deleted)."""
    await conn.execute(
        sa.text(
            f"DELETE FROM {FTS_TABLE} WHERE rowid IN "  # noqa: S608 - constant names only
            "(SELECT pk FROM marketplace_apps WHERE repo_id = :repo_id)"
        ).bindparams(repo_id=repo_id)
    )


def chunks(values: Sequence[str], size: int = 500) -> list[list[str]]:
    """``values`` in lists of at most ``size`` (bound parameters per statement stay well under limits)."""
    return [list(values[start:start + size]) for start in range(0, len(values), size)]
