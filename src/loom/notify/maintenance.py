"""Whether a maintenance window is open at a moment: once (`starts_at` to `ends_at`) or
weekly (on its weekdays, from `start_time` for `duration_minutes`, local time in its
time zone; a window may run past midnight into the next day)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from loom.notify.models import MaintenanceWindow

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def is_open(window: MaintenanceWindow, at: datetime) -> bool:
    if window.starts_at is not None and window.ends_at is not None:
        return window.starts_at <= at < window.ends_at
    if not window.weekdays or window.start_time is None or not window.duration_minutes:
        return False
    zone = ZoneInfo(window.time_zone)
    local = at.astimezone(zone)
    length = timedelta(minutes=window.duration_minutes)
    begins = time.fromisoformat(window.start_time)
    # The opening that may cover `at` began today or on one of the days before.
    for back in range(0, length.days + 2):
        day = local.date() - timedelta(days=back)
        if WEEKDAYS[day.weekday()] not in window.weekdays:
            continue
        opened = datetime.combine(day, begins, zone)
        if opened <= local < opened + length:
            return True
    return False


def muting(
    windows: Sequence[MaintenanceWindow],
    incident_id: uuid.UUID,
    services: Iterable[str],
    at: datetime,
) -> MaintenanceWindow | None:
    """The first open window that covers the incident: a snooze of it, or a window of
    one of its `services` (or of all)."""
    names = set(services)
    for window in windows:
        if window.incident_id is not None:
            covers = window.incident_id == incident_id
        else:
            covers = not window.services or bool(names & set(window.services))
        if covers and is_open(window, at):
            return window
    return None
