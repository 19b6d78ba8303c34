"""Dependencies of portal pages: the signed-in principal (else a trip to the login page)
and the CSRF check every form post declares."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from loom.api.deps import SessionDep, authenticate
from loom.auth.principal import Principal
from loom.errors import NotAuthenticated
from loom.web.csrf import verify_csrf
from loom.web.routing import LoginRequired


async def optional_principal(request: Request, session: SessionDep) -> Principal | None:
    """Whoever the session cookie (or a bearer token) names, or None."""
    try:
        principal = await authenticate(request, session)
    except NotAuthenticated:
        return None
    request.state.principal = principal
    return principal


async def page_principal(
    principal: Annotated[Principal | None, Depends(optional_principal)],
) -> Principal:
    if principal is None:
        raise LoginRequired
    return principal


PagePrincipal = Annotated[Principal, Depends(page_principal)]
MaybePrincipal = Annotated[Principal | None, Depends(optional_principal)]
#: Declare on every POST/PUT/DELETE page route: `dependencies=[CsrfChecked]`.
CsrfChecked = Depends(verify_csrf)
