"""Alert endpoints: the Alertmanager webhook, generic JSON alerts and health-check events
(each authenticated as an alert source, not a user), and reading alerts (members).

A batch with some bad alerts stores the good ones and answers 200 listing the bad ones;
a batch with none good, or a body that is not the expected shape, is a 400 naming the
fields."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from loom.api.deps import CurrentPrincipal, RuntimeDep, SessionDep, read_body
from loom.api.pagination import Page, PageDep, page_body, paginate
from loom.db.types import utcnow
from loom.errors import FieldIssue, NotFound, RejectedInput
from loom.incidents import alerts, normalize, queries, schemas, sources, views
from loom.incidents.intake import intake_of
from loom.incidents.kinds import AlertSourceKind, AlertStatus, Severity
from loom.incidents.models import Alert
from loom.platform.runtime import Runtime
from loom.secrets.crypto import derive_key

router = APIRouter(prefix="/alerts", tags=["alerts"])
Parser = Callable[..., normalize.Parsed]


class Rejection(BaseModel):
    index: int
    field: str
    issue: str


class IngestResult(BaseModel):
    accepted: int
    rejected: list[Rejection]
    incidents: list[int]


async def _receive(
    request: Request,
    session: AsyncSession,
    runtime: Runtime,
    kind: AlertSourceKind,
    parse: Parser,
) -> dict[str, Any]:
    body = await read_body(request)
    key = derive_key(runtime.settings.secret_key.get_secret_value())
    settings = runtime.settings.incidents
    now = utcnow()
    async with session.begin():
        source = await sources.authenticate(
            session, key, headers=request.headers, query=request.query_params, body=body,
            kinds={kind},
        )  # fmt: skip
        parsed = parse(normalize.load_json(body), now=now, max_items=settings.max_batch_alerts)
        if not parsed.items:
            details = [FieldIssue(r.field, r.issue) for r in parsed.rejected]
            raise RejectedInput("no alert in the request is valid", details or [
                FieldIssue("alerts", "no alerts")
            ])  # fmt: skip
        delivery = await alerts.prepare(
            session, source.org_id, source, parsed.items, settings=settings, now=now,
            rejected=parsed.rejected,
        )  # fmt: skip
    # Stored and grouped with the batches other senders of the organisation posted
    # meanwhile (group commit); answered once committed.
    summary = await intake_of(runtime).submit(source.org_id, delivery)
    return summary.as_dict()


_INGEST = {"response_model": IngestResult, "responses": {400: {}, 401: {}, 403: {}, 413: {}}}


@router.post("/alertmanager", **_INGEST)  # type: ignore[arg-type]
async def alertmanager_webhook(
    request: Request, session: SessionDep, runtime: RuntimeDep
) -> dict[str, Any]:
    """Alertmanager's webhook (version 4); point a `webhook_configs` receiver here with
    the source token as `http_config.authorization.credentials`."""
    return await _receive(
        request, session, runtime, AlertSourceKind.ALERTMANAGER, normalize.alertmanager
    )


@router.post("", **_INGEST)  # type: ignore[arg-type]
async def generic_alert(
    request: Request, session: SessionDep, runtime: RuntimeDep
) -> dict[str, Any]:
    """A generic JSON alert (`title`, `status`, `severity`, `service`, `labels`...), or
    `{"alerts": [...]}` of them."""
    return await _receive(request, session, runtime, AlertSourceKind.GENERIC, normalize.generic)


@router.post("/health-check", **_INGEST)  # type: ignore[arg-type]
async def health_check_event(
    request: Request, session: SessionDep, runtime: RuntimeDep
) -> dict[str, Any]:
    """A health-check status change (`service`, `check`, `status`: passing | degraded |
    failing), or `{"events": [...]}` of them."""
    return await _receive(
        request, session, runtime, AlertSourceKind.HEALTH_CHECK, normalize.health_check
    )


@router.get("", responses={200: {"model": Page[schemas.Alert]}})
async def list_alerts(
    principal: CurrentPrincipal,
    session: SessionDep,
    page: PageDep,
    status: Annotated[AlertStatus | None, Query()] = None,
    severity: Annotated[Severity | None, Query()] = None,
    service: Annotated[str | None, Query(description="A service slug")] = None,
    incident: Annotated[str | None, Query(description="An incident id or number")] = None,
    silenced: Annotated[bool | None, Query()] = None,
) -> dict[str, Any]:
    """The organisation's alerts, most recently seen first."""
    flt = queries.AlertFilter(
        status=status.value if status else None, severity=severity.value if severity else None,
        service=service, incident=incident, silenced=silenced,
    )  # fmt: skip
    async with session.begin():
        stmt = await queries.alerts_query(session, principal, flt)
        rows, cursor = await paginate(session, stmt, [Alert.last_seen, Alert.id], page)
        items = await views.alerts_out(session, rows)
    return page_body(items, cursor, page)


@router.get("/{alert_id}", response_model=schemas.Alert)
async def get_alert(
    alert_id: uuid.UUID, principal: CurrentPrincipal, session: SessionDep
) -> schemas.Alert:
    async with session.begin():
        row = await session.scalar(
            select(Alert).where(Alert.org_id == principal.org_id, Alert.id == alert_id)
        )
        if row is None:
            raise NotFound(f"alert '{alert_id}' not found")
        return (await views.alerts_out(session, [row]))[0]
