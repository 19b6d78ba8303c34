"""An incident's page: its header, the root cause box (the top candidate with its reasons,
the others with their scores), the services it hurts, the changes suggested as related
(with the parts of their score and, for operators, confirm and reject), its alerts with
why each joined, its timeline oldest first, and its notifications (newest first); the
header says who acknowledged it. The operators' actions post to `web.incident_actions`;
viewers see none of them."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import Response

from loom.api.deps import SessionDep
from loom.auth.principal import Principal
from loom.db.types import utcnow
from loom.errors import InvalidInput, NotFound
from loom.incidents import correlation, queries, responders, schemas, timeline, views
from loom.incidents.kinds import TRANSITIONS, EventKind, IncidentStatus
from loom.incidents.models import Alert, Incident, IncidentEvent
from loom.web.deps import PagePrincipal
from loom.web.oncall_rows import acknowledged_by, incident_notifications
from loom.web.ops import INCIDENTS, age, incident_path, ticked
from loom.web.routing import page_router
from loom.web.services import service_path
from loom.web.templating import render
from loom.web.timefmt import moment

router = page_router()

#: Alerts and timeline events shown on the page (the API pages through more).
ALERT_LIMIT = 500
EVENT_LIMIT = 1000
#: The parts of a related change's score, in the order the page shows them.
SCORE_PARTS = (("time", "Time"), ("service", "Service"), ("environment", "Environment"),
               ("type", "Type"))  # fmt: skip
#: The status actions: (action, button label, the status it leads to), in lifecycle order.
STATUS_ACTIONS = (
    ("ack", "Acknowledge", IncidentStatus.ACKNOWLEDGED),
    ("investigate", "Investigating", IncidentStatus.INVESTIGATING),
    ("mitigate", "Mitigated", IncidentStatus.MITIGATED),
    ("resolve", "Resolve", IncidentStatus.RESOLVED),
    ("reopen", "Reopen", IncidentStatus.TRIGGERED),
)
ICONS: dict[str, str] = {
    EventKind.INCIDENT_CREATED: "✚", EventKind.ALERT_FIRED: "▲",
    EventKind.ALERT_RESOLVED: "✓", EventKind.ALERT_MOVED: "⇄", EventKind.CHANGE: "⚙",
    EventKind.CORRELATION_VERDICT: "⚖", EventKind.ROOT_CAUSE: "◎", EventKind.MERGED: "⇥",
    EventKind.SPLIT: "⇤", EventKind.STATUS_CHANGED: "↻", EventKind.ACKNOWLEDGED: "☑",
    EventKind.ASSIGNED: "☺", EventKind.SEVERITY_CHANGED: "⚠", EventKind.TITLE_CHANGED: "✎",
    EventKind.HOLD: "‖", EventKind.COMMENT: "❝", EventKind.NOTIFICATION_SENT: "✉",
    EventKind.RUNBOOK_EXECUTED: "▶", EventKind.RESOLVED: "✔", EventKind.REOPENED: "↺",
}  # fmt: skip
#: What an action that went through says on the page it returns to (`?done=`).
DONE = {
    "ack": "Acknowledged.",
    "investigate": "Marked as investigating.",
    "mitigate": "Marked as mitigated.",
    "resolve": "Resolved.",
    "reopen": "Reopened.",
    "hold": "Held open: it stays open when its alerts resolve.",
    "release": "No longer held open.",
    "comment": "Comment added.",
    "verdict": "Thank you: your answer on the change is recorded.",
    "merged": "Merged.",
}


def status_actions(status: IncidentStatus) -> list[dict[str, str]]:
    """The status buttons the lifecycle allows from `status` (`kinds.TRANSITIONS`)."""
    allowed = TRANSITIONS[status]
    return [
        {"action": action, "label": label}
        for action, label, target in STATUS_ACTIONS
        if target in allowed
    ]


def _candidate(c: schemas.RootCauseCandidate) -> dict[str, Any]:
    return {**c.model_dump(), "url": service_path(c.service), "first": moment(c.first_seen),
            "reasons": [ticked(r) for r in c.reasons]}  # fmt: skip


def _alert(a: schemas.Alert) -> dict[str, Any]:
    return {
        **a.model_dump(),
        "service_url": service_path(a.service) if a.service else None,
        "first": moment(a.first_seen),
        "last": moment(a.last_seen),
        "joined": ticked(a.grouping.text) if a.grouping else "",
        "strategy": a.grouping.strategy if a.grouping else "",
    }


def _score_part(value: Any) -> int | None:
    """A part of a score as a percentage (parts are stored 0-1)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return round(max(0.0, min(float(value), 1.0)) * 100)


async def correlations(session: AsyncSession, incident: Incident) -> list[dict[str, Any]]:
    """The changes suggested as related to `incident`, best score first."""
    rows = list(await session.execute(correlation.correlations_query(incident)))
    shown = await views.changes_out(session, [found for _, found in rows])
    out = []
    for (r, _), change in zip(rows, shown, strict=True):
        parts = [{"key": key, "label": label, "percent": _score_part(r.parts.get(key))}
                 for key, label in SCORE_PARTS]  # fmt: skip
        reasons = r.parts.get("reasons")
        out.append({
            "id": str(r.change_id), "score": r.score, "parts": parts,
            "reasons": [str(x) for x in reasons] if isinstance(reasons, list) else [],
            "verdict": r.verdict, "verdict_by": r.verdict_by, "verdict_at": moment(r.verdict_at),
            "change": change, "when": moment(change.happened_at),
            "service_url": service_path(change.service) if change.service else None,
        })  # fmt: skip
    return out


async def _alerts(session: AsyncSession, incident: Incident) -> list[dict[str, Any]]:
    stmt = select(Alert).where(Alert.org_id == incident.org_id, Alert.incident_id == incident.id)
    rows = await session.scalars(stmt.order_by(Alert.first_seen, Alert.id).limit(ALERT_LIMIT))
    return [_alert(a) for a in await views.alerts_out(session, list(rows))]


async def _timeline(session: AsyncSession, incident: Incident) -> list[dict[str, Any]]:
    stmt = timeline.events_query(incident).order_by(
        IncidentEvent.at, IncidentEvent.created_at, IncidentEvent.id
    )
    out = []
    for event in await session.scalars(stmt.limit(EVENT_LIMIT)):
        shown = timeline.event_out(event)
        out.append({
            "kind": shown.kind.value, "icon": ICONS.get(shown.kind, "•"), "at": moment(shown.at),
            "actor": shown.actor, "summary": ticked(shown.summary),
            "comment": shown.kind == EventKind.COMMENT,
        })  # fmt: skip
    return out


async def page_context(session: AsyncSession, principal: Principal, number: str) -> dict[str, Any]:
    """Everything the incident page shows, read in the caller's transaction."""
    try:
        found = await queries.get_incident(session, principal, number)
    except InvalidInput:  # not even an incident's number: no page there either
        raise NotFound(f"incident '{number}' not found") from None
    incident = await views.incident_out(session, found)
    candidates = [_candidate(c) for c in incident.root_cause_candidates]
    actor = responders.may_act(principal)
    return {
        "incident": incident,
        "ref": f"INC-{incident.number}",
        "url": incident_path(incident.number),
        "age": age(incident.opened_at, utcnow()),
        "opened": moment(incident.opened_at),
        "acknowledged": moment(incident.acknowledged_at),
        "acknowledged_by": await acknowledged_by(session, found),
        "acknowledged_age": age(incident.acknowledged_at or utcnow(), utcnow()),
        "resolved": moment(incident.resolved_at),
        "merged_url": incident_path(incident.merged_into) if incident.merged_into else None,
        "top_cause": candidates[0] if candidates else None,
        "other_causes": candidates[1:],
        "affected": [{**a.model_dump(), "url": service_path(a.service)} for a in incident.affected],
        "services": [{"slug": s, "url": service_path(s)} for s in incident.services],
        "correlations": await correlations(session, found),
        "alerts": await _alerts(session, found),
        "alert_limit": ALERT_LIMIT,
        "events": await _timeline(session, found),
        "notifications": await incident_notifications(session, principal, found.id),
        "can_act": actor,
        "actions": status_actions(incident.status) if actor else [],
        "is_open": incident.status != IncidentStatus.RESOLVED,
    }


async def render_incident(
    request: Request,
    session: AsyncSession,
    principal: Principal,
    number: str,
    *,
    extra: dict[str, Any] | None = None,
    status_code: int = 200,
) -> Response:
    """The incident page (`extra`: a form's values and errors, after a post)."""
    async with session.begin():
        context = await page_context(session, principal, number)
    context["notice"] = DONE.get(request.query_params.get("done", ""))
    context.update(action_error=None, merge_into="", comment_body="")
    return render(request, "incidents/page.html", {**context, **(extra or {})},
                  status_code=status_code)  # fmt: skip


@router.get(INCIDENTS + "/{number}")
async def incident_page(
    request: Request, number: str, principal: PagePrincipal, session: SessionDep
) -> Response:
    return await render_incident(request, session, principal, number)
