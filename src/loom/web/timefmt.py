"""Times as the portal shows them: UTC to the second (with the ISO value for <time>), and
short durations ("2.4 s", "3 min 05 s")."""

from __future__ import annotations

from datetime import UTC, datetime


def moment(at: datetime | None) -> dict[str, str] | None:
    if at is None:
        return None
    if at.tzinfo is not None:
        at = at.astimezone(UTC)
    return {"iso": at.isoformat(), "text": at.strftime("%Y-%m-%d %H:%M:%S UTC")}


def duration(start: datetime | None, end: datetime | None) -> str:
    if start is None or end is None:
        return ""
    seconds = max((end - start).total_seconds(), 0.0)
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {rest:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"
