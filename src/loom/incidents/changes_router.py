"""Change endpoints: record (`POST /changes`), list, read, change frequency per service,
and an incident's related changes with the engineers' verdicts on them.

Who records: a person who is an operator of the organisation (or of the team owning the
change's service), with an API token or a portal session (source `api`, or `manual` from
the portal); or a pipeline with the source token of a change source (kind github,
jenkins or argocd: its changes carry that source). POST accepts an Idempotency-Key.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, status
from sqlalchemy.ext.asyncio import AsyncSession

from loom.api.deps import CurrentPrincipal, RuntimeDep, SessionDep, authenticate, bearer_token
from loom.api.pagination import Page, PageDep, page_body, paginate
from loom.audit.service import Actor
from loom.auth.principal import Principal
from loom.db.types import utcnow
from loom.incidents import change_schemas, changes, correlation, queries, schemas, sources, views
from loom.incidents.kinds import AlertSourceKind, ChangeSource, ChangeType
from loom.incidents.models import Change
from loom.platform.runtime import Runtime
from loom.secrets.crypto import derive_key

router = APIRouter(prefix="/changes", tags=["changes"])
incident_router = APIRouter(prefix="/incidents", tags=["incidents"])

CHANGE_SOURCE_KINDS = frozenset(
    {AlertSourceKind.GITHUB, AlertSourceKind.JENKINS, AlertSourceKind.ARGOCD}
)


async def _caller(
    request: Request, session: AsyncSession, runtime: Runtime, body: bytes
) -> Principal | tuple[Actor, uuid.UUID, ChangeSource]:
    token = bearer_token(request)
    if token is not None and token.startswith(sources.SOURCE_TOKEN_PREFIX):
        key = derive_key(runtime.settings.secret_key.get_secret_value())
        async with session.begin():
            source = await sources.authenticate(
                session, key, headers=request.headers, query=request.query_params, body=body,
                kinds=CHANGE_SOURCE_KINDS,
            )  # fmt: skip
            return Actor.system(source.name), source.org_id, ChangeSource(source.kind)
    principal = await authenticate(request, session)
    principal.require_scope("write")
    request.state.principal = principal
    return principal


def _inline_schema(model: type[change_schemas.ChangeCreate]) -> dict[str, Any]:
    """`model`'s JSON schema with its `$defs` inlined (the body is read by hand, for
    400s naming fields, so OpenAPI learns its shape from here)."""
    schema = model.model_json_schema()
    defs = schema.pop("$defs", {})

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                return resolve(defs[ref.removeprefix("#/$defs/")])
            return {k: resolve(v) for k, v in node.items()}
        if isinstance(node, list):
            return [resolve(v) for v in node]
        return node

    resolved: dict[str, Any] = resolve(schema)
    return resolved


@router.post(
    "",
    response_model=schemas.Change,
    status_code=status.HTTP_201_CREATED,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": _inline_schema(change_schemas.ChangeCreate)}
            },
        }
    },
)
async def create_change(
    request: Request, session: SessionDep, runtime: RuntimeDep
) -> schemas.Change:
    """Record a change (body: `ChangeCreate`). A repeat of a (source, external_id)
    answers the first change. Malformed bodies are a 400 naming the fields."""
    body = await request.body()
    caller = await _caller(request, session, runtime, body)
    data = change_schemas.parse(body)
    if isinstance(caller, Principal):
        actor: Principal | Actor = caller
        org_id = caller.org_id
        source = ChangeSource.MANUAL if caller.via == "session" else ChangeSource.API
    else:
        actor, org_id, source = caller
    async with session.begin():
        change = await changes.record_change(
            session, actor, org_id, data, source=source, now=utcnow(),
            settings=runtime.settings.incidents,
        )  # fmt: skip
        return (await views.changes_out(session, [change]))[0]


@router.get("", responses={200: {"model": Page[schemas.Change]}})
async def list_changes(
    principal: CurrentPrincipal,
    session: SessionDep,
    page: PageDep,
    service: Annotated[str | None, Query(description="A service's slug")] = None,
    type: ChangeType | None = None,
    environment: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> dict[str, Any]:
    """The organisation's changes, newest first."""
    flt = queries.ChangeFilter(
        service=service, type=type.value if type else None, environment=environment,
        since=since, until=until,
    )  # fmt: skip
    async with session.begin():
        stmt = await queries.changes_query(session, principal, flt)
        rows, cursor = await paginate(session, stmt, [Change.happened_at, Change.id], page)
        items = await views.changes_out(session, rows)
    return page_body(items, cursor, page)


@router.get("/frequency", response_model=change_schemas.ChangeFrequencies)
async def change_frequency(
    principal: CurrentPrincipal, session: SessionDep
) -> change_schemas.ChangeFrequencies:
    """Changes per service over the last 7 and 30 days, busiest first."""
    async with session.begin():
        return await changes.frequency(session, principal, now=utcnow())


@router.get("/{change_id}", response_model=schemas.Change)
async def get_change(
    change_id: uuid.UUID, principal: CurrentPrincipal, session: SessionDep
) -> schemas.Change:
    async with session.begin():
        change = await changes.get_change(session, principal, change_id)
        return (await views.changes_out(session, [change]))[0]


async def _correlations(session: AsyncSession, incident: Any) -> list[schemas.Correlation]:
    rows = (await session.execute(correlation.correlations_query(incident))).all()
    changed = await views.changes_out(session, [change for _, change in rows])
    return [
        schemas.Correlation(
            change_id=c.change_id, score=c.score, parts=c.parts,
            verdict=c.verdict, verdict_by=c.verdict_by, verdict_at=c.verdict_at, change=out,
        )
        for (c, _), out in zip(rows, changed, strict=True)
    ]  # fmt: skip


@incident_router.get("/{ref}/changes", responses={200: {"model": Page[schemas.Correlation]}})
async def incident_changes(
    ref: str, principal: CurrentPrincipal, session: SessionDep
) -> dict[str, Any]:
    """Changes related to the incident, best score first, with their parts and verdicts."""
    async with session.begin():
        incident = await queries.get_incident(session, principal, ref)
        items = await _correlations(session, incident)
    return {"items": [i.model_dump(mode="json") for i in items], "next_cursor": None}


@incident_router.post("/{ref}/changes/{change_id}/verdict", response_model=schemas.Correlation)
async def correlation_verdict(
    ref: str,
    change_id: uuid.UUID,
    body: change_schemas.VerdictIn,
    principal: CurrentPrincipal,
    session: SessionDep,
) -> schemas.Correlation:
    """Confirm or reject a related change (operators); kept for learning from feedback."""
    async with session.begin():
        incident = await queries.get_incident(session, principal, ref, for_update=True)
        await correlation.set_verdict(
            session, principal, incident, change_id, body.verdict, body.note
        )
        items = await _correlations(session, incident)
    return next(i for i in items if i.change_id == change_id)
