"""What the notify and on-call commands share: durations as people type them (`30m`,
`2h`, `1d`: the parser of `loom silence add`), moments (`now`, `+2h`, or ISO 8601; a time
without an offset is in this machine's time zone), and whether a resource of a name
exists (for `--replace`)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from loom.cli.alerts import parse_duration
from loom.cli.output import fail
from loom.client import ApiError


def duration(text: str, option: str) -> timedelta:
    return parse_duration(text, option)


def minutes(text: str, option: str) -> int:
    """A duration in whole minutes."""
    return int(duration(text, option).total_seconds() // 60)


def moment(text: str, option: str) -> datetime:
    """An aware datetime: `now`, `+DURATION` from now, or ISO 8601."""
    value = text.strip()
    if value == "now":
        return datetime.now(UTC)
    if value.startswith("+"):
        return datetime.now(UTC) + duration(value[1:], option)
    try:
        found = datetime.fromisoformat(value)
    except ValueError:
        fail(f"{option} {text!r}: write now, +2h or an ISO 8601 time (2026-11-28T09:00+01:00)")
    # astimezone() reads a naive value as local time, as a person at this machine means.
    return found if found.tzinfo is not None else found.astimezone()


def exists(get: Callable[[str], object], ref: str) -> bool:
    """Whether `get(ref)` finds something (a 404 says no; other errors propagate)."""
    try:
        get(ref)
    except ApiError as error:
        if error.status == 404:
            return False
        raise
    return True
