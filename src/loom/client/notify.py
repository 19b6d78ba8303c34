"""Notifications: channels (create, list, change, delete, send a test message) and the
notification log (every delivery attempt)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime
from typing import Any
from urllib.parse import quote

from loom.client.base import HttpCore, parse
from loom.client.errors import ApiError
from loom.client.models import ApiModel
from loom.client.pagination import Page, iterate


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


class Shift(ApiModel):
    user: str
    starts_at: datetime
    ends_at: datetime
    source: str


class OnCall(ApiModel):
    schedule: str
    at: datetime
    shift: Shift | None = None


class ScheduleInfo(ApiModel):
    id: uuid.UUID
    name: str
    team: str | None = None
    time_zone: str
    layers: list[dict[str, Any]] = []


class NotifyApi:
    def __init__(self, core: HttpCore) -> None:
        self._core = core

    def channels(self, *, limit: int | None = None, cursor: str | None = None) -> Page[Channel]:
        return self._core.get(
            "/notify/channels", Page[Channel], params={"limit": limit, "cursor": cursor}
        )

    def channel(self, channel: str) -> Channel:
        """A channel by id or name."""
        return self._core.get(f"/notify/channels/{self._id(channel)}", Channel)

    def create_channel(
        self, name: str, kind: str, *, config: dict[str, Any] | None = None,
        secrets: dict[str, str] | None = None, team: str | None = None, enabled: bool = True,
    ) -> Channel:  # fmt: skip
        body = {"name": name, "kind": kind, "config": config or {}, "secrets": secrets or {},
                "team": team, "enabled": enabled}  # fmt: skip
        return self._core.post("/notify/channels", Channel, json=body, ok=(201,))

    def update_channel(self, channel: str, **changes: Any) -> Channel:
        """Change `name`, `config`, `secrets` (those named) or `enabled`."""
        body = {k: v for k, v in changes.items() if v is not None}
        return parse(
            self._core.request("PATCH", f"/notify/channels/{self._id(channel)}", json=body),
            Channel,
        )

    def delete_channel(self, channel: str) -> None:
        self._core.request("DELETE", f"/notify/channels/{self._id(channel)}", ok=(204,))

    def test(self, channel: str) -> TestQueued:
        """Queue a test message to the channel; its attempts show in `log`."""
        return self._core.post(f"/notify/channels/{self._id(channel)}/test", TestQueued, ok=(202,))

    def log(
        self, *, channel: str | None = None, delivery: str | None = None,
        status: str | None = None, limit: int | None = None, cursor: str | None = None,
    ) -> Page[Notification]:  # fmt: skip
        """One page of the notification log, newest first."""
        params = {"channel": self._id(channel) if channel else None, "delivery": delivery,
                  "status": status, "limit": limit, "cursor": cursor}  # fmt: skip
        return self._core.get("/notify/notifications", Page[Notification], params=params)

    def iter_log(self, *, page_size: int = 100, **filters: Any) -> Iterator[Notification]:
        return iterate(lambda cursor: self.log(limit=page_size, cursor=cursor, **filters))

    def schedules(self) -> list[ScheduleInfo]:
        return self._core.get_list("/notify/schedules", ScheduleInfo)

    def on_call(self, schedule: str, at: datetime | None = None) -> OnCall:
        """Who is on call on `schedule` (name or id) now, or at `at`."""
        return self._core.get(
            f"/notify/schedules/{quote(schedule, safe='')}/oncall", OnCall, params={"at": at}
        )

    def shifts(self, schedule: str, start: datetime, end: datetime) -> list[Shift]:
        response = self._core.request(
            "GET", f"/notify/schedules/{quote(schedule, safe='')}/shifts",
            params={"start": start, "end": end},
        )  # fmt: skip
        return [Shift.model_validate(s) for s in response.json()]

    def _id(self, channel: str) -> str:
        """A channel's id, given its id or its name."""
        try:
            return str(uuid.UUID(channel))
        except ValueError:
            pass
        for found in iterate(lambda cursor: self.channels(limit=200, cursor=cursor)):
            if found.name == channel:
                return str(found.id)
        raise ApiError(404, "NOT_FOUND", f"no channel named '{channel}'")
