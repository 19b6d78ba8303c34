"""A request's page: its state and progress, the task timeline, the execution logs, and
Retry / Abort / Escalate / Complete for those allowed to (the request and escalation
services decide, as for the API), and Approve / Reject for an approver it waits for
(posted to loom.web.approvals).

While the request is not final, the live part (header, timeline, logs) polls its
fragment every POLL_SECONDS through htmx and stops once the request is final. The
actions sit outside it (a correction typed into the retry form is not wiped by a poll);
the fragment sends them again, out of band, only when the state has changed.
"""

from __future__ import annotations

import uuid
from copy import deepcopy
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Query, Request
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import RedirectResponse, Response

from loom.api.deps import RuntimeDep, SessionDep
from loom.api.errors import status_of
from loom.auth import service as auth_service
from loom.auth.principal import Principal
from loom.catalog.documents import Document
from loom.errors import Conflict, InvalidInput, NotFound, UpstreamFailed, UpstreamUnavailable
from loom.provisioning import approvals, escalation, schemas, service
from loom.provisioning.dispatch import enqueue_for
from loom.provisioning.plan import unpin
from loom.web import request_view as view
from loom.web.catalog_form import (
    FormState,
    error_summary,
    field_views,
    has_secrets,
    posted_input,
    posted_state,
    service_issues,
    titles,
    typed_state,
)
from loom.web.deps import CsrfChecked, PagePrincipal
from loom.web.paths import REQUESTS, request_path
from loom.web.routing import page_router
from loom.web.templating import render

router = page_router()

POLL_SECONDS = 2
PAGE = REQUESTS + "/{request_id}"
#: Posted by the retry form when its values are to replace the request's input.
CORRECT_FIELD = "correct"


@dataclass(frozen=True)
class Loaded:
    """What the page needs, copied out of the session (nothing here loads lazily)."""

    detail: schemas.RequestDetail
    document: Document
    logs: list[dict[str, Any]]
    team: str
    inputs: dict[str, Any]
    secret_fields: list[str]
    #: The request waits for the viewer's approval.
    awaits_me: bool = False


def parse_request_id(raw: str) -> uuid.UUID:
    try:
        return uuid.UUID(raw)
    except ValueError:
        raise NotFound("request not found") from None


async def _load(session: AsyncSession, principal: Principal, raw_id: str) -> Loaded:
    request_id = parse_request_id(raw_id)
    async with session.begin():
        row = await service.get_request(session, principal, request_id)
        detail = schemas.RequestDetail.of(row)
        lines = await service.logs(session, principal, request_id)
        team = await auth_service.get_team(session, principal, row.team_id)
        document, _items = unpin(row.definition)
        awaits_me = row.waiting_for is not None and await approvals.awaits_decision(
            session, principal, request_id
        )
    return Loaded(
        detail,
        document,
        view.log_lines(lines, detail),
        team.name,
        deepcopy(row.inputs),
        list(row.secret_fields),
        awaits_me,
    )


def _live(loaded: Loaded) -> dict[str, Any]:
    detail = loaded.detail
    return {
        "request_id": str(detail.id),
        "live_url": f"{request_path(detail.id)}/live",
        "poll_seconds": POLL_SECONDS,
        "head": view.header(detail, loaded.team),
        "tasks": view.timeline(detail),
        "logs": loaded.logs,
    }


def _actions(
    principal: Principal,
    loaded: Loaded,
    retry_state: FormState | None = None,
    retry_issues: list[tuple[str, str]] | None = None,
    notice: str | None = None,
) -> dict[str, Any]:
    detail, form = loaded.detail, loaded.document.spec.form
    allowed = {**view.permissions(principal, detail.team_id, detail.state),
               "decide": loaded.awaits_me}  # fmt: skip
    correctable = allowed["retry"] and bool(form.fields) and not has_secrets(form)
    state = retry_state or typed_state(loaded.document, loaded.inputs)
    summary = error_summary([*state.errors.items(), *(retry_issues or [])], titles(form))
    return {
        "url": request_path(detail.id),
        "request_id": str(detail.id),
        "state": detail.state,
        "can": allowed,
        "correctable": correctable,
        "has_secrets": has_secrets(form),
        "retry_fields": field_views(form, state) if correctable else [],
        "retry_errors": summary if retry_state is not None else [],
        "notice": notice,
    }


def _page(
    request: Request,
    principal: Principal,
    loaded: Loaded,
    *,
    status_code: int = 200,
    **actions: Any,
) -> Response:
    detail = loaded.detail
    context = {
        "detail": detail,
        "inputs": view.input_rows(loaded.document, detail.inputs, loaded.secret_fields),
        "live": _live(loaded),
        "actions": _actions(principal, loaded, **actions),
        "oob": False,
        # The ticket status panel: read from JIRA when asked (see loom.web.ticket_status).
        "tickets": any(task.external_refs.get("jira") for task in detail.tasks),
    }
    return render(request, "requests/detail.html", context, status_code=status_code)


@router.get(PAGE)
async def request_page(
    request: Request, request_id: str, principal: PagePrincipal, session: SessionDep
) -> Response:
    return _page(request, principal, await _load(session, principal, request_id))


@router.get(PAGE + "/live")
async def live_fragment(
    request: Request,
    request_id: str,
    principal: PagePrincipal,
    session: SessionDep,
    shown: Annotated[str, Query(max_length=20)] = "",
) -> Response:
    """The live part; and the actions, out of band, when the state is not the one the
    page shows (`shown`)."""
    loaded = await _load(session, principal, request_id)
    context = {"live": _live(loaded), "oob": loaded.detail.state != shown}
    if context["oob"]:
        context["actions"] = _actions(principal, loaded)
    return render(request, "requests/_live.html", context)


@router.post(PAGE + "/retry", dependencies=[CsrfChecked])
async def retry(
    request: Request,
    request_id: str,
    principal: PagePrincipal,
    session: SessionDep,
    runtime: RuntimeDep,
) -> Response:
    """Retry as is, or with the corrected values of the retry form (re-validated)."""
    loaded = await _load(session, principal, request_id)
    posted = await request.form()
    corrected = None
    if posted.get(CORRECT_FIELD) == "1":
        corrected = posted_input(loaded.document.spec.form.fields, posted)
    try:
        async with session.begin():
            await service.retry(
                session, principal, loaded.detail.id, enqueue_for(runtime), corrected
            )
    except InvalidInput as exc:
        state, _ = posted_state(loaded.document, corrected or {})
        on_fields, others = service_issues(exc.details)
        for path, issue in on_fields.items():
            state.errors.setdefault(path, issue)
        issues = [(i.field, i.issue) for i in others]
        if not exc.details:
            issues.append(("", exc.message))
        return _page(request, principal, loaded, status_code=422, retry_state=state,
                     retry_issues=issues)  # fmt: skip
    except Conflict as exc:
        # Someone else moved it first: show it as it is now.
        loaded = await _load(session, principal, request_id)
        return _page(request, principal, loaded, status_code=409, notice=exc.message)
    return RedirectResponse(request_path(loaded.detail.id), status_code=303)


@router.post(PAGE + "/abort", dependencies=[CsrfChecked])
async def abort(
    request: Request, request_id: str, principal: PagePrincipal, session: SessionDep
) -> Response:
    loaded = await _load(session, principal, request_id)
    try:
        async with session.begin():
            await service.abort(session, principal, loaded.detail.id)
    except Conflict as exc:
        loaded = await _load(session, principal, request_id)
        return _page(request, principal, loaded, status_code=409, notice=exc.message)
    return RedirectResponse(request_path(loaded.detail.id), status_code=303)


@router.post(PAGE + "/escalate", dependencies=[CsrfChecked])
async def escalate(
    request: Request,
    request_id: str,
    principal: PagePrincipal,
    session: SessionDep,
    runtime: RuntimeDep,
) -> Response:
    """Hand the failed task and those after it to people as JIRA tickets; JIRA failing
    is shown on the page (nothing changed), with the status the API would answer."""
    loaded = await _load(session, principal, request_id)
    try:
        await escalation.escalate(session, runtime, principal, loaded.detail.id)
    except (Conflict, UpstreamFailed, UpstreamUnavailable) as exc:
        loaded = await _load(session, principal, request_id)
        return _page(request, principal, loaded, status_code=status_of(exc), notice=exc.message)
    return RedirectResponse(request_path(loaded.detail.id), status_code=303)


@router.post(PAGE + "/complete", dependencies=[CsrfChecked])
async def complete(
    request: Request, request_id: str, principal: PagePrincipal, session: SessionDep
) -> Response:
    """The escalated work was done by hand: complete the request."""
    loaded = await _load(session, principal, request_id)
    comment = str((await request.form()).get("comment") or "").strip()[:2000]
    try:
        async with session.begin():
            await escalation.complete(session, principal, loaded.detail.id, comment)
    except Conflict as exc:
        loaded = await _load(session, principal, request_id)
        return _page(request, principal, loaded, status_code=409, notice=exc.message)
    return RedirectResponse(request_path(loaded.detail.id), status_code=303)
