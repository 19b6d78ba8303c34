"""Requesting a catalog item or bundle from its page.

* Preview: the request service checks the form exactly as `POST /api/v1/requests` would
  and plans it: every task that would run, its config rendered as far as it can be
  before anything runs ("known after task N" for outputs not produced yet). Nothing is
  stored. Through htmx only the plan panel is swapped, so typed secrets stay in the form.
* Submit: the request service creates the request (same checks), and the browser goes
  to the request's page. A hidden one-time token (`web.once`) makes a double click or a
  resent post land on the same request instead of creating a second one.

A refused form comes back with each field's message next to it (422).
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import Request
from sqlalchemy.exc import IntegrityError
from starlette.datastructures import FormData
from starlette.responses import RedirectResponse, Response

from loom.api.deps import RuntimeDep, SessionDep
from loom.audit.masking import mask_secrets
from loom.errors import Forbidden, InvalidInput, LoomError
from loom.provisioning import service
from loom.provisioning.dispatch import enqueue_for
from loom.provisioning.service import Submission
from loom.secrets.crypto import derive_key
from loom.web import once
from loom.web.catalog import CATALOG
from loom.web.catalog_form import posted_input, posted_state, service_issues, titles, value_rows
from loom.web.deps import CsrfChecked, PagePrincipal
from loom.web.entry import TEAM_FIELD, EntryForm, LoadedEntry, load_entry, render_entry
from loom.web.paths import request_path
from loom.web.routing import error_page, is_htmx, page_router
from loom.web.templating import render

router = page_router()

PREVIEW = CATALOG + "/{entry_id}/preview"
SUBMIT = CATALOG + "/{entry_id}/request"


def _read(loaded: LoadedEntry, posted: FormData) -> tuple[dict[str, Any], str | None]:
    """The form values and the team (None: let the service pick the caller's only team)."""
    data = posted_input(loaded.entry.document.spec.form.fields, posted)
    team = posted.get(TEAM_FIELD)
    return data, team.strip() if isinstance(team, str) and team.strip() else None


def _refused(
    request: Request,
    loaded: LoadedEntry,
    data: dict[str, Any],
    team: str | None,
    exc: LoomError,
) -> Response:
    """The page again, the service's refusal spread over the fields it names."""
    state, _ = posted_state(loaded.entry.document, data)
    on_fields, others = service_issues(exc.details)
    for path, issue in on_fields.items():
        state.errors.setdefault(path, issue)
    team_error = next((i.issue for i in others if i.field == TEAM_FIELD), None)
    if isinstance(exc, Forbidden):  # the caller's role in the chosen team is too low
        team_error = exc.message
    issues = [(i.field, i.issue) for i in others if i.field != TEAM_FIELD]
    if not exc.details and not isinstance(exc, Forbidden):
        issues.append(("", exc.message))
    form = EntryForm(state=state, team=team or "", team_error=team_error, issues=issues)
    response = render_entry(request, loaded, form, status_code=422)
    if is_htmx(request):
        # The preview button targets the plan panel; a refusal replaces the whole form.
        response.headers.update(
            {
                "HX-Retarget": "#request-form",
                "HX-Reswap": "outerHTML",
                "HX-Reselect": "#request-form",
            }
        )
    return response


def _plan(
    loaded: LoadedEntry, prepared: Submission, configs: list[dict[str, Any]]
) -> dict[str, Any]:
    form = loaded.entry.document.spec.form
    team = next((t["name"] for t in loaded.teams if t["id"] == str(prepared.team_id)), "")
    return {
        "team": team,
        "values": value_rows(form, prepared.values, prepared.secrets, titles(form)),
        "tasks": [
            {
                "number": spec.position + 1,
                "component": spec.component_id,
                "item": spec.item_id,
                "action": spec.action_id,
                "type": spec.action_type,
                "config": json.dumps(mask_secrets(config), indent=2, ensure_ascii=False),
                "outputs": spec.declared_outputs,
            }
            for spec, config in zip(prepared.tasks, configs, strict=True)
        ],
    }


@router.post(PREVIEW, dependencies=[CsrfChecked])
async def preview(
    request: Request,
    entry_id: str,
    principal: PagePrincipal,
    session: SessionDep,
    runtime: RuntimeDep,
) -> Response:
    loaded = await load_entry(session, runtime, principal, entry_id)
    data, team = _read(loaded, await request.form())
    try:
        async with session.begin():
            prepared = await service.prepare(
                session, principal, loaded.served, entry_id, team, data
            )
    except (InvalidInput, Forbidden) as exc:
        return _refused(request, loaded, data, team, exc)
    settings = runtime.settings
    configs = service.preview_configs(prepared, principal, settings.region, settings.environment)
    plan = _plan(loaded, prepared, configs)
    if is_htmx(request):
        return render(request, "catalog/_plan.html", {"plan": plan, "has_secrets": False})
    state, _ = posted_state(loaded.entry.document, data)
    return render_entry(request, loaded, EntryForm(state=state, team=team or "", plan=plan))


@router.post(SUBMIT, dependencies=[CsrfChecked])
async def submit(
    request: Request,
    entry_id: str,
    principal: PagePrincipal,
    session: SessionDep,
    runtime: RuntimeDep,
) -> Response:
    loaded = await load_entry(session, runtime, principal, entry_id)
    posted = await request.form()
    token = posted.get(once.FIELD)
    if not isinstance(token, str) or not once.valid(token):
        return error_page(
            request, 400, "This form has no submission token: reload it and try again."
        )
    async with session.begin():
        earlier = await once.done(session, principal, token)
    if earlier is not None:
        return RedirectResponse(earlier, status_code=303)
    data, team = _read(loaded, posted)
    key = derive_key(runtime.settings.secret_key.get_secret_value())
    try:
        async with session.begin():
            claimed = await once.claim(session, principal, token)
            prepared = await service.prepare(
                session, principal, loaded.served, entry_id, team, data
            )
            created = await service.submit(session, principal, prepared, key, enqueue_for(runtime))
            location = request_path(created.id)
            once.settle(claimed, location)
    except IntegrityError:
        # A twin of this post (same token) got there first: go where it led.
        async with session.begin():
            earlier = await once.done(session, principal, token)
        return RedirectResponse(earlier or f"{CATALOG}/{entry_id}", status_code=303)
    except (InvalidInput, Forbidden) as exc:
        return _refused(request, loaded, data, team, exc)
    return RedirectResponse(location, status_code=303)
