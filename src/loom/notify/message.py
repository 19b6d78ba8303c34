"""What a notification says about an incident (or a request), whatever the channel: one
immutable value built once per event, then rendered by each channel in its own format."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime, timedelta


class NotifyEvent(enum.StrEnum):
    """What happened (what rules match on)."""

    OPENED = "incident.opened"
    SEVERITY_RAISED = "incident.severity_raised"
    ACKNOWLEDGED = "incident.acknowledged"
    RESOLVED = "incident.resolved"
    REOPENED = "incident.reopened"
    #: Alerts kept joining (or resolving in) an incident already notified: one message
    #: per consolidation window with its counts now, never one per alert. Not a rule
    #: event: it goes to the channels that already got the incident's message.
    UPDATED = "incident.updated"
    #: A channel's "send test message" action.
    TEST = "test"
    # Events of other domains than incidents (their messages: `RequestMessage`).
    #: A request entered `failed` (a task failed, got stuck, or its wait failed).
    REQUEST_FAILED = "request.failed"
    #: A task of a request waits for people to approve it.
    APPROVAL_NEEDED = "approval.needed"
    #: Rules may name these already; nothing fires them until the runbooks and forecasting
    #: domains exist.
    RUNBOOK_AWAITING_APPROVAL = "runbook.awaiting_approval"
    RUNBOOK_FAILED = "runbook.failed"
    PREDICTIVE_ALERT = "predictive.alert"


@dataclass(frozen=True)
class RelatedChange:
    """The best-scored change before the incident."""

    summary: str  # "deployment of orders 1.4.2 → 1.4.3"
    score: int  # 0-100
    url: str | None = None


@dataclass(frozen=True)
class IncidentMessage:
    event: NotifyEvent
    incident_id: str
    #: "INC-42"
    ref: str
    title: str
    #: triggered | acknowledged | investigating | mitigated | resolved
    status: str
    #: critical | warning | info
    severity: str
    opened_at: datetime
    #: When the event happened.
    at: datetime
    #: The incident's page in the portal.
    url: str
    environment: str | None = None
    #: Slug of the probable root cause, with the reason in words.
    root_cause: str | None = None
    root_cause_reason: str | None = None
    #: Affected services (slugs), the root cause first.
    services: tuple[str, ...] = ()
    alert_count: int = 0
    firing_count: int = 0
    related_change: RelatedChange | None = None
    #: Who acknowledged or resolved it (an e-mail), for those events.
    actor: str | None = None
    #: Organisation the incident belongs to (its slug), for routing keys and footers.
    org: str = ""
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def duration(self) -> timedelta:
        return max(self.at - self.opened_at, timedelta(0))

    def duration_text(self) -> str:
        """ "3 h 12 min", "12 min", "40 s"."""
        seconds = int(self.duration.total_seconds())
        hours, rest = divmod(seconds, 3600)
        minutes, secs = divmod(rest, 60)
        if hours:
            return f"{hours} h {minutes} min"
        return f"{minutes} min" if minutes else f"{secs} s"

    def headline(self) -> str:
        """One line: "[CRITICAL] INC-42 orders-db: PostgresDown — resolved" (an update:
        "… — 14 alerts, 9 firing", its status first unless triggered)."""
        tail = {
            NotifyEvent.ACKNOWLEDGED: " — acknowledged",
            NotifyEvent.RESOLVED: " — resolved",
            NotifyEvent.REOPENED: " — reopened",
            NotifyEvent.SEVERITY_RAISED: " — severity raised",
            NotifyEvent.TEST: " — test message",
        }.get(self.event, "")
        if self.event is NotifyEvent.UPDATED:
            status = f"{self.status}, " if self.status != "triggered" else ""
            tail = f" — {status}{self.counts()}"
        return f"[{self.severity.upper()}] {self.ref} {self.title}{tail}"

    def counts(self) -> str:
        """ "14 alerts, 9 firing"."""
        plural = "s" if self.alert_count != 1 else ""
        return f"{self.alert_count} alert{plural}, {self.firing_count} firing"

    def impact(self) -> str:
        """ "6 services affected, 14 alerts (9 firing)"."""
        services = len(self.services)
        plural = "s" if services != 1 else ""
        return (
            f"{services} service{plural} affected, {self.alert_count} alerts "
            f"({self.firing_count} firing)"
        )


#: The longest error excerpt a request message carries.
ERROR_MAX = 500


@dataclass(frozen=True)
class RequestMessage:
    """What a notification says about a provisioning request (request.failed,
    approval.needed)."""

    event: NotifyEvent
    request_id: str
    #: The catalog entry asked for: its id and name.
    entry_id: str
    entry_name: str
    #: The requesting team's slug, and who asked (an e-mail).
    team: str
    requester: str
    #: The request's state when the message was built.
    state: str
    #: When the event happened.
    at: datetime
    #: The request's page in the portal.
    url: str
    #: request.failed: the task that failed ("2 (create-db)") and the error, cut.
    failed_task: str | None = None
    error: str | None = None
    #: approval.needed: who may decide, in words ("team payments or carol@example.com"),
    #: and how far it is ("waiting for approval by ... (0 of 2)").
    approvers: str | None = None
    waiting_for: str | None = None
    org: str = ""

    @property
    def ref(self) -> str:
        """A short reference for people: "request 1a2b3c4d"."""
        return f"request {self.request_id[:8]}"

    def headline(self) -> str:
        """One line: "Request failed: PostgreSQL database for team shop"."""
        what = {
            NotifyEvent.REQUEST_FAILED: "Request failed",
            NotifyEvent.APPROVAL_NEEDED: "Approval needed",
        }.get(self.event, self.event.value)
        return f"{what}: {self.entry_name} for team {self.team}"

    def facts(self) -> list[tuple[str, str]]:
        """The labelled facts every channel shows, in order (raw text)."""
        rows = [
            ("Catalog entry", f"{self.entry_name} ({self.entry_id})"),
            ("Team", self.team),
            ("Requested by", self.requester),
            ("State", self.state),
        ]
        if self.failed_task:
            rows.append(("Failed task", self.failed_task))
        if self.approvers:
            rows.append(("Approvers", self.approvers))
        if self.waiting_for:
            rows.append(("Waiting for", self.waiting_for))
        return rows


#: Any message a channel renders.
Message = IncidentMessage | RequestMessage
