"""Notification resources as the API shows them: channels, the notification log, rules,
escalation policies, on-call schedules, overrides, contact methods and maintenance
windows.

Every model keeps fields it does not know (see `ApiModel`), and most fields have
defaults, so a newer server (new rule conditions, new policy targets) still parses."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from loom.client.models import ApiModel


class Named(ApiModel):
    """Just enough of any notify resource to find it by name."""

    id: uuid.UUID
    name: str


class Channel(ApiModel):
    id: uuid.UUID
    name: str
    kind: str
    team: str | None = None
    config: dict[str, Any] = {}
    #: Each secret setting that is set, masked.
    secrets: dict[str, str] = {}
    enabled: bool
    created_by: str = ""
    created_at: datetime
    updated_at: datetime


class TestQueued(ApiModel):
    delivery_id: uuid.UUID
    status: str


class Notification(ApiModel):
    id: uuid.UUID
    delivery_id: uuid.UUID
    channel_id: uuid.UUID | None = None
    channel: str
    channel_kind: str
    incident_id: uuid.UUID | None = None
    event: str
    target: str = ""
    status: str
    attempt: int
    remote_ref: str | None = None
    http_status: int | None = None
    response: str = ""
    error: str = ""
    latency_ms: int = 0
    event_at: datetime
    created_at: datetime


#: Fields the server sets on a rule, a policy or a schedule: never sent back in a PUT.
SERVER_FIELDS = frozenset({"id", "created_by", "created_at", "updated_at"})


class Writable(ApiModel):
    def body(self) -> dict[str, Any]:
        """What `PUT` takes to store this resource again: every field (the unknown ones
        too, e.g. conditions of a newer server) except those the server sets."""
        data = self.model_dump(mode="json")
        return {k: v for k, v in data.items() if k not in SERVER_FIELDS}


class Rule(Writable):
    id: uuid.UUID
    name: str
    team: str | None = None
    position: int = 100
    events: list[str] = []
    severities: list[str] = []
    services: list[str] = []
    environments: list[str] = []
    #: Channel names.
    channels: list[str] = []
    #: The escalation policy's name.
    policy: str | None = None
    stop: bool = False
    enabled: bool = True
    max_per_hour: int = 10
    created_by: str = ""
    created_at: datetime


class PolicyLevel(ApiModel):
    #: Minutes after the level before (the first: after the incident opened).
    delay_minutes: float = 0
    channels: list[str] = []


class Policy(Writable):
    id: uuid.UUID
    name: str
    team: str | None = None
    levels: list[PolicyLevel] = []
    repeat: int = 0
    created_by: str = ""
    created_at: datetime


class Layer(ApiModel):
    name: str = "primary"
    rotation: str
    handoff: str = "09:00"
    start: date
    #: E-mail addresses, in rotation order.
    users: list[str] = []


class Schedule(Writable):
    id: uuid.UUID
    name: str
    team: str | None = None
    time_zone: str
    layers: list[Layer] = []
    created_by: str = ""
    created_at: datetime


#: The name `client.notify.schedules()` returned before schedules had their own commands.
ScheduleInfo = Schedule


class Override(ApiModel):
    id: uuid.UUID
    user: str
    starts_at: datetime
    ends_at: datetime
    created_by: str = ""


class ContactMethod(ApiModel):
    """One way of paging a person: an e-mail, or a Slack DM (`address` a member id),
    carried by `channel` (its name); used in `position` order."""

    id: uuid.UUID
    user: str
    kind: str
    address: str
    channel: str
    position: int = 0
    created_at: datetime


class Shift(ApiModel):
    user: str
    starts_at: datetime
    ends_at: datetime
    #: The layer's name, or "override".
    source: str


class OnCall(ApiModel):
    schedule: str
    at: datetime
    #: None: nobody is on call then.
    shift: Shift | None = None


class Maintenance(ApiModel):
    """A maintenance window: once (`starts_at` to `ends_at`), weekly (`weekdays`,
    `start_time`, `duration_minutes`, `time_zone`) or cron (`cron`, `duration_minutes`,
    `time_zone`); a snooze is a once window of one
    incident (`incident_id`) or one service."""

    id: uuid.UUID
    name: str
    team: str | None = None
    #: Service slugs; none: every service.
    services: list[str] = []
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    weekdays: list[str] = []
    start_time: str | None = None
    duration_minutes: int | None = None
    cron: str | None = None
    time_zone: str = "UTC"
    incident_id: uuid.UUID | None = None
    open_now: bool = False
    created_by: str = ""
