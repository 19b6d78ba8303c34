"""The catalog in the portal: the page to find offerings (search, filters, cards, the
last sync). An entry's own page is `web.entry`; requesting it, `web.ordering`."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Query, Request
from starlette.responses import Response

from loom.api.deps import RuntimeDep, SessionDep
from loom.auth.principal import Principal
from loom.auth.roles import Role
from loom.catalog import service
from loom.catalog.cache import ServedEntry
from loom.web.deps import PagePrincipal
from loom.web.routing import is_htmx, page_router
from loom.web.templating import render

router = page_router()

CATALOG = "/ui/catalog"
RESULTS_FRAGMENT = "/ui/fragments/catalog"
KINDS = {"item": "CatalogItem", "bundle": "CatalogBundle"}
KIND_LABELS = {"CatalogItem": "item", "CatalogBundle": "bundle"}

Text = Annotated[str, Query(max_length=200)]


# --- the catalog page -------------------------------------------------------------------


@dataclass(frozen=True)
class Filters:
    q: str = ""
    category: str = ""
    owner: str = ""
    kind: str = ""
    tag: str = ""

    @property
    def active(self) -> bool:
        return any((self.q, self.category, self.owner, self.kind, self.tag))

    def to_service(self) -> service.CatalogFilter:
        return service.CatalogFilter(
            kind=KINDS.get(self.kind),
            category=self.category or None,
            owner=self.owner or None,
            tag=self.tag or None,
            q=self.q or None,
        )

    def query(self, **changes: str) -> str:
        """The catalog page's URL with these filters (and `changes`)."""
        values = {
            "q": self.q,
            "category": self.category,
            "owner": self.owner,
            "kind": self.kind,
            "tag": self.tag,
        }
        values.update(changes)
        kept = {k: v for k, v in values.items() if v}
        return f"{CATALOG}?{urlencode(kept)}" if kept else CATALOG


def _filters(q: str, category: str, owner: str, kind: str, tag: str) -> Filters:
    return Filters(
        q=q.strip(),
        category=category.strip(),
        owner=owner.strip().lower(),
        kind=kind if kind in KINDS else "",
        tag=tag.strip(),
    )


def when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else ""


def _choices(served: Iterable[ServedEntry]) -> dict[str, list[str]]:
    entries = list(served)
    return {
        "categories": sorted({e.document.metadata.category for e in entries}, key=str.lower),
        "owners": sorted({e.owner_team for e in entries if e.owner_team}),
    }


def _card(entry: ServedEntry) -> dict[str, Any]:
    meta = entry.document.metadata
    return {
        "id": entry.entry_id,
        "kind": KIND_LABELS.get(entry.kind, entry.kind),
        "name": meta.name,
        "description": meta.description,
        "category": meta.category,
        "owner": entry.owner_team,
        "version": meta.version,
        "tags": list(meta.tags),
        "stale": entry.stale,
    }


async def _catalog_context(
    session: SessionDep, runtime: RuntimeDep, principal: Principal, filters: Filters
) -> dict[str, Any]:
    async with session.begin():
        served = await service.entries(session, runtime, principal)
        found = await service.search(session, runtime, principal, filters.to_service())
        syncs = await service.recent_syncs(session, principal, limit=1)
    last = syncs[0] if syncs else None
    sync_status = None
    if last is not None:
        sync_status = {
            "status": last.status,
            "when": when(last.finished_at or last.started_at),
            "iso": (last.finished_at or last.started_at).isoformat(),
            "commit": (last.commit_sha or "")[:12],
            "item_count": last.items,
            "bundle_count": last.bundles,
            "problems": [p.get("text", "") for p in last.problems or []],
            "error": last.error,
        }
    return {
        "filters": filters,
        "cards": [_card(e) for e in found],
        "total": len(served),
        "choices": _choices(served.values()),
        "sync": sync_status,
        "is_admin": principal.org_role >= Role.ADMIN,
        "results_fragment": RESULTS_FRAGMENT,
    }


@router.get(CATALOG)
async def catalog_page(
    request: Request,
    principal: PagePrincipal,
    session: SessionDep,
    runtime: RuntimeDep,
    q: Text = "",
    category: Text = "",
    owner: Text = "",
    kind: Text = "",
    tag: Text = "",
) -> Response:
    filters = _filters(q, category, owner, kind, tag)
    context = await _catalog_context(session, runtime, principal, filters)
    return render(request, "catalog/index.html", context)


@router.get(RESULTS_FRAGMENT)
async def catalog_results(
    request: Request,
    principal: PagePrincipal,
    session: SessionDep,
    runtime: RuntimeDep,
    q: Text = "",
    category: Text = "",
    owner: Text = "",
    kind: Text = "",
    tag: Text = "",
) -> Response:
    """The cards alone, for htmx to swap in as people type (the address bar follows)."""
    filters = _filters(q, category, owner, kind, tag)
    context = await _catalog_context(session, runtime, principal, filters)
    headers = {"HX-Push-Url": filters.query()} if is_htmx(request) else None
    return render(request, "catalog/_results.html", context, headers=headers)
