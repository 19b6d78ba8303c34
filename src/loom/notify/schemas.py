"""API shapes of channels and of the notification log."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_serializer,
    model_validator,
)
from typing_extensions import TypedDict

from loom.notify.kinds import AttemptStatus, ChannelKind
from loom.notify.message import NotifyEvent

ChannelName = Annotated[
    str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9._-]{0,99}$", strip_whitespace=True)
]


class ChannelCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: ChannelName
    kind: ChannelKind
    #: The owning team (slug or id); none: the organisation's channel.
    team: str | None = None
    #: Settings of the kind (see docs/notify.md).
    config: dict[str, Any] = Field(default_factory=dict)
    #: Secret settings (tokens, webhook URLs, passwords): stored encrypted, never shown.
    secrets: dict[str, str] = Field(default_factory=dict)
    enabled: bool = True


class ChannelUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: ChannelName | None = None
    config: dict[str, Any] | None = None
    #: Replaces the secrets it names; the others stay.
    secrets: dict[str, str] | None = None
    enabled: bool | None = None


class Channel(BaseModel):
    id: uuid.UUID
    name: str
    kind: ChannelKind
    team: str | None
    config: dict[str, Any]
    #: Each secret setting that is set, masked.
    secrets: dict[str, str]
    enabled: bool
    created_by: str
    created_at: datetime
    updated_at: datetime


class TestQueued(BaseModel):
    delivery_id: uuid.UUID
    status: str = "queued"


class Notification(BaseModel):
    id: uuid.UUID
    delivery_id: uuid.UUID
    channel_id: uuid.UUID | None
    channel: str
    channel_kind: str
    incident_id: uuid.UUID | None
    event: str
    target: str
    status: AttemptStatus
    attempt: int
    remote_ref: str | None
    http_status: int | None
    response: str
    error: str
    latency_ms: int
    event_at: datetime
    created_at: datetime


Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
#: A local wall-clock time, "HH:MM".
ClockTime = Annotated[str, StringConstraints(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")]
LabelName = Annotated[str, StringConstraints(min_length=1, max_length=100)]
LabelValue = Annotated[str, StringConstraints(max_length=300)]
#: One value or a list of them (any matches), kept as a list.
LabelValues = Annotated[
    list[LabelValue],
    Field(min_length=1, max_length=50),
    BeforeValidator(lambda v: [v] if isinstance(v, str) else v),
]


TimeOfDayJSON = TypedDict(
    "TimeOfDayJSON", {"from": str, "to": str, "weekdays": list[Weekday], "time_zone": str}
)


class TimeOfDay(BaseModel):
    """A daily span of local time, e.g. out of hours: {"from": "22:00", "to": "07:00"}.
    One that ends before it starts runs past midnight; one that ends when it starts is
    the whole day. `weekdays` (none: every day) name the days a span begins on."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    from_: ClockTime = Field(alias="from")
    to: ClockTime
    weekdays: list[Weekday] = Field(default_factory=list)
    #: An IANA time zone, e.g. "Europe/Paris".
    time_zone: str = Field(default="UTC", min_length=1, max_length=64)

    @model_serializer
    def _as_written(self) -> TimeOfDayJSON:
        # "from" whether dumped by alias (responses) or not (list pages).
        return {"from": self.from_, "to": self.to, "weekdays": list(self.weekdays),
                "time_zone": self.time_zone}  # fmt: skip

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone '{value}'") from None
        return value


class RuleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: ChannelName
    #: The owning team (slug or id); none: the organisation's rule.
    team: str | None = None
    #: Rules are tried in this order (then by name).
    position: int = Field(default=100, ge=0, le=100_000)
    events: list[NotifyEvent] = Field(min_length=1)
    severities: list[Literal["critical", "warning", "info"]] = Field(default_factory=list)
    #: Service slugs: any of them among the incident's services.
    services: list[str] = Field(default_factory=list)
    environments: list[str] = Field(default_factory=list)
    #: Labels of the incident's first alert: each key must have the value given (or one
    #: of the values listed); {"team": "db", "region": ["eu-west-1", "eu-central-1"]}.
    labels: dict[LabelName, LabelValues] = Field(default_factory=dict, max_length=20)
    #: Only events that happen within this daily span (local time).
    time_of_day: TimeOfDay | None = None
    #: Channel names or ids.
    channels: list[str] = Field(default_factory=list)
    #: An escalation policy (name or id) the rule starts on incident.opened/reopened.
    policy: str | None = None
    #: Later rules are not tried once this one fires.
    stop: bool = False
    enabled: bool = True
    #: At most this many events of one incident fire the rule in an hour; the others are
    #: logged as muted.
    max_per_hour: int = Field(default=10, ge=1, le=1000)


class Rule(BaseModel):
    id: uuid.UUID
    name: str
    team: str | None
    position: int
    events: list[str]
    severities: list[str]
    services: list[str]
    environments: list[str]
    labels: dict[str, list[str]]
    time_of_day: TimeOfDay | None
    channels: list[str]
    policy: str | None
    stop: bool
    enabled: bool
    max_per_hour: int
    created_by: str
    created_at: datetime


class PolicyLevel(BaseModel):
    """Whom a level notifies: channels, and people (users, a team's members or on-call, a
    schedule's on-call) through their contact methods; at least one of them."""

    model_config = ConfigDict(extra="forbid")

    #: Minutes after the level before (the first: after the incident opened).
    delay_minutes: float = Field(default=0, ge=0, le=24 * 60)
    #: Channel names or ids.
    channels: list[str] = Field(default_factory=list, max_length=20)
    #: E-mail addresses of the organisation's users.
    users: list[str] = Field(default_factory=list, max_length=50)
    #: Team slugs (or ids): who is on call in the team's schedules, else every member.
    teams: list[str] = Field(default_factory=list, max_length=20)
    #: Schedule names (or ids): who is on call when the level fires.
    schedules: list[str] = Field(default_factory=list, max_length=20)

    @model_validator(mode="after")
    def _names_someone(self) -> PolicyLevel:
        if not (self.channels or self.users or self.teams or self.schedules):
            raise ValueError("a level needs at least one of channels, users, teams, schedules")
        return self


class PolicyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: ChannelName
    team: str | None = None
    levels: list[PolicyLevel] = Field(min_length=1, max_length=20)
    #: How many times the whole sequence runs again after its last level.
    repeat: int = Field(default=0, ge=0, le=10)


class Policy(BaseModel):
    id: uuid.UUID
    name: str
    team: str | None
    levels: list[PolicyLevel]
    repeat: int
    created_by: str
    created_at: datetime


class LayerIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(default="primary", max_length=100)
    rotation: Literal["daily", "weekly"]
    #: The local wall-clock time of the handoff, "HH:MM".
    handoff: str = Field(default="09:00", pattern=r"^([01]\d|2[0-3]):[0-5]\d$")
    #: The first shift's day (a weekly rotation hands off on this weekday).
    start: date
    #: E-mail addresses of the organisation's users, in rotation order.
    users: list[str] = Field(min_length=1, max_length=100)


class ScheduleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: ChannelName
    team: str | None = None
    #: An IANA time zone, e.g. "Europe/Paris".
    time_zone: str = Field(min_length=1, max_length=64)
    #: Lowest priority first: a higher layer with someone on call wins.
    layers: list[LayerIn] = Field(min_length=1, max_length=10)


class Schedule(BaseModel):
    id: uuid.UUID
    name: str
    team: str | None
    time_zone: str
    layers: list[LayerIn]
    created_by: str
    created_at: datetime


class OverrideIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    user: str
    starts_at: AwareDatetime
    ends_at: AwareDatetime


class Override(BaseModel):
    id: uuid.UUID
    user: str
    starts_at: datetime
    ends_at: datetime
    created_by: str


class Shift(BaseModel):
    user: str
    starts_at: datetime
    ends_at: datetime
    #: The layer's name, or "override".
    source: str


class OnCall(BaseModel):
    schedule: str
    at: datetime
    #: None: nobody (before every layer's start).
    shift: Shift | None


class MaintenanceIn(BaseModel):
    """Once (`starts_at`, `ends_at`), weekly (`weekdays`, `start_time`,
    `duration_minutes`, `time_zone`) or cron (`cron`, `duration_minutes`, `time_zone`):
    one kind only."""

    model_config = ConfigDict(extra="forbid")

    name: ChannelName
    team: str | None = None
    #: Service slugs; none: every service.
    services: list[str] = Field(default_factory=list)
    starts_at: AwareDatetime | None = None
    ends_at: AwareDatetime | None = None
    weekdays: list[Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]] = Field(
        default_factory=list
    )
    start_time: str | None = Field(default=None, pattern=r"^([01]\d|2[0-3]):[0-5]\d$")
    duration_minutes: int | None = Field(default=None, ge=1, le=7 * 24 * 60)
    #: Five fields, read in `time_zone`: "0 2 * * 6" opens every Saturday at 02:00.
    cron: str | None = Field(default=None, min_length=1, max_length=100)
    time_zone: str = "UTC"


class Maintenance(MaintenanceIn):
    id: uuid.UUID
    #: A snooze of one incident.
    incident_id: uuid.UUID | None = None
    open_now: bool
    created_by: str


class SnoozeIn(BaseModel):
    """Mute one incident or one service from now."""

    model_config = ConfigDict(extra="forbid")

    #: An incident id or INC-n.
    incident: str | None = None
    #: A service slug.
    service: str | None = None
    minutes: int = Field(ge=1, le=7 * 24 * 60)


class ContactMethodIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    #: "email": an address, carried by an e-mail channel; "slack": a member id ("U0123ABC"),
    #: a DM from a Slack channel in bot mode.
    kind: Literal["email", "slack"]
    address: str = Field(min_length=1, max_length=320)
    #: The channel that carries it (name or id).
    channel: str
    #: Whose it is (an e-mail; organisation admins only); none: the caller's.
    user: str | None = None
    #: A person's contact methods are used in this order.
    position: int = Field(default=0, ge=0, le=1000)


class ContactMethod(BaseModel):
    id: uuid.UUID
    user: str
    kind: str
    address: str
    channel: str
    position: int
    created_at: datetime
