"""Full-text search over the organisation's services, catalog entries and docs links.

Whatever people type is turned into a query that cannot fail to parse: PostgreSQL gets
`websearch_to_tsquery` (made for raw user input), SQLite's FTS5 gets each word quoted
as a string. The last word matches as a prefix while it is being typed ("deplo" finds
"deployments"); both stores stem, so "deploy" finds "deployments" too. Hits are ranked
with title matches above tag matches above body matches.
"""

from __future__ import annotations

import html
import re
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Select, func, literal_column, select, table
from sqlalchemy.ext.asyncio import AsyncSession

from loom.auth.principal import Principal
from loom.errors import InvalidInput
from loom.services.search_index import KINDS, SearchDocument, ensure_indexed

MAX_QUERY = 200
MAX_LIMIT = 50
#: Private-use characters the stores put around matches: nothing people type contains
#: them, so the snippet can be escaped whole and the marks turned into <mark> after.
_START, _END = "\ue000", "\ue001"
_WORD = re.compile(r"\w+")
#: The word being typed: the last one, right at the end, not negated or inside quotes.
_TYPING = re.compile(r"(?:^|\s)(\w+)$")
#: Weights of the title, tags and body columns (FTS5's bm25; PostgreSQL uses A, B, C).
_BM25_WEIGHTS = (10.0, 4.0, 1.0)


@dataclass(frozen=True)
class Hit:
    kind: str
    #: The service slug or catalog entry id (for a link, its owner's).
    id: str
    title: str
    #: HTML: the matching text escaped, its matches in <mark> elements.
    snippet: str
    #: Where to go: the portal page, or a link's own URL.
    url: str
    score: float


def clean(q: str) -> str:
    """The query without control characters (PostgreSQL refuses NUL in text)."""
    return "".join(c if c.isprintable() else " " for c in q)


def typed_word(q: str) -> str | None:
    """The word still being typed, which matches as a prefix (None after a space,
    a closing quote or punctuation)."""
    match = _TYPING.search(q)
    if match is None or q.count('"') % 2:
        return None
    return match.group(1)


def fts5_query(q: str) -> str | None:
    """An FTS5 query matching every word of `q` (None if it has none): each word a quoted
    string, so no input is ever read as FTS5 syntax (AND, NEAR, column:, ^, *...)."""
    words = _WORD.findall(q)
    if not words:
        return None
    typing = typed_word(q) is not None
    terms = [_fts5_term(w, typing and i == len(words) - 1) for i, w in enumerate(words)]
    return " ".join(terms)


def _fts5_term(word: str, prefix: bool) -> str:
    term = f'"{word}"' + ("*" if prefix else "")  # \w+ holds no quote to escape
    # Porter stems "deploy" to "deploi" but "deployments" to "deploy": a word ending in
    # y also matches its stem as a prefix, so the one finds the other.
    if len(word) > 3 and word[-1] in "yY":
        return f'({term} OR "{word[:-1]}"*)'
    return term


def snippet_html(raw: str) -> str:
    return html.escape(raw).replace(_START, "<mark>").replace(_END, "</mark>")


def _columns(score: ColumnElement[Any], snippet: ColumnElement[Any]) -> Select[Any]:
    doc = SearchDocument
    return select(doc.kind, doc.ref, doc.title, doc.url, score.label("score"),
                  snippet.label("snippet"))  # fmt: skip


def _sqlite_query(match: str) -> Select[Any]:
    fts = table("search_fts", literal_column("rowid"))
    weights: list[ColumnElement[Any]] = [literal_column(repr(w)) for w in _BM25_WEIGHTS]
    bm25 = func.bm25(literal_column("search_fts"), *weights)
    snippet = func.snippet(literal_column("search_fts"), -1, _START, _END, "…", 16)
    return (
        _columns(-bm25, snippet)
        .select_from(fts.join(SearchDocument, SearchDocument.id == fts.c.rowid))
        .where(literal_column("search_fts").op("MATCH")(match))
        .order_by(bm25, SearchDocument.id)
    )


def _postgres_query(q: str) -> Select[Any] | None:
    english: ColumnElement[Any] = literal_column("'english'::regconfig")
    typing = typed_word(q)
    head = q[: -len(typing)] if typing else q
    parts: list[ColumnElement[Any]] = []
    if _WORD.search(head):
        parts.append(func.websearch_to_tsquery(english, head))
    if typing:
        parts.append(func.to_tsquery(english, f"'{typing}':*"))  # \w+ holds no quote
    if not parts:
        return None
    query = parts[0]
    for part in parts[1:]:
        query = query.op("&&")(part)
    vector: ColumnElement[Any] = literal_column("search_documents.search_vector")
    rank = func.ts_rank_cd(vector, query)
    text = func.coalesce(func.nullif(SearchDocument.body, ""), SearchDocument.title)
    options = f'StartSel="{_START}", StopSel="{_END}", MaxWords=30, MinWords=8, MaxFragments=2'
    headline = func.ts_headline(english, text, query, options)
    return (
        _columns(rank, headline)
        .where(vector.op("@@")(query))
        .order_by(rank.desc(), SearchDocument.id)
    )


async def search(
    session: AsyncSession,
    principal: Principal,
    q: str,
    *,
    kind: str | None = None,
    limit: int = 20,
) -> list[Hit]:
    """The caller's organisation's best `limit` matches for `q`, best first."""
    if kind is not None and kind not in KINDS:
        raise InvalidInput.on("kind", f"one of {', '.join(KINDS)}")
    org_id: uuid.UUID = principal.org_id
    await ensure_indexed(session, org_id)
    q = clean(q)[:MAX_QUERY]
    if session.get_bind().dialect.name == "postgresql":
        stmt = _postgres_query(q)
    else:
        match = fts5_query(q)
        stmt = _sqlite_query(match) if match is not None else None
    if stmt is None:
        return []
    stmt = stmt.where(SearchDocument.org_id == org_id)
    if kind is not None:
        stmt = stmt.where(SearchDocument.kind == kind)
    rows = await session.execute(stmt.limit(min(max(limit, 1), MAX_LIMIT)))
    return [
        Hit(kind=r.kind, id=r.ref, title=r.title, snippet=snippet_html(r.snippet or ""),
            url=r.url, score=float(r.score))
        for r in rows
    ]  # fmt: skip
