"""The operators' actions on an incident's page: status changes (acknowledge,
investigate, mitigate, resolve, reopen), hold open, merge into another incident,
comments, and verdicts on related changes. Each form posts here and calls the function
the API calls (`incidents.lifecycle`, `incidents.manual`, `incidents.correlation`), so
who may act, validation, the audit entry and the timeline event are the same. A refusal
the person can fix (an illegal move, an unknown incident to merge into, a blank comment)
comes back as the page with the message; one they cannot (not an operator) is the
portal's error page."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable

from fastapi import Request
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import FormData
from starlette.responses import RedirectResponse, Response

from loom.api.deps import RuntimeDep, SessionDep
from loom.api.errors import status_of
from loom.auth.principal import Principal
from loom.errors import Conflict, IllegalTransition, InvalidInput, NotFound
from loom.incidents import correlation, lifecycle, manual, queries
from loom.incidents.kinds import IncidentStatus, Verdict
from loom.web.deps import CsrfChecked, PagePrincipal
from loom.web.incident_page import STATUS_ACTIONS, render_incident
from loom.web.ops import INCIDENTS, incident_path
from loom.web.routing import page_router

router = page_router()

#: Refusals shown on the incident page (with its status code), not as an error page.
_FIXABLE = (InvalidInput, IllegalTransition, Conflict)
Action = Callable[[AsyncSession, Principal, FormData], Awaitable[int]]


def _text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def _issue(exc: Exception) -> str:
    details = getattr(exc, "details", None)
    if details:
        return f"{details[0].field}: {details[0].issue}"
    return str(exc)


async def _act(
    request: Request, session: SessionDep, principal: Principal, number: str, act: Action,
    done: str, **keep: str,
) -> Response:  # fmt: skip
    """Run `act` in one transaction, then go to the incident it names (`?done=`); a
    fixable refusal re-renders the page with the message and what was typed (`keep`)."""
    form = await request.form()
    try:
        async with session.begin():
            target = await act(session, principal, form)
    except _FIXABLE as exc:
        extra = {"action_error": _issue(exc), **keep}
        return await render_incident(request, session, principal, number, extra=extra,
                                     status_code=status_of(exc))  # fmt: skip
    return RedirectResponse(f"{incident_path(target)}?done={done}", status_code=303)


def _status_route(action: str, status: IncidentStatus) -> None:
    async def change_status(
        request: Request, number: str, principal: PagePrincipal, session: SessionDep
    ) -> Response:
        async def act(s: AsyncSession, p: Principal, form: FormData) -> int:
            found = await lifecycle.change_status(s, p, number, status,
                                                  note=_text(form, "note") or None)  # fmt: skip
            return found.number

        return await _act(request, session, principal, number, act, action)

    router.add_api_route(INCIDENTS + "/{number}/" + action, change_status, methods=["POST"],
                         dependencies=[CsrfChecked], name=f"incident_{action}")  # fmt: skip


for _action, _label, _status in STATUS_ACTIONS:
    _status_route(_action, _status)


@router.post(INCIDENTS + "/{number}/hold", dependencies=[CsrfChecked])
async def hold(
    request: Request, number: str, principal: PagePrincipal, session: SessionDep
) -> Response:
    form = await request.form()
    held = _text(form, "hold") != "false"

    async def act(s: AsyncSession, p: Principal, _form: FormData) -> int:
        return (await lifecycle.hold(s, p, number, held)).number

    return await _act(request, session, principal, number, act, "hold" if held else "release")


@router.post(INCIDENTS + "/{number}/merge", dependencies=[CsrfChecked])
async def merge(
    request: Request, number: str, principal: PagePrincipal, session: SessionDep,
    runtime: RuntimeDep,
) -> Response:  # fmt: skip
    into = _text(await request.form(), "into")

    async def act(s: AsyncSession, p: Principal, _form: FormData) -> int:
        if not into:
            raise InvalidInput.on("into", "the incident to merge into (INC-42)")
        await queries.get_incident(s, p, number)  # this one first: a 404 if it is not there
        try:
            target = await manual.merge(s, p, number, into, settings=runtime.settings.incidents)
        except NotFound as exc:  # the one to merge into: say so on the page
            raise InvalidInput.on("into", exc.message) from None
        return target.number

    return await _act(request, session, principal, number, act, "merged", merge_into=into)


@router.post(INCIDENTS + "/{number}/comments", dependencies=[CsrfChecked])
async def comment(
    request: Request, number: str, principal: PagePrincipal, session: SessionDep
) -> Response:
    form = await request.form()
    body = _text(form, "body")

    async def act(s: AsyncSession, p: Principal, _form: FormData) -> int:
        found = await queries.get_incident(s, p, number)
        await lifecycle.comment(s, p, number, body)
        return found.number

    return await _act(request, session, principal, number, act, "comment", comment_body=body)


@router.post(INCIDENTS + "/{number}/changes/{change_id}/verdict", dependencies=[CsrfChecked])
async def verdict(
    request: Request, number: str, change_id: uuid.UUID, principal: PagePrincipal,
    session: SessionDep,
) -> Response:  # fmt: skip
    async def act(s: AsyncSession, p: Principal, form: FormData) -> int:
        value = _text(form, "verdict")
        if value not in {v.value for v in Verdict}:
            raise InvalidInput.on("verdict", "confirmed or rejected")
        found = await queries.get_incident(s, p, number, for_update=True)
        await correlation.set_verdict(s, p, found, change_id, Verdict(value),
                                      _text(form, "note"))  # fmt: skip
        return found.number

    return await _act(request, session, principal, number, act, "verdict")
