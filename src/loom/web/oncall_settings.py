"""The notification settings pages: rules (in the order they are tried, with their
events, conditions, channels, policy and stop) and channels (kind, team, enabled), each
channel with a "Send test" button for those who manage it. The test goes through
`channels_service.send_test`, as `POST /api/v1/notify/channels/{id}/test` does: a
message on the notifications queue, whose attempts show in the notification log."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Query, Request
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import RedirectResponse, Response

from loom.api.deps import RuntimeDep, SessionDep
from loom.auth.principal import Principal
from loom.errors import Forbidden, NotFound
from loom.notify import channels_service, rules_service, views
from loom.notify.delivery import NOTIFY_QUEUE
from loom.notify.models import Channel, Rule
from loom.queue.factory import queue_for
from loom.web.deps import CsrfChecked, PagePrincipal
from loom.web.oncall_rows import ONCALL, VIEWS
from loom.web.routing import page_router
from loom.web.templating import render

router = page_router()

RULES = ONCALL + "/rules"
CHANNELS = ONCALL + "/channels"
LIMIT = 200
#: The fields of a rule that are not its conditions (everything else the API shows is).
_NOT_CONDITIONS = {"id", "name", "team", "position", "events", "channels", "policy", "stop",
                   "enabled", "max_per_hour", "created_by", "created_at"}  # fmt: skip


async def manages(session: AsyncSession, principal: Principal, team_id: uuid.UUID | None) -> bool:
    """Whether the caller manages what `team_id` owns (the service's own check)."""
    try:
        await channels_service.require_manager(session, principal, team_id)
    except (Forbidden, NotFound):
        return False
    return True


@router.get(RULES)
async def rules_page(request: Request, principal: PagePrincipal, session: SessionDep) -> Response:
    async with session.begin():
        stmt = rules_service.list_query(principal).order_by(Rule.position, Rule.name, Rule.id)
        shown = await views.rules_out(session, list(await session.scalars(stmt.limit(LIMIT))))
    rules = [
        {**r.model_dump(include={"name", "team", "position", "events", "channels", "policy",
                                 "stop", "enabled", "max_per_hour"}),
         "conditions": {k: v for k, v in r.model_dump(mode="json").items()
                        if k not in _NOT_CONDITIONS and v}}
        for r in shown
    ]  # fmt: skip
    context = {"views": VIEWS, "current_view": "rules", "rules": rules}
    return render(request, "oncall/rules.html", context)


@router.get(CHANNELS)
async def channels_page(
    request: Request,
    principal: PagePrincipal,
    session: SessionDep,
    tested: Annotated[str, Query(max_length=100)] = "",
) -> Response:
    async with session.begin():
        stmt = channels_service.list_query(principal).order_by(Channel.name, Channel.id)
        rows = list(await session.scalars(stmt.limit(LIMIT)))
        shown = await views.channels_out(session, rows)
        channels = [
            {"id": str(c.id), "name": c.name, "kind": c.kind.value, "team": c.team,
             "enabled": c.enabled, "may_test": await manages(session, principal, row.team_id)}
            for row, c in zip(rows, shown, strict=True)
        ]  # fmt: skip
    context = {"views": VIEWS, "current_view": "channels", "channels": channels,
               "tested": next((c["name"] for c in channels if c["id"] == tested), None),
               "channels_url": CHANNELS}  # fmt: skip
    return render(request, "oncall/channels.html", context)


@router.post(CHANNELS + "/{channel_id}/test", dependencies=[CsrfChecked])
async def send_test(
    request: Request,
    channel_id: uuid.UUID,
    principal: PagePrincipal,
    session: SessionDep,
    runtime: RuntimeDep,
) -> Response:
    async with session.begin():
        await channels_service.send_test(
            session, queue_for(runtime, NOTIFY_QUEUE), principal, channel_id,
            portal_url=runtime.settings.server.public_url or str(request.base_url).rstrip("/"),
        )  # fmt: skip
    return RedirectResponse(f"{CHANNELS}?tested={channel_id}", status_code=303)
