"""Notification endpoints: channels (CRUD and a test message), rules, the notification
log, and an incident's notifications."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response, status

from loom.api.deps import CurrentPrincipal, RuntimeDep, SessionDep
from loom.api.pagination import Page, PageDep, page_body, paginate
from loom.incidents.queries import get_incident
from loom.notify import channels_service as channels
from loom.notify import maintenance_service, schemas, views
from loom.notify import policies_service as policies
from loom.notify import rules_service as rules
from loom.notify.delivery import NOTIFY_QUEUE
from loom.notify.kinds import AttemptStatus
from loom.notify.log_service import ORDER, log_query
from loom.notify.models import Channel, MaintenanceWindow, Policy, Rule
from loom.queue.factory import queue_for
from loom.secrets.crypto import derive_key

router = APIRouter(prefix="/notify", tags=["notify"])
incident_router = APIRouter(prefix="/incidents", tags=["notify"])


@router.get("/channels", responses={200: {"model": Page[schemas.Channel]}})
async def list_channels(
    principal: CurrentPrincipal, session: SessionDep, page: PageDep
) -> dict[str, Any]:
    async with session.begin():
        rows, cursor = await paginate(
            session, channels.list_query(principal), [Channel.name, Channel.id], page,
            descending=False,
        )  # fmt: skip
        items = await views.channels_out(session, rows)
    return page_body(items, cursor, page)


@router.post("/channels", response_model=schemas.Channel, status_code=status.HTTP_201_CREATED)
async def create_channel(
    body: schemas.ChannelCreate, principal: CurrentPrincipal, session: SessionDep,
    runtime: RuntimeDep,
) -> schemas.Channel:  # fmt: skip
    key = derive_key(runtime.settings.secret_key.get_secret_value())
    async with session.begin():
        channel = await channels.create_channel(
            session, key, principal, name=body.name, kind=body.kind.value, team=body.team,
            config=body.config, secret_values=body.secrets, enabled=body.enabled,
        )  # fmt: skip
        return (await views.channels_out(session, [channel]))[0]


@router.get("/channels/{channel_id}", response_model=schemas.Channel)
async def get_channel(
    channel_id: uuid.UUID, principal: CurrentPrincipal, session: SessionDep
) -> schemas.Channel:
    async with session.begin():
        channel = await channels.get_channel(session, principal, channel_id)
        return (await views.channels_out(session, [channel]))[0]


@router.patch("/channels/{channel_id}", response_model=schemas.Channel)
async def update_channel(
    channel_id: uuid.UUID, body: schemas.ChannelUpdate, principal: CurrentPrincipal,
    session: SessionDep, runtime: RuntimeDep,
) -> schemas.Channel:  # fmt: skip
    key = derive_key(runtime.settings.secret_key.get_secret_value())
    async with session.begin():
        channel = await channels.update_channel(
            session, key, principal, channel_id, name=body.name, config=body.config,
            secret_values=body.secrets, enabled=body.enabled,
        )  # fmt: skip
        return (await views.channels_out(session, [channel]))[0]


@router.delete("/channels/{channel_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_channel(
    channel_id: uuid.UUID, principal: CurrentPrincipal, session: SessionDep
) -> Response:
    async with session.begin():
        await channels.delete_channel(session, principal, channel_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/channels/{channel_id}/test", response_model=schemas.TestQueued,
    status_code=status.HTTP_202_ACCEPTED,
)  # fmt: skip
async def test_channel(
    channel_id: uuid.UUID, principal: CurrentPrincipal, session: SessionDep, runtime: RuntimeDep
) -> schemas.TestQueued:
    """Queue a test message; its attempts show in `GET /notify/notifications`."""
    async with session.begin():
        delivery_id = await channels.send_test(
            session, queue_for(runtime, NOTIFY_QUEUE), principal, channel_id,
            portal_url=runtime.settings.server.public_url or "http://loom.local",
        )  # fmt: skip
    return schemas.TestQueued(delivery_id=delivery_id)


@router.get("/rules", responses={200: {"model": Page[schemas.Rule]}})
async def list_rules(
    principal: CurrentPrincipal, session: SessionDep, page: PageDep
) -> dict[str, Any]:
    """The rules the caller sees, in the order they are tried."""
    async with session.begin():
        rows, cursor = await paginate(
            session, rules.list_query(principal), [Rule.position, Rule.name, Rule.id], page,
            descending=False,
        )  # fmt: skip
        items = await views.rules_out(session, rows)
    return page_body(items, cursor, page)


@router.post("/rules", response_model=schemas.Rule, status_code=status.HTTP_201_CREATED)
async def create_rule(
    body: schemas.RuleIn, principal: CurrentPrincipal, session: SessionDep
) -> schemas.Rule:
    async with session.begin():
        rule = await rules.save_rule(session, principal, body)
        return (await views.rules_out(session, [rule]))[0]


@router.get("/rules/{rule_id}", response_model=schemas.Rule)
async def get_rule(
    rule_id: uuid.UUID, principal: CurrentPrincipal, session: SessionDep
) -> schemas.Rule:
    async with session.begin():
        rule = await rules.get_rule(session, principal, rule_id)
        return (await views.rules_out(session, [rule]))[0]


@router.put("/rules/{rule_id}", response_model=schemas.Rule)
async def replace_rule(
    rule_id: uuid.UUID, body: schemas.RuleIn, principal: CurrentPrincipal, session: SessionDep
) -> schemas.Rule:
    async with session.begin():
        rule = await rules.save_rule(session, principal, body, rule_id)
        return (await views.rules_out(session, [rule]))[0]


@router.delete("/rules/{rule_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_rule(
    rule_id: uuid.UUID, principal: CurrentPrincipal, session: SessionDep
) -> Response:
    async with session.begin():
        await rules.delete_rule(session, principal, rule_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/policies", responses={200: {"model": Page[schemas.Policy]}})
async def list_policies(
    principal: CurrentPrincipal, session: SessionDep, page: PageDep
) -> dict[str, Any]:
    async with session.begin():
        rows, cursor = await paginate(
            session, policies.list_query(principal), [Policy.name, Policy.id], page,
            descending=False,
        )  # fmt: skip
        items = await views.policies_out(session, rows)
    return page_body(items, cursor, page)


@router.post("/policies", response_model=schemas.Policy, status_code=status.HTTP_201_CREATED)
async def create_policy(
    body: schemas.PolicyIn, principal: CurrentPrincipal, session: SessionDep
) -> schemas.Policy:
    async with session.begin():
        policy = await policies.save_policy(session, principal, body)
        return (await views.policies_out(session, [policy]))[0]


@router.put("/policies/{policy_id}", response_model=schemas.Policy)
async def replace_policy(
    policy_id: uuid.UUID, body: schemas.PolicyIn, principal: CurrentPrincipal,
    session: SessionDep,
) -> schemas.Policy:  # fmt: skip
    async with session.begin():
        policy = await policies.save_policy(session, principal, body, policy_id)
        return (await views.policies_out(session, [policy]))[0]


@router.delete("/policies/{policy_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_policy(
    policy_id: uuid.UUID, principal: CurrentPrincipal, session: SessionDep
) -> Response:
    async with session.begin():
        await policies.delete_policy(session, principal, policy_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/maintenance", responses={200: {"model": Page[schemas.Maintenance]}})
async def list_maintenance(
    principal: CurrentPrincipal, session: SessionDep, page: PageDep
) -> dict[str, Any]:
    """Maintenance windows, with whether each is open now."""
    async with session.begin():
        rows, cursor = await paginate(
            session, maintenance_service.list_query(principal),
            [MaintenanceWindow.name, MaintenanceWindow.id], page, descending=False,
        )  # fmt: skip
        items = await views.maintenance_out(session, rows)
    return page_body(items, cursor, page)


@router.post(
    "/maintenance", response_model=schemas.Maintenance, status_code=status.HTTP_201_CREATED
)
async def create_maintenance(
    body: schemas.MaintenanceIn, principal: CurrentPrincipal, session: SessionDep
) -> schemas.Maintenance:
    async with session.begin():
        window = await maintenance_service.create_window(session, principal, body)
        return (await views.maintenance_out(session, [window]))[0]


@router.put("/maintenance/{window_id}", response_model=schemas.Maintenance)
async def replace_maintenance(
    window_id: uuid.UUID, body: schemas.MaintenanceIn, principal: CurrentPrincipal,
    session: SessionDep,
) -> schemas.Maintenance:  # fmt: skip
    """Replace a window with `body` (validated as when created)."""
    async with session.begin():
        window = await maintenance_service.update_window(session, principal, window_id, body)
        return (await views.maintenance_out(session, [window]))[0]


@router.post("/snoozes", response_model=schemas.Maintenance, status_code=status.HTTP_201_CREATED)
async def snooze(
    body: schemas.SnoozeIn, principal: CurrentPrincipal, session: SessionDep
) -> schemas.Maintenance:
    """Mute one incident, or one service, from now for `minutes` (logged as muted)."""
    async with session.begin():
        window = await maintenance_service.snooze(
            session, principal, incident=body.incident, service=body.service,
            minutes=body.minutes,
        )  # fmt: skip
        return (await views.maintenance_out(session, [window]))[0]


@router.delete("/maintenance/{window_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_maintenance(
    window_id: uuid.UUID, principal: CurrentPrincipal, session: SessionDep
) -> Response:
    async with session.begin():
        await maintenance_service.delete_window(session, principal, window_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/notifications", responses={200: {"model": Page[schemas.Notification]}})
async def list_notifications(
    principal: CurrentPrincipal,
    session: SessionDep,
    page: PageDep,
    channel: Annotated[uuid.UUID | None, Query()] = None,
    delivery: Annotated[uuid.UUID | None, Query()] = None,
    status: Annotated[AttemptStatus | None, Query()] = None,
) -> dict[str, Any]:
    """The notification log the caller sees (`log_service`), newest first (`status=dead`:
    what needs a person)."""
    stmt = log_query(principal, channel=channel, delivery=delivery, status=status)
    async with session.begin():
        rows, cursor = await paginate(session, stmt, list(ORDER), page)
    return page_body([views.notification_out(r) for r in rows], cursor, page)


@incident_router.get(
    "/{incident}/notifications", responses={200: {"model": Page[schemas.Notification]}}
)
async def incident_notifications(
    incident: str, principal: CurrentPrincipal, session: SessionDep, page: PageDep
) -> dict[str, Any]:
    """Every attempt to notify about the incident (`INC-42` or its id), newest first."""
    async with session.begin():
        found = await get_incident(session, principal, incident)
        stmt = log_query(principal, incident_id=found.id)
        rows, cursor = await paginate(session, stmt, list(ORDER), page)
    return page_body([views.notification_out(r) for r in rows], cursor, page)
