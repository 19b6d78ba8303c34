"""Domains whose pages are not built yet: each answers a tidy "coming soon" page (inside
the portal's frame) rather than a 404. When a domain gets its own module of pages, take
its slug out of COMING_SOON."""

from __future__ import annotations

from fastapi import Request
from starlette.responses import Response

from loom.web.deps import PagePrincipal
from loom.web.navigation import NavItem, nav_item
from loom.web.routing import page_router
from loom.web.templating import render

COMING_SOON: tuple[str, ...] = (
    "runbooks",
    "insights",
    "audit",
    "admin",
)

router = page_router()


def _add_placeholder(item: NavItem) -> None:
    async def coming_soon(request: Request, _principal: PagePrincipal) -> Response:
        return render(request, "coming_soon.html", {"item": item})

    router.add_api_route(item.href, coming_soon, methods=["GET"], name=f"{item.slug}_soon")


for _slug in COMING_SOON:
    _add_placeholder(nav_item(_slug))
