"""Change webhook endpoints: GitHub, Jenkins and ArgoCD post here, authenticated as an
alert source of their kind (`sources.authenticate`: a bearer source token, or an HMAC of
the body; GitHub signs with `X-Hub-Signature-256` and names its source as `?source=<id>`).

Answers: 200 `recorded` with the change id (a redelivery answers the same id), 200
`pong` to GitHub's ping, 202 `ignored` with the reason for events that are not changes,
400 naming the field for a malformed payload.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from sqlalchemy.ext.asyncio import AsyncSession

from loom.api.deps import RuntimeDep, SessionDep
from loom.audit.service import Actor
from loom.db.types import utcnow
from loom.errors import RejectedInput
from loom.incidents import change_webhooks as adapters
from loom.incidents import sources
from loom.incidents.change_schemas import ChangeCreate, Recorded, json_object
from loom.incidents.changes import record_change
from loom.incidents.kinds import AlertSourceKind, ChangeSource, ChangeType
from loom.incidents.models import AlertSource
from loom.platform.runtime import Runtime
from loom.secrets.crypto import derive_key

router = APIRouter(prefix="/changes/webhooks", tags=["changes"])
MAX_BODY = 5 * 1024 * 1024


async def _authenticated(
    request: Request, session: AsyncSession, runtime: Runtime, kind: AlertSourceKind
) -> tuple[AlertSource, bytes]:
    body = await request.body()
    if len(body) > MAX_BODY:
        raise RejectedInput.on("body", "payload too large")
    key = derive_key(runtime.settings.secret_key.get_secret_value())
    source = await sources.authenticate(
        session, key, headers=request.headers, query=request.query_params, body=body,
        kinds={kind},
    )  # fmt: skip
    return source, body


async def _record(
    session: AsyncSession, runtime: Runtime, source: AlertSource, data: ChangeCreate
) -> JSONResponse:
    change = await record_change(
        session, Actor.system(source.name), source.org_id, data,
        source=ChangeSource(source.kind), now=utcnow(), settings=runtime.settings.incidents,
    )  # fmt: skip
    return JSONResponse(Recorded(status="recorded", change_id=change.id).model_dump(mode="json"))


def _ignored(reason: str) -> JSONResponse:
    return JSONResponse(Recorded(status="ignored", reason=reason).model_dump(), status_code=202)


@router.post("/github", response_model=Recorded)
async def github(
    request: Request,
    session: SessionDep,
    runtime: RuntimeDep,
    service: Annotated[str | None, Query(description="The service's slug")] = None,
    environment: Annotated[str | None, Query(description="workflow_run: where it deploys")] = None,
    type: Annotated[ChangeType | None, Query(description="workflow_run: the change type")] = None,
) -> JSONResponse:
    """GitHub webhook: `deployment`, `deployment_status` (success) and `workflow_run`
    (completed, success) record a change; `ping` answers pong; others are ignored."""
    async with session.begin():
        source, body = await _authenticated(request, session, runtime, AlertSourceKind.GITHUB)
        event = request.headers.get("x-github-event", "")
        if event == "ping":
            return JSONResponse({"status": "pong"})
        try:
            data, repository = adapters.parse_github(
                event, json_object(body), change_type=type, environment=environment
            )
        except adapters.Ignored as ignored:
            return _ignored(ignored.reason)
        data.service = await adapters.resolve_github_service(
            session, source.org_id, repository, service
        )
        return await _record(session, runtime, source, data)


@router.post("/jenkins", response_model=Recorded)
async def jenkins(request: Request, session: SessionDep, runtime: RuntimeDep) -> JSONResponse:
    """A Jenkins pipeline step's JSON (see `change_webhooks.JenkinsBuild`); only a
    SUCCESS result records a change."""
    async with session.begin():
        source, body = await _authenticated(request, session, runtime, AlertSourceKind.JENKINS)
        try:
            data = adapters.parse_jenkins(json_object(body))
        except adapters.Ignored as ignored:
            return _ignored(ignored.reason)
        return await _record(session, runtime, source, data)


@router.post("/argocd", response_model=Recorded)
async def argocd(request: Request, session: SessionDep, runtime: RuntimeDep) -> JSONResponse:
    """An argocd-notifications webhook (see `change_webhooks.ArgoCDSync`); only a
    Succeeded sync records a change."""
    async with session.begin():
        source, body = await _authenticated(request, session, runtime, AlertSourceKind.ARGOCD)
        try:
            data = adapters.parse_argocd(json_object(body))
        except adapters.Ignored as ignored:
            return _ignored(ignored.reason)
        return await _record(session, runtime, source, data)
