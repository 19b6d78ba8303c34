"""What people (and the auto-resolver) do to an incident: status changes, assignee,
severity override, title, holding it open, comments.

Every status change goes through `apply_status`, guarded by `kinds.TRANSITIONS` (an
illegal move is an `IllegalTransition`, 409, and changes nothing). Each change writes a
timeline event; each change by a person also writes an audit entry (`incident.<verb>`).

Who may act: anyone in the organisation reads incidents; operators act on them, i.e.
an org role of operator or above, or the operator role in any team (an outage is
everyone's, so a team operator may acknowledge an incident of another team's service).

Times (all measured from `opened_at`, in whole seconds):
* MTTA: the first acknowledgement. A person who investigates, mitigates or resolves an
  incident nobody acknowledged acknowledges it by doing so; the auto-resolver does not.
  It is kept when the incident reopens: the first response time stays the response time.
* MTTR: the resolution. Reopening clears `resolved_at` and `mttr_seconds` (it was not
  really resolved); the next resolution measures again from `opened_at`, so the MTTR of a
  reopened incident covers all the time it was broken.
A reopened incident also loses `quiet_since`: it stays open until a person resolves it,
or its alerts fire and resolve again.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from loom.audit import service as audit
from loom.audit.service import Actor
from loom.auth.models import User
from loom.auth.principal import Principal
from loom.db.types import utcnow
from loom.errors import Conflict, FieldIssue, IllegalTransition, InvalidInput
from loom.incidents import pipeline, timeline
from loom.incidents.incident_schemas import IncidentUpdate
from loom.incidents.kinds import EventKind, IncidentStatus, Severity, allowed
from loom.incidents.models import Alert, Incident, IncidentEvent
from loom.incidents.queries import get_incident
from loom.incidents.responders import require_responder
from loom.incidents.tally import Tally

S = IncidentStatus

#: The verb of each target status (the endpoint's and the audit action's name).
VERBS: dict[IncidentStatus, str] = {
    S.ACKNOWLEDGED: "acknowledge",
    S.INVESTIGATING: "investigate",
    S.MITIGATED: "mitigate",
    S.RESOLVED: "resolve",
    S.TRIGGERED: "reopen",
}

_EVENTS: dict[IncidentStatus, tuple[EventKind, str]] = {
    S.ACKNOWLEDGED: (EventKind.ACKNOWLEDGED, "Acknowledged"),
    S.INVESTIGATING: (EventKind.STATUS_CHANGED, "Investigating"),
    S.MITIGATED: (EventKind.STATUS_CHANGED, "Mitigated"),
    S.RESOLVED: (EventKind.RESOLVED, "Resolved"),
    S.TRIGGERED: (EventKind.REOPENED, "Reopened"),
}


def name(incident: Incident) -> str:
    return f"INC-{incident.number}"


def _seconds(since: datetime, until: datetime) -> int:
    return max(0, int((until - since).total_seconds()))


def _with_note(summary: str, note: str | None) -> str:
    return f"{summary}: {note}" if note else summary


def apply_status(
    session: AsyncSession,
    incident: Incident,
    new: IncidentStatus,
    *,
    actor: Principal | Actor | str,
    now: datetime,
    note: str | None = None,
    data: dict[str, Any] | None = None,
) -> IncidentEvent:
    """Move `incident` to `new` if the transition table allows it, stamp its times, and
    append the timeline event. No permission check and no audit: callers do those."""
    current = S(incident.status)
    if not allowed(current, new):
        raise IllegalTransition(
            f"{name(incident)} is {current.value}: it cannot become {new.value}",
            [FieldIssue("status", f"not allowed from {current.value}")],
        )
    person = isinstance(actor, Principal) or (isinstance(actor, Actor) and actor.type == "user")
    incident.status = new.value
    acknowledges = new is S.ACKNOWLEDGED or (
        person and new in (S.INVESTIGATING, S.MITIGATED, S.RESOLVED)
    )
    if acknowledges and incident.acknowledged_at is None:
        incident.acknowledged_at = now
        incident.mtta_seconds = _seconds(incident.opened_at, now)
    if new is S.MITIGATED and incident.mitigated_at is None:
        incident.mitigated_at = now
    if new is S.RESOLVED:
        incident.resolved_at = now
        incident.mttr_seconds = _seconds(incident.opened_at, now)
    if new is S.TRIGGERED:
        incident.resolved_at = None
        incident.mttr_seconds = None
        incident.quiet_since = None
    kind, summary = _EVENTS[new]
    payload = {"from": current.value, "to": new.value, **(data or {})}
    if note:
        payload["note"] = note
    return timeline.add(
        session, incident, kind, _with_note(summary, note), actor=actor, at=now, data=payload
    )


async def _audit(
    session: AsyncSession,
    principal: Principal,
    incident: Incident,
    verb: str,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
) -> None:
    await audit.record(
        session, org_id=incident.org_id, actor=principal, action=f"incident.{verb}",
        target_type="incident", target_id=incident.id, before=before, after=after,
    )  # fmt: skip


async def _acting_on(
    session: AsyncSession,
    principal: Principal,
    ref: str | Incident,
    *,
    closing: bool = False,
) -> Incident:
    """The incident to change, locked. `closing` (a resolve): first take the lock alert
    ingestion groups under, so no alert joins the incident while it resolves."""
    require_responder(principal)
    if isinstance(ref, Incident):
        return ref
    if closing:
        await pipeline.lock_alerts(session, principal.org_id)
    return await get_incident(session, principal, ref, for_update=True)


async def change_status(
    session: AsyncSession,
    principal: Principal,
    ref: str | Incident,
    new: IncidentStatus,
    *,
    note: str | None = None,
    now: datetime | None = None,
) -> Incident:
    """A person moves the incident to `new` (acknowledge, investigate, mitigate, resolve,
    reopen). A merged incident lives on in the one it was merged into: it neither
    resolves nor reopens again."""
    now = now or utcnow()
    incident = await _acting_on(session, principal, ref, closing=new is S.RESOLVED)
    if incident.merged_into_id is not None:
        raise Conflict(
            f"{name(incident)} was merged into another incident: act on that one",
            [FieldIssue("status", "merged incidents do not change status")],
        )
    before = incident.status
    apply_status(session, incident, new, actor=principal, now=now, note=note)
    after: dict[str, Any] = {"status": incident.status}
    if note:
        after["note"] = note
    await _audit(session, principal, incident, VERBS[new], {"status": before}, after)
    return incident


async def _alert_severity(session: AsyncSession, incident: Incident) -> Severity | None:
    """The max of the incident's alerts' severities: from its tally when it has one."""
    counted = Tally.from_json(incident.stats)
    if counted.alerts:
        return counted.severity
    found = await session.scalars(
        select(Alert.severity).where(Alert.incident_id == incident.id).distinct()
    )
    severities = [Severity(s) for s in found]
    return max(severities, key=lambda s: s.rank) if severities else None


async def set_severity(
    session: AsyncSession,
    principal: Principal,
    ref: str | Incident,
    override: Severity | None,
    *,
    now: datetime | None = None,
) -> Incident:
    """Override the severity, or clear the override (None): the max of its alerts again."""
    now = now or utcnow()
    incident = await _acting_on(session, principal, ref)
    before = {"severity": incident.severity, "severity_override": incident.severity_override}
    if override is not None:
        incident.severity_override = override.value
        incident.severity = override.value
        summary = f"Severity set to {override.value}"
    else:
        incident.severity_override = None
        of_alerts = await _alert_severity(session, incident)
        incident.severity = (of_alerts or Severity(incident.severity)).value
        summary = f"Severity override cleared: {incident.severity} from its alerts"
    after = {"severity": incident.severity, "severity_override": incident.severity_override}
    if before == after:
        return incident
    timeline.add(
        session, incident, EventKind.SEVERITY_CHANGED, summary, actor=principal, at=now,
        data={"from": before["severity"], "to": incident.severity,
              "override": incident.severity_override},
    )  # fmt: skip
    await _audit(session, principal, incident, "severity", before, after)
    return incident


async def _member(session: AsyncSession, principal: Principal, email: str) -> User:
    user = await session.scalar(
        select(User).where(User.org_id == principal.org_id, User.email == email.strip().lower())
    )
    if user is None or not user.is_active:
        raise InvalidInput.on("assignee", f"no active member '{email}' in this organisation")
    return user


async def assign(
    session: AsyncSession,
    principal: Principal,
    ref: str | Incident,
    email: str | None,
    *,
    now: datetime | None = None,
) -> Incident:
    """Give the incident to a member of the organisation (by email), or to nobody."""
    now = now or utcnow()
    incident = await _acting_on(session, principal, ref)
    user = await _member(session, principal, email) if email is not None else None
    new_id = user.id if user is not None else None
    if new_id == incident.assignee_id:
        return incident
    before_email = (
        await session.scalar(select(User.email).where(User.id == incident.assignee_id))
        if incident.assignee_id is not None
        else None
    )
    incident.assignee_id = new_id
    after_email = user.email if user is not None else None
    summary = f"Assigned to {after_email}" if after_email else "Unassigned"
    timeline.add(
        session, incident, EventKind.ASSIGNED, summary, actor=principal, at=now,
        data={"from": before_email, "to": after_email},
    )  # fmt: skip
    before, after = {"assignee": before_email}, {"assignee": after_email}
    await _audit(session, principal, incident, "assign", before, after)
    return incident


async def set_title(
    session: AsyncSession,
    principal: Principal,
    ref: str | Incident,
    title: str,
    *,
    now: datetime | None = None,
) -> Incident:
    """Edit the title; from then on it is no longer generated from the root cause."""
    now = now or utcnow()
    incident = await _acting_on(session, principal, ref)
    title = title.strip()
    if not title:
        raise InvalidInput.on("title", "must not be blank")
    before = incident.title
    incident.title = title
    incident.title_edited = True
    if before == title:
        return incident
    timeline.add(
        session, incident, EventKind.TITLE_CHANGED, f"Title: {title}", actor=principal, at=now,
        data={"from": before, "to": title},
    )  # fmt: skip
    await _audit(session, principal, incident, "title", {"title": before}, {"title": title})
    return incident


async def hold(
    session: AsyncSession,
    principal: Principal,
    ref: str | Incident,
    hold_open: bool,
    *,
    now: datetime | None = None,
) -> Incident:
    """Hold the incident open (it does not resolve itself when its alerts resolve), or
    release it."""
    now = now or utcnow()
    incident = await _acting_on(session, principal, ref)
    if incident.hold_open == hold_open:
        return incident
    incident.hold_open = hold_open
    summary = "Held open" if hold_open else "Released: resolves itself when its alerts do"
    timeline.add(
        session, incident, EventKind.HOLD, summary, actor=principal, at=now,
        data={"hold_open": hold_open},
    )  # fmt: skip
    verb = "hold" if hold_open else "release"
    await _audit(session, principal, incident, verb, {"hold_open": not hold_open},
                 {"hold_open": hold_open})  # fmt: skip
    return incident


async def update(
    session: AsyncSession,
    principal: Principal,
    ref: str,
    body: IncidentUpdate,
    *,
    now: datetime | None = None,
) -> Incident:
    """`PATCH /incidents/{ref}`: apply the fields sent, each as its own action (its own
    event and audit entry), the status last; all or nothing (one transaction)."""
    now = now or utcnow()
    incident = await _acting_on(session, principal, ref, closing=body.status is S.RESOLVED)
    sent = body.model_fields_set
    for required in ("title", "hold_open", "status"):
        if required in sent and getattr(body, required) is None:
            raise InvalidInput.on(required, "must not be null")
    if body.note and body.status is None:
        raise InvalidInput.on("note", "goes with a status change (send `status` too)")
    if "title" in sent and body.title is not None:
        await set_title(session, principal, incident, body.title, now=now)
    if "severity" in sent:
        await set_severity(session, principal, incident, body.severity, now=now)
    if "assignee" in sent:
        await assign(session, principal, incident, body.assignee, now=now)
    if "hold_open" in sent and body.hold_open is not None:
        await hold(session, principal, incident, body.hold_open, now=now)
    if "status" in sent and body.status is not None and body.status.value != incident.status:
        await change_status(session, principal, incident, body.status, note=body.note, now=now)
    return incident


async def comment(
    session: AsyncSession,
    principal: Principal,
    ref: str,
    body: str,
    *,
    now: datetime | None = None,
) -> IncidentEvent:
    """Add a comment: a timeline event of kind `comment`."""
    now = now or utcnow()
    incident = await _acting_on(session, principal, ref)
    text = body.strip()
    if not text:
        raise InvalidInput.on("body", "must not be blank")
    event = timeline.add(session, incident, EventKind.COMMENT, text, actor=principal, at=now)
    await session.flush()
    await _audit(session, principal, incident, "comment", None, {"event_id": str(event.id)})
    return event
