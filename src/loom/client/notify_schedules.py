"""`client.notify` for on-call schedules (layers of rotations, overrides, who is on call,
the shifts ahead), maintenance windows and snoozes (a window from now of one incident or
one service)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any
from urllib.parse import quote

from loom.client.base import parse, parse_as
from loom.client.notify_base import NotifyBase, body
from loom.client.notify_models import Maintenance, OnCall, Override, Schedule, Shift
from loom.client.pagination import Page

SCHEDULES = "/notify/schedules"
MAINTENANCE = "/notify/maintenance"


def _schedule(ref: str) -> str:
    """The path of a schedule: the API takes its name or its id."""
    return f"{SCHEDULES}/{quote(ref, safe='')}"


class SchedulesApi(NotifyBase):
    def schedules(self) -> list[Schedule]:
        """Every schedule you see, by name."""
        return self._core.get_list(SCHEDULES, Schedule)

    def schedule(self, schedule: str) -> Schedule:
        return self._core.get(_schedule(schedule), Schedule)

    def create_schedule(
        self, name: str, time_zone: str, layers: Sequence[Mapping[str, Any]], *,
        team: str | None = None, **fields: Any,
    ) -> Schedule:  # fmt: skip
        """A schedule: `layers` (lowest priority first) like `{"rotation": "weekly",
        "handoff": "09:00", "start": "2026-11-02", "users": ["ann@example.com"]}`."""
        sent = body(name=name, time_zone=time_zone, layers=list(layers), team=team, **fields)
        return self._core.post(SCHEDULES, Schedule, json=sent, ok=(201,))

    def replace_schedule(self, schedule: str, fields: Mapping[str, Any]) -> Schedule:
        return parse(self._core.request("PUT", _schedule(schedule), json=body(**fields)), Schedule)

    def delete_schedule(self, schedule: str) -> None:
        self._core.request("DELETE", _schedule(schedule), ok=(204,))

    def add_override(
        self, schedule: str, user: str, starts_at: datetime, ends_at: datetime
    ) -> Override:
        """Put `user` (an e-mail) on call instead, from `starts_at` to `ends_at`."""
        sent = body(user=user, starts_at=starts_at, ends_at=ends_at)
        return self._core.post(f"{_schedule(schedule)}/overrides", Override, json=sent, ok=(201,))

    def overrides(self, schedule: str, *, include_past: bool = False) -> list[Override]:
        """The overrides of `schedule` running now or ahead (`include_past`: all), by
        start."""
        params = {"include_past": include_past}
        return self._core.get_list(f"{_schedule(schedule)}/overrides", Override, params=params)

    def delete_override(self, schedule: str, override: str) -> None:
        """Remove an override (by id): the schedule's layers cover its time again."""
        path = f"{_schedule(schedule)}/overrides/{quote(override, safe='')}"
        self._core.request("DELETE", path, ok=(204,))

    def on_call(self, schedule: str, at: datetime | None = None) -> OnCall:
        """Who is on call on `schedule` (name or id) now, or at `at`."""
        return self._core.get(f"{_schedule(schedule)}/oncall", OnCall, params={"at": at})

    def shifts(self, schedule: str, start: datetime, end: datetime) -> list[Shift]:
        """The shifts between `start` and `end` (at most 92 days)."""
        response = self._core.request(
            "GET", f"{_schedule(schedule)}/shifts", params={"start": start, "end": end}
        )
        return parse_as(response, list[Shift])

    def maintenance_windows(
        self, *, limit: int | None = None, cursor: str | None = None
    ) -> Page[Maintenance]:
        """One page of maintenance windows (snoozes too), by name, with `open_now`."""
        params = {"limit": limit, "cursor": cursor}
        return self._core.get(MAINTENANCE, Page[Maintenance], params=params)

    def create_maintenance(
        self, name: str, *, services: Sequence[str] | None = None,
        starts_at: datetime | None = None, ends_at: datetime | None = None,
        weekdays: Sequence[str] | None = None, start_time: str | None = None,
        duration_minutes: int | None = None, time_zone: str | None = None,
        cron: str | None = None, team: str | None = None, **fields: Any,
    ) -> Maintenance:  # fmt: skip
        """A window once (`starts_at`, `ends_at`), weekly (`weekdays` like "sat",
        `start_time` "HH:MM", `duration_minutes`, `time_zone`) or cron (`cron` like
        "0 2 * * 6", `duration_minutes`, `time_zone`); no `services`: all."""
        sent = body(
            name=name, services=services, starts_at=starts_at, ends_at=ends_at,
            weekdays=weekdays, start_time=start_time, duration_minutes=duration_minutes,
            cron=cron, time_zone=time_zone, team=team, **fields,
        )  # fmt: skip
        return self._core.post(MAINTENANCE, Maintenance, json=sent, ok=(201,))

    def delete_maintenance(self, window: str) -> None:
        """Remove a window (by id or name): a snooze removed ends early."""
        path = f"{MAINTENANCE}/{self._ref(MAINTENANCE, window, 'maintenance window')}"
        self._core.request("DELETE", path, ok=(204,))

    def snooze(
        self, minutes: int, *, incident: str | None = None, service: str | None = None
    ) -> Maintenance:
        """Mute one incident (INC-42 or id) or one service (slug) from now for
        `minutes`."""
        sent = body(incident=incident, service=service, minutes=minutes)
        return self._core.post("/notify/snoozes", Maintenance, json=sent, ok=(201,))
