"""What the operations pages (incidents, alerts, changes) share: where they live, the
sub-navigation between them, and the small formatting helpers their rows use."""

from __future__ import annotations

import re
from datetime import datetime
from urllib.parse import urlencode

from markupsafe import Markup, escape

from loom.incidents.kinds import Severity
from loom.web.timefmt import duration

INCIDENTS = "/ui/incidents"
ALERTS = "/ui/alerts"
CHANGES = "/ui/changes"

#: The domain's views, in the sub-navigation on each of its pages (the top bar has one
#: entry, Incidents, which stays current on all three).
VIEWS: tuple[tuple[str, str, str], ...] = (
    ("incidents", "Incidents", INCIDENTS),
    ("alerts", "Alerts", ALERTS),
    ("changes", "Changes", CHANGES),
)

SEVERITIES: tuple[str, ...] = tuple(s.value for s in Severity)


def incident_path(number: int) -> str:
    return f"{INCIDENTS}/INC-{number}"


def with_query(base: str, values: dict[str, str]) -> str:
    """`base` with the non-empty `values` as its query string."""
    kept = {k: v for k, v in values.items() if v}
    return f"{base}?{urlencode(kept)}" if kept else base


def severity_rank(value: str) -> int:
    try:
        return Severity(value).rank
    except ValueError:
        return 0


def age(since: datetime, now: datetime) -> str:
    """How long ago `since` was, coarse past a day ("3 d 04 h")."""
    seconds = (now - since).total_seconds()
    if seconds < 48 * 3600:
        return duration(since, now)
    days, rest = divmod(int(seconds), 86400)
    return f"{days} d {rest // 3600:02d} h"


_TICKED = re.compile(r"`([^`]+)`")


def ticked(text: str) -> Markup:
    """`text` escaped, with its `quoted` names (as the grouping and root-cause reasons
    write them) as <code>."""
    parts = _TICKED.split(text)
    return Markup("").join(
        Markup("<code>{}</code>").format(part) if i % 2 else escape(part)
        for i, part in enumerate(parts)
    )
