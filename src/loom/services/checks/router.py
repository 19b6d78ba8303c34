"""Health check endpoints of a service: its checks, their results, its health over time,
and "run now" (which backs `loom service check ID`)."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Response, status

from loom.api.deps import CurrentPrincipal, RuntimeDep, SessionDep
from loom.api.pagination import Page, PageDep, page_body, paginate
from loom.services.check_models import ServiceCheck, ServiceCheckResult
from loom.services.checks import run_now, schemas, service, stats
from loom.services.service import get_service

router = APIRouter(prefix="/services/{slug}", tags=["services"])


@router.get("/checks", responses={200: {"model": Page[schemas.Check]}})
async def list_checks(
    slug: str, principal: CurrentPrincipal, session: SessionDep, page: PageDep
) -> dict[str, Any]:
    async with session.begin():
        found = await get_service(session, principal, slug)
        rows, cursor = await paginate(
            session,
            service.checks_query(found),
            [ServiceCheck.name, ServiceCheck.id],
            page,
            descending=False,
        )
        items = [service.check_out(r, slug) for r in rows]
    return page_body(items, cursor, page)


@router.post("/checks", response_model=schemas.Check, status_code=status.HTTP_201_CREATED)
async def create_check(
    slug: str, body: schemas.CheckCreate, principal: CurrentPrincipal, session: SessionDep
) -> schemas.Check:
    """Add a health check (operators of the owning team). Accepts an Idempotency-Key."""
    async with session.begin():
        return service.check_out(await service.create_check(session, principal, slug, body), slug)


@router.post("/checks/run", response_model=list[schemas.Check])
async def run_checks(
    slug: str, principal: CurrentPrincipal, session: SessionDep, runtime: RuntimeDep
) -> list[schemas.Check]:
    """Run the service's enabled checks now (operators), store the results and return
    the checks with them."""
    return await run_now.run_checks(session, principal, slug, runtime)


@router.get("/checks/{check_id}", response_model=schemas.Check)
async def get_check(
    slug: str, check_id: uuid.UUID, principal: CurrentPrincipal, session: SessionDep
) -> schemas.Check:
    async with session.begin():
        _found, check = await service.get_check(session, principal, slug, check_id)
        return service.check_out(check, slug)


@router.patch("/checks/{check_id}", response_model=schemas.Check)
async def update_check(
    slug: str,
    check_id: uuid.UUID,
    body: schemas.CheckUpdate,
    principal: CurrentPrincipal,
    session: SessionDep,
) -> schemas.Check:
    """Change the fields sent (null clears an optional one)."""
    async with session.begin():
        check = await service.update_check(session, principal, slug, check_id, body)
        return service.check_out(check, slug)


@router.delete("/checks/{check_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_check(
    slug: str, check_id: uuid.UUID, principal: CurrentPrincipal, session: SessionDep
) -> Response:
    async with session.begin():
        await service.delete_check(session, principal, slug, check_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/checks/{check_id}/results", responses={200: {"model": Page[schemas.StoredResult]}})
async def list_results(
    slug: str, check_id: uuid.UUID, principal: CurrentPrincipal, session: SessionDep, page: PageDep
) -> dict[str, Any]:
    """The check's runs, newest first."""
    async with session.begin():
        _found, check = await service.get_check(session, principal, slug, check_id)
        rows, cursor = await paginate(
            session,
            service.results_query(check),
            [ServiceCheckResult.started_at, ServiceCheckResult.id],
            page,
        )
        items = [service.result_out(r) for r in rows]
    return page_body(items, cursor, page)


@router.get("/health", response_model=schemas.Health)
async def service_health(
    slug: str, principal: CurrentPrincipal, session: SessionDep
) -> schemas.Health:
    """The service's overall status (its worst enabled check) and each check's
    availability and latency over 24 h, 7 d and 30 d."""
    async with session.begin():
        return await stats.service_health(session, await get_service(session, principal, slug))
