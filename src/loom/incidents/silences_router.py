"""Silence endpoints: make (operators and up), list, read, expire."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, status

from loom.api.deps import CurrentPrincipal, SessionDep
from loom.api.pagination import Page, PageDep, page_body, paginate
from loom.db.types import utcnow
from loom.incidents import silence_schemas as schemas
from loom.incidents import silences
from loom.incidents.models import Silence

router = APIRouter(prefix="/silences", tags=["alerts"])


@router.post("", response_model=schemas.Silence, status_code=status.HTTP_201_CREATED)
async def create_silence(
    body: schemas.SilenceCreate, principal: CurrentPrincipal, session: SessionDep
) -> schemas.Silence:
    now = utcnow()
    async with session.begin():
        silence = await silences.create_silence(session, principal, body, now)
        return silences.silence_out(silence, now)


@router.get("", responses={200: {"model": Page[schemas.Silence]}})
async def list_silences(
    principal: CurrentPrincipal,
    session: SessionDep,
    page: PageDep,
    state: Annotated[schemas.SilenceState | None, Query()] = None,
) -> dict[str, Any]:
    """Newest first; `state` keeps the active, pending or expired ones."""
    now = utcnow()
    async with session.begin():
        stmt = silences.silences_query(principal, state, now)
        rows, cursor = await paginate(session, stmt, [Silence.created_at, Silence.id], page)
    return page_body([silences.silence_out(r, now) for r in rows], cursor, page)


@router.get("/{silence_id}", response_model=schemas.Silence)
async def get_silence(
    silence_id: uuid.UUID, principal: CurrentPrincipal, session: SessionDep
) -> schemas.Silence:
    async with session.begin():
        return silences.silence_out(
            await silences.get_silence(session, principal, silence_id), utcnow()
        )


@router.delete("/{silence_id}", response_model=schemas.Silence)
async def expire_silence(
    silence_id: uuid.UUID, principal: CurrentPrincipal, session: SessionDep
) -> schemas.Silence:
    """Expire the silence now (it is kept, as expired)."""
    now = utcnow()
    async with session.begin():
        silence = await silences.expire_silence(session, principal, silence_id, now)
        return silences.silence_out(silence, now)
