"""Alert source endpoints (organisation admins): register, list, rotate, disable, delete."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Response, status
from sqlalchemy import select

from loom.api.deps import CurrentPrincipal, RuntimeDep, SessionDep
from loom.api.pagination import Page, PageDep, page_body, paginate
from loom.incidents import source_schemas as schemas
from loom.incidents import sources
from loom.incidents.kinds import AlertSourceKind
from loom.incidents.models import AlertSource
from loom.secrets.crypto import derive_key

router = APIRouter(prefix="/alert-sources", tags=["alerts"])


def source_out(source: AlertSource) -> schemas.Source:
    return schemas.Source(
        id=source.id, name=source.name, kind=AlertSourceKind(source.kind), enabled=source.enabled,
        last_used_at=source.last_used_at, created_at=source.created_at,
    )  # fmt: skip


def _with(source: AlertSource, creds: sources.Credentials) -> schemas.SourceCredentials:
    return schemas.SourceCredentials(
        **source_out(source).model_dump(), token=creds.token, hmac_secret=creds.secret
    )


@router.get("", responses={200: {"model": Page[schemas.Source]}})
async def list_sources(
    principal: CurrentPrincipal, session: SessionDep, page: PageDep
) -> dict[str, Any]:
    async with session.begin():
        stmt = select(AlertSource).where(AlertSource.org_id == principal.org_id)
        rows, cursor = await paginate(
            session, stmt, [AlertSource.name, AlertSource.id], page, descending=False
        )
    return page_body([source_out(r) for r in rows], cursor, page)


@router.post("", response_model=schemas.SourceCredentials, status_code=status.HTTP_201_CREATED)
async def create_source(
    body: schemas.SourceCreate,
    principal: CurrentPrincipal,
    session: SessionDep,
    runtime: RuntimeDep,
) -> schemas.SourceCredentials:
    """Register a source. The answer carries its token and HMAC secret, shown only now."""
    key = derive_key(runtime.settings.secret_key.get_secret_value())
    async with session.begin():
        source, creds = await sources.create_source(
            session, key, principal, name=body.name, kind=body.kind
        )
        return _with(source, creds)


@router.post("/{source_id}/rotate", response_model=schemas.SourceCredentials)
async def rotate_source(
    source_id: uuid.UUID, principal: CurrentPrincipal, session: SessionDep, runtime: RuntimeDep
) -> schemas.SourceCredentials:
    key = derive_key(runtime.settings.secret_key.get_secret_value())
    async with session.begin():
        source, creds = await sources.rotate_source(session, key, principal, source_id)
        return _with(source, creds)


@router.patch("/{source_id}", response_model=schemas.Source)
async def update_source(
    source_id: uuid.UUID,
    body: schemas.SourceUpdate,
    principal: CurrentPrincipal,
    session: SessionDep,
) -> schemas.Source:
    async with session.begin():
        return source_out(await sources.set_enabled(session, principal, source_id, body.enabled))


@router.delete("/{source_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_source(
    source_id: uuid.UUID, principal: CurrentPrincipal, session: SessionDep
) -> Response:
    async with session.begin():
        await sources.delete_source(session, principal, source_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
