"""`GET /search`: full-text search over services, catalog entries and docs links."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from loom.api.deps import CurrentPrincipal, SessionDep
from loom.services import search

router = APIRouter(prefix="/search", tags=["search"])


class SearchHit(BaseModel):
    kind: str = Field(description="service, catalog_item or link")
    id: str = Field(description="The service slug or catalog entry id (a link's owner's)")
    title: str
    snippet: str = Field(description="HTML: escaped text, matches in <mark> elements")
    url: str = Field(description="The portal page, or a link's own URL")
    score: float


class SearchResults(BaseModel):
    items: list[SearchHit]
    query: str


@router.get("", response_model=SearchResults)
async def search_everything(
    principal: CurrentPrincipal,
    session: SessionDep,
    q: Annotated[str, Query(min_length=1, max_length=search.MAX_QUERY)],
    kind: Literal["service", "catalog_item", "link"] | None = None,
    limit: Annotated[int, Query(ge=1, le=search.MAX_LIMIT)] = 20,
) -> SearchResults:
    """The best matches in the caller's organisation, best first. Words match stemmed
    ("deploy" finds "deployments"); the last one also as a prefix, for search as you type."""
    async with session.begin():
        hits = await search.search(session, principal, q, kind=kind, limit=limit)
    return SearchResults(items=[SearchHit(**asdict(h)) for h in hits], query=q)
