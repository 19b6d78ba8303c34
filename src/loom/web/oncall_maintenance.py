"""The maintenance page: maintenance windows (once, weekly or cron) and snoozes (open now
or not), a form to add a one-off window, one to snooze a service for some minutes, and
Delete. Each form posts through the notify services the API calls (`maintenance_service`),
so who may act, validation and the audit entry are the same; a refusal the person can fix
comes back as the page with the message naming the field."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, TypeVar

from fastapi import Request
from pydantic import BaseModel, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import FormData
from starlette.responses import RedirectResponse, Response

from loom.api.deps import SessionDep
from loom.api.errors import status_of
from loom.auth.principal import Principal
from loom.errors import Conflict, FieldIssue, InvalidInput, field_path
from loom.incidents import responders
from loom.notify import maintenance_service, schemas, views
from loom.notify.models import MaintenanceWindow
from loom.web.deps import CsrfChecked, PagePrincipal
from loom.web.oncall_rows import ONCALL, VIEWS
from loom.web.oncall_settings import manages
from loom.web.routing import page_router
from loom.web.templating import render
from loom.web.timefmt import moment

router = page_router()

MAINTENANCE = ONCALL + "/maintenance"
LIMIT = 200
M = TypeVar("M", bound=BaseModel)
#: The forms' fields, blank (a refused post shows what was typed instead).
FIELDS = ("name", "team", "services", "starts_at", "ends_at", "service", "minutes")
DONE = {"window": "Maintenance window added.", "snooze": "Snoozed.", "deleted": "Deleted."}


def _text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def _moment(value: str) -> datetime | str | None:
    """A `datetime-local` value, read as UTC (the portal shows times in UTC); what is not
    one is left for the schema to refuse, naming the field."""
    if not value:
        return None
    try:
        return datetime.fromisoformat(value).replace(tzinfo=UTC)
    except ValueError:
        return value


def _checked(model: type[M], data: dict[str, Any]) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as error:
        issues = [FieldIssue(field_path(e["loc"]), e["msg"]) for e in error.errors()]
        raise InvalidInput(f"{issues[0].field}: {issues[0].issue}", issues) from None


def _length(minutes: int | None) -> str:
    """90 → "1 h 30 min", 120 → "2 h", 45 → "45 min"."""
    hours, rest = divmod(minutes or 0, 60)
    parts = [f"{hours} h"] if hours else []
    if rest or not hours:
        parts.append(f"{rest} min")
    return " ".join(parts)


def _window(w: schemas.Maintenance, team_id: uuid.UUID | None) -> dict[str, Any]:
    return {
        **w.model_dump(include={"name", "team", "services", "weekdays", "start_time",
                                "duration_minutes", "cron", "time_zone", "open_now"}),
        "id": str(w.id), "team_id": team_id, "snooze": w.incident_id is not None,
        "starts": moment(w.starts_at), "ends": moment(w.ends_at),
        "length": _length(w.duration_minutes),
    }  # fmt: skip


async def page_context(session: AsyncSession, principal: Principal) -> dict[str, Any]:
    stmt = maintenance_service.list_query(principal).order_by(
        MaintenanceWindow.name, MaintenanceWindow.id
    )
    rows = list(await session.scalars(stmt.limit(LIMIT)))
    windows = []
    for row, shown in zip(rows, await views.maintenance_out(session, rows), strict=True):
        window = _window(shown, row.team_id)
        window["may_delete"] = await manages(session, principal, row.team_id)
        windows.append(window)
    may_add = await manages(session, principal, None) or any(
        [await manages(session, principal, t) for t in principal.team_ids]
    )
    return {
        "views": VIEWS, "current_view": "maintenance", "windows": windows,
        "may_add": may_add, "may_snooze": responders.may_act(principal),
        "maintenance_url": MAINTENANCE, "form_error": None, "form": dict.fromkeys(FIELDS, ""),
    }  # fmt: skip


async def _page(
    request: Request, session: AsyncSession, principal: Principal, *,
    extra: dict[str, Any] | None = None, status_code: int = 200,
) -> Response:  # fmt: skip
    async with session.begin():
        context = await page_context(session, principal)
    context["notice"] = DONE.get(request.query_params.get("done", ""))
    return render(request, "oncall/maintenance.html", {**context, **(extra or {})},
                  status_code=status_code)  # fmt: skip


@router.get(MAINTENANCE)
async def maintenance_page(
    request: Request, principal: PagePrincipal, session: SessionDep
) -> Response:
    return await _page(request, session, principal)


@router.post(MAINTENANCE, dependencies=[CsrfChecked])
async def add_window(request: Request, principal: PagePrincipal, session: SessionDep) -> Response:
    form = await request.form()
    kept = {k: _text(form, k) for k in ("name", "team", "services", "starts_at", "ends_at")}
    try:
        body = _checked(schemas.MaintenanceIn, {
            "name": kept["name"], "team": kept["team"] or None,
            "services": [s.strip() for s in kept["services"].split(",") if s.strip()],
            "starts_at": _moment(kept["starts_at"]), "ends_at": _moment(kept["ends_at"]),
        })  # fmt: skip
        async with session.begin():
            await maintenance_service.create_window(session, principal, body)
    except (InvalidInput, Conflict) as exc:
        return await _page(request, session, principal, status_code=status_of(exc),
                           extra={"form_error": exc.message,
                                  "form": {**dict.fromkeys(FIELDS, ""), **kept}})  # fmt: skip
    return RedirectResponse(f"{MAINTENANCE}?done=window", status_code=303)


@router.post(ONCALL + "/snoozes", dependencies=[CsrfChecked])
async def snooze(request: Request, principal: PagePrincipal, session: SessionDep) -> Response:
    form = await request.form()
    kept = {k: _text(form, k) for k in ("service", "minutes")}
    try:
        if not kept["service"]:
            raise InvalidInput.on("service", "the service to snooze")
        body = _checked(schemas.SnoozeIn, {"service": kept["service"] or None,
                                           "minutes": kept["minutes"]})  # fmt: skip
        async with session.begin():
            await maintenance_service.snooze(
                session, principal, incident=None, service=body.service, minutes=body.minutes
            )
    except (InvalidInput, Conflict) as exc:
        return await _page(request, session, principal, status_code=status_of(exc),
                           extra={"form_error": exc.message,
                                  "form": {**dict.fromkeys(FIELDS, ""), **kept}})  # fmt: skip
    return RedirectResponse(f"{MAINTENANCE}?done=snooze", status_code=303)


@router.post(MAINTENANCE + "/{window_id}/delete", dependencies=[CsrfChecked])
async def delete_window(
    window_id: uuid.UUID, principal: PagePrincipal, session: SessionDep
) -> Response:
    async with session.begin():
        await maintenance_service.delete_window(session, principal, window_id)
    return RedirectResponse(f"{MAINTENANCE}?done=deleted", status_code=303)
