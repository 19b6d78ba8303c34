"""The search page: what the header's search box finds (services, catalog entries, docs
links), grouped by kind. Typing refreshes the results through htmx; without JavaScript
the form simply submits."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Query, Request
from markupsafe import Markup
from starlette.responses import Response

from loom.api.deps import SessionDep
from loom.services import search
from loom.services.search_index import KINDS
from loom.web.deps import PagePrincipal
from loom.web.routing import is_htmx, page_router
from loom.web.templating import render

router = page_router()

SEARCH = "/ui/search"
RESULTS_FRAGMENT = "/ui/fragments/search"
LIMIT = 50
#: Each kind's heading, in the order the page shows them.
GROUPS = {"service": "Services", "catalog_item": "Catalog", "link": "Docs and links"}

Text = Annotated[str, Query(max_length=search.MAX_QUERY)]


async def _context(
    session: SessionDep, principal: PagePrincipal, q: str, kind: str
) -> dict[str, Any]:
    kind = kind if kind in KINDS else ""
    hits: list[search.Hit] = []
    if q.strip():
        async with session.begin():
            hits = await search.search(session, principal, q, kind=kind or None, limit=LIMIT)
    groups = [
        {"kind": k, "label": label, "hits": [_hit(h) for h in hits if h.kind == k]}
        for k, label in GROUPS.items()
    ]
    return {
        "q": q,
        "kind": kind,
        "kinds": GROUPS,
        "groups": [g for g in groups if g["hits"]],
        "total": len(hits),
        "results_fragment": RESULTS_FRAGMENT,
    }


def _hit(hit: search.Hit) -> dict[str, Any]:
    return {
        "kind": hit.kind,
        "id": hit.id,
        "title": hit.title,
        # Escaped by the search service but for its <mark> elements.
        "snippet": Markup(hit.snippet),  # noqa: S704
        "url": hit.url,
        "external": hit.kind == "link",
    }


@router.get(SEARCH)
async def search_page(
    request: Request, principal: PagePrincipal, session: SessionDep, q: Text = "", kind: Text = ""
) -> Response:
    return render(request, "search/index.html", await _context(session, principal, q, kind))


@router.get(RESULTS_FRAGMENT)
async def search_results(
    request: Request, principal: PagePrincipal, session: SessionDep, q: Text = "", kind: Text = ""
) -> Response:
    """The results alone, for htmx to swap in as people type (the address bar follows)."""
    context = await _context(session, principal, q, kind)
    kept = {k: v for k, v in (("q", q), ("kind", context["kind"])) if v}
    headers = {"HX-Push-Url": f"{SEARCH}?{urlencode(kept)}"} if is_htmx(request) else None
    return render(request, "search/_results.html", context, headers=headers)
