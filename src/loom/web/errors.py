"""Pages that are not there: any /ui path no other route answers gets a 404 page in the
portal's frame. Its router is included last."""

from __future__ import annotations

from fastapi import Request
from starlette.responses import Response

from loom.web.deps import PagePrincipal
from loom.web.routing import error_page, page_router

router = page_router()


@router.get("/ui/{_rest:path}")
async def not_found(request: Request, _principal: PagePrincipal) -> Response:
    return error_page(request, 404, f"There is no page at {request.url.path}.")
