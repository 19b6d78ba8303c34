"""Whether a maintenance window is open at a moment: once (`starts_at` to `ends_at`),
weekly (on its weekdays, from `start_time` for `duration_minutes`, local time in its
time zone; a window may run past midnight into the next day) or cron (from each time its
`cron` expression fires, local time in its time zone, for `duration_minutes`)."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from croniter import CroniterBadDateError, CroniterError, croniter

from loom.notify.models import MaintenanceWindow

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
#: croniter's "R" (random) and "H" (hashed) tokens: a window must open at the same times
#: whenever it is asked (no month or day name starts with either letter).
_UNSTABLE = re.compile(r"^[hr]", re.IGNORECASE)


def cron_problem(expression: str, at: datetime) -> str | None:
    """What is wrong with a cron expression (None: nothing): five fields (minute, hour,
    day of month, month, day of week) or an alias like `@daily`, firing at times that
    do not change between calls, at least once after `at`."""
    tokens = [t for field in expression.split() for t in field.split(",")]
    if any(_UNSTABLE.match(t) for t in tokens):
        return "random (R) and hashed (H) values are not supported"
    try:
        parsed = croniter(expression, at)
    except (CroniterError, ValueError, KeyError, TypeError) as error:
        return f"not a cron expression: {error}"
    if len(parsed.expanded) != 5:
        # A sixth field is seconds to croniter, and would make a window open mid-minute.
        return "five fields: minute hour day-of-month month day-of-week"
    try:
        parsed.get_next(datetime)
    except CroniterBadDateError:
        return "never fires"
    return None


def _cron_open(window: MaintenanceWindow, at: datetime) -> bool:
    if not window.cron or not window.duration_minutes:
        return False
    # It fires on whole minutes, so the latest fire at or before `at` is the latest one
    # before the first second after `at`'s minute began. Arithmetic in UTC: local wall
    # times repeat when clocks go back. croniter reads the expression in the zone's wall
    # time and knows its DST changes. Only the latest fire matters: an earlier one that
    # still covered `at` would mean the latest does too.
    minute = at.astimezone(UTC).replace(second=0, microsecond=0)
    since = (minute + timedelta(seconds=1)).astimezone(ZoneInfo(window.time_zone))
    try:
        fired = croniter(window.cron, since).get_prev(datetime)
    except (CroniterError, ValueError):
        return False  # refused when saved; a window that cannot fire is never open
    return at < fired.astimezone(UTC) + timedelta(minutes=window.duration_minutes)


def is_open(window: MaintenanceWindow, at: datetime) -> bool:
    if window.starts_at is not None and window.ends_at is not None:
        return window.starts_at <= at < window.ends_at
    if window.cron:
        return _cron_open(window, at)
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
