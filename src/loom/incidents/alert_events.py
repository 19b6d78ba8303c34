"""Timeline entries for the alerts of a batch: one entry per incident and batch for the
alerts that fired (or resolved) in it, so that a storm reads as a few entries, not
thousands."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from loom.incidents import timeline
from loom.incidents.grouping import event_time
from loom.incidents.kinds import EventKind
from loom.incidents.models import Alert, Incident

SOURCE = "alert source"


def what(alert: Alert) -> str:
    return f"Alert {alert.name}"


def alert_data(alert: Alert) -> dict[str, object]:
    return {"alert_id": str(alert.id), "fingerprint": alert.fingerprint, "name": alert.name,
            "severity": alert.severity, "status": alert.status}  # fmt: skip


def fired_again(session: AsyncSession, incident: Incident, alert: Alert) -> None:
    """A resolved alert of an open incident firing again."""
    timeline.add(session, incident, EventKind.ALERT_FIRED, f"{what(alert)} fired again",
                 at=alert.last_seen, actor=SOURCE, data=alert_data(alert))  # fmt: skip


#: Alerts listed by name in one timeline entry; a storm's batch says "and N more".
LISTED = 5
#: Alerts kept in an entry's data.
KEPT = 100


def add(
    session: AsyncSession,
    incident: Incident,
    kind: EventKind,
    verb: str,
    alerts: list[Alert],
    now: datetime,
) -> None:
    """One timeline entry for the alerts of a batch that fired (or resolved) in
    `incident`: a storm is a few readable entries, not thousands."""
    if not alerts:
        return
    first = min(alerts, key=lambda a: event_time(a, now))
    at = event_time(first, now) if kind == EventKind.ALERT_FIRED else (first.ends_at or now)
    if len(alerts) == 1:
        reason = first.grouping.get("text") if kind == EventKind.ALERT_FIRED else None
        summary = (
            f"{what(first)} fired ({first.severity})"
            if kind == EventKind.ALERT_FIRED
            else f"{what(first)} {verb}"
        )
        summary += f": {reason}" if reason and first.grouping.get("strategy") != "new" else ""
        timeline.add(session, incident, kind, summary, at=at, actor=SOURCE, data=alert_data(first))
        return
    named = ", ".join(f"{a.name} ({a.severity})" for a in alerts[:LISTED])
    more = f" and {len(alerts) - LISTED} more" if len(alerts) > LISTED else ""
    reasons = sorted(
        {str(a.grouping["text"]) for a in alerts if a.grouping.get("strategy") not in (None, "new")}
    )
    data = {"count": len(alerts), "alerts": [alert_data(a) for a in alerts[:KEPT]],
            "reasons": reasons[:KEPT]}  # fmt: skip
    summary = f"{len(alerts)} alerts {verb}: {named}{more}"
    timeline.add(session, incident, kind, summary, at=at, actor=SOURCE, data=data)
