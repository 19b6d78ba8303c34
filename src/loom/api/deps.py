"""FastAPI dependencies every router uses: the runtime, a database session, the current
principal (API token or portal session cookie), and the raw body of a signed webhook."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.exceptions import HTTPException

from loom.auth.principal import Principal, load_principal
from loom.auth.roles import Role
from loom.auth.tokens import authenticate_token
from loom.errors import NotAuthenticated
from loom.platform.runtime import Runtime

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
SESSION_USER_KEY = "uid"
#: The largest body a webhook (alerts, chat commands) may send.
MAX_BODY = 5 * 1024 * 1024


async def get_runtime(request: Request) -> Runtime:
    # async, like every dependency here: FastAPI runs a plain `def` one in a worker thread
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


async def get_session(runtime: RuntimeDep) -> AsyncIterator[AsyncSession]:
    """A session for this request. The router owns the transaction (`async with
    session.begin()`); anything left uncommitted is rolled back on close."""
    async with runtime.sessions() as session:
        yield session


SessionDep = Annotated[AsyncSession, Depends(get_session)]


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return None


async def authenticate(request: Request, session: AsyncSession) -> Principal:
    """Resolve the caller from a bearer token, else the portal session cookie."""
    token = bearer_token(request)
    async with session.begin():
        if token is not None:
            return await authenticate_token(session, token)
        raw_uid = request.session.get(SESSION_USER_KEY) if "session" in request.scope else None
        if raw_uid:
            try:
                return await load_principal(session, uuid.UUID(raw_uid), via="session")
            except (ValueError, NotAuthenticated):
                request.session.clear()
    raise NotAuthenticated("authentication required: send 'Authorization: Bearer <token>'")


async def get_principal(request: Request, session: SessionDep) -> Principal:
    principal = await authenticate(request, session)
    if request.method not in SAFE_METHODS:
        principal.require_scope("write")
    request.state.principal = principal
    return principal


CurrentPrincipal = Annotated[Principal, Depends(get_principal)]


def require_org_role(role: Role) -> Callable[[Principal], Awaitable[Principal]]:
    """Dependency factory: the caller must hold `role` in the organisation."""

    async def check(principal: CurrentPrincipal) -> Principal:
        principal.require_org_role(role)
        return principal

    return check


OrgAdmin = Annotated[Principal, Depends(require_org_role(Role.ADMIN))]


async def read_body(request: Request) -> bytes:
    """The raw body (a signature covers its exact bytes), refused with a 413 past
    `MAX_BODY` (without reading all of it)."""
    too_large = HTTPException(413, f"the body is over {MAX_BODY // (1024 * 1024)} MB")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY:
        raise too_large
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY:
            raise too_large
    return bytes(body)
