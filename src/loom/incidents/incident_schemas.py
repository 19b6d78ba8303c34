"""Input shapes of the incident endpoints: the PATCH of an incident, the bodies of its
status actions, merge, split, moving an alert, and comments. Read shapes are in
`schemas`."""

from __future__ import annotations

import uuid

from pydantic import BaseModel, ConfigDict, Field

from loom.incidents.kinds import IncidentStatus, Severity

MAX_NOTE = 10_000


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid")


class IncidentUpdate(_Input):
    """`PATCH /incidents/{ref}`: only the fields sent change. `severity: null` clears the
    override (the severity is its alerts' again), `assignee: null` unassigns."""

    title: str | None = Field(default=None, min_length=1, max_length=300)
    severity: Severity | None = Field(default=None, description="Override; null clears it")
    assignee: str | None = Field(
        default=None, max_length=320, description="A member's email; null unassigns"
    )
    hold_open: bool | None = Field(default=None, description="Keep it open when its alerts resolve")
    status: IncidentStatus | None = None
    note: str | None = Field(default=None, max_length=MAX_NOTE)


class StatusChange(_Input):
    """The body of `/ack`, `/investigate`, `/mitigate`, `/resolve`, `/reopen` (optional)."""

    note: str | None = Field(default=None, max_length=MAX_NOTE)


class MergeBody(_Input):
    """Merge this incident into `into` (its id, number or INC-n): every alert moves there,
    and this one resolves as merged."""

    into: str = Field(min_length=1, max_length=64)
    note: str | None = Field(default=None, max_length=MAX_NOTE)


class SplitBody(_Input):
    """Move `alerts` of this incident into a new incident."""

    alerts: list[uuid.UUID] = Field(min_length=1, max_length=1000)
    note: str | None = Field(default=None, max_length=MAX_NOTE)


class MoveAlertBody(_Input):
    """Move one alert of this incident to the incident `to` (id, number or INC-n)."""

    alert: uuid.UUID
    to: str = Field(min_length=1, max_length=64)


class CommentBody(_Input):
    body: str = Field(min_length=1, max_length=MAX_NOTE)
