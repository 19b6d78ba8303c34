"""Changing a service from the portal: its fields, and what it depends on. The forms
post here; each handler calls the registry function the API calls (`update_service`,
`add_dependency`, `remove_dependency`), so permissions (operator of the owning team),
the refusal of managed services, validation and the audit entry are the same.
"""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import Request
from pydantic import BaseModel, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import FormData
from starlette.responses import RedirectResponse, Response

from loom.api.deps import SessionDep
from loom.auth.principal import Principal
from loom.errors import Conflict, Forbidden, InvalidInput, NotFound
from loom.services import schemas, service
from loom.services.kinds import Lifecycle
from loom.web.deps import CsrfChecked, PagePrincipal
from loom.web.routing import page_router
from loom.web.service_page import can_edit, render_tab, tab_named
from loom.web.services import SERVICES, service_path, team_names
from loom.web.templating import render

router = page_router()

#: The form's text fields; an empty one clears an optional field (null in the API).
_TEXT = ("name", "description", "system", "domain", "repository_url", "api_spec_url")
_OPTIONAL = frozenset({"system", "domain", "repository_url", "api_spec_url"})


def _text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def _issues(exc: ValidationError) -> dict[str, str]:
    """Pydantic's complaints by form field (the first one of each)."""
    found: dict[str, str] = {}
    for error in exc.errors():
        field = str(error["loc"][0]) if error["loc"] else "form"
        found.setdefault(field, error["msg"])
    return found


def _parse(model: type[BaseModel], data: dict[str, Any]) -> tuple[Any, dict[str, str]]:
    try:
        return model.model_validate(data), {}
    except ValidationError as exc:
        return None, _issues(exc)


# --- the service's fields -------------------------------------------------------------


def _edit_values(form: FormData) -> dict[str, Any]:
    values: dict[str, Any] = {name: _text(form, name) for name in _TEXT}
    for name in _OPTIONAL:
        values[name] = values[name] or None
    values["lifecycle"] = _text(form, "lifecycle")
    values["tier"] = _text(form, "tier")
    values["team"] = _text(form, "team")
    values["tags"] = [t.strip() for t in _text(form, "tags").split(",") if t.strip()]
    return values


async def _edit_page(
    request: Request,
    session: AsyncSession,
    principal: Principal,
    slug: str,
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
) -> Response:
    async with session.begin():
        found = await service.get_service(session, principal, slug)
        teams = await team_names(session, principal)
    if found.managed:
        raise Conflict(f"service '{slug}' is managed by its catalog document: change it there")
    if not can_edit(principal, found):
        raise Forbidden("requires the operator role in the team that owns this service")
    owner = teams.get(found.team_id)
    current = {
        **{name: getattr(found, name) or "" for name in _TEXT},
        "lifecycle": found.lifecycle,
        "tier": str(found.tier),
        "team": owner.slug if owner else "",
        "tags": list(found.tags),
    }
    shown = {**current, **{k: v or "" for k, v in (values or {}).items()}}
    shown["tags"] = ", ".join(shown["tags"] or [])
    context = {
        "service": found,
        "values": shown,
        "errors": errors or {},
        "teams": list(teams.values()),
        "lifecycles": [lc.value for lc in Lifecycle],
        "action": f"{service_path(slug)}/edit",
        "back_url": service_path(slug),
    }
    return render(request, "services/edit.html", context, status_code=422 if errors else 200)


@router.get(SERVICES + "/{slug}/edit")
async def edit_form(
    request: Request, slug: str, principal: PagePrincipal, session: SessionDep
) -> Response:
    return await _edit_page(request, session, principal, slug)


@router.post(SERVICES + "/{slug}/edit", dependencies=[CsrfChecked])
async def edit_service(
    request: Request, slug: str, principal: PagePrincipal, session: SessionDep
) -> Response:
    values = _edit_values(await request.form())
    body, errors = _parse(schemas.ServiceUpdate, values)
    if body is None:
        return await _edit_page(request, session, principal, slug, values, errors)
    try:
        async with session.begin():
            await service.update_service(session, principal, slug, body)
    except InvalidInput as exc:
        field = exc.details[0].field if exc.details else "form"
        return await _edit_page(request, session, principal, slug, values, {field: exc.message})
    return RedirectResponse(f"{service_path(slug)}?done=updated", status_code=303)


# --- dependencies ---------------------------------------------------------------------


def _dependency_values(form: FormData) -> dict[str, Any]:
    return {
        "target": _text(form, "target") or None,
        "target_resource": _text(form, "target_resource") or None,
        "kind": _text(form, "kind"),
        "criticality": _text(form, "criticality"),
        "description": _text(form, "description"),
    }


@router.post(SERVICES + "/{slug}/dependencies", dependencies=[CsrfChecked])
async def add_dependency(
    request: Request, slug: str, principal: PagePrincipal, session: SessionDep
) -> Response:
    values = _dependency_values(await request.form())
    body, errors = _parse(schemas.DependencyCreate, values)
    if body is not None:
        try:
            async with session.begin():
                await service.add_dependency(session, principal, slug, body)
        except (InvalidInput, Conflict) as exc:
            if not exc.details:  # a managed service: the page of error says why
                raise
            errors = {exc.details[0].field: exc.message}
    if errors:
        extra = {"dep_form": values, "dep_errors": errors}
        tab = tab_named("dependencies")
        return await render_tab(request, session, principal, slug, tab, extra=extra,
                                status_code=422)  # fmt: skip
    return RedirectResponse(
        f"{service_path(slug)}/dependencies?done=dependency-added", status_code=303
    )


@router.post(SERVICES + "/{slug}/dependencies/{dependency_id}/remove", dependencies=[CsrfChecked])
async def remove_dependency(
    slug: str, dependency_id: str, principal: PagePrincipal, session: SessionDep
) -> Response:
    try:
        target = uuid.UUID(dependency_id)
    except ValueError:
        raise NotFound("dependency not found") from None
    async with session.begin():
        await service.remove_dependency(session, principal, slug, target)
    return RedirectResponse(
        f"{service_path(slug)}/dependencies?done=dependency-removed", status_code=303
    )
