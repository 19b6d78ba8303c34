"""The vocabularies of the incidents domain, and the incident lifecycle as a transition
table (the one place that says which status may follow which)."""

from __future__ import annotations

from enum import StrEnum


class Severity(StrEnum):
    CRITICAL = "critical"
    WARNING = "warning"
    INFO = "info"

    @property
    def rank(self) -> int:
        """Higher is worse: an incident's severity is the max of its alerts'."""
        return _SEVERITY_RANK[self]


_SEVERITY_RANK = {Severity.INFO: 1, Severity.WARNING: 2, Severity.CRITICAL: 3}


class AlertStatus(StrEnum):
    FIRING = "firing"
    RESOLVED = "resolved"


class AlertSourceKind(StrEnum):
    """What a source sends: the payload format its endpoint accepts."""

    ALERTMANAGER = "alertmanager"
    GENERIC = "generic"
    HEALTH_CHECK = "health_check"
    GITHUB = "github"
    JENKINS = "jenkins"
    ARGOCD = "argocd"


class IncidentStatus(StrEnum):
    TRIGGERED = "triggered"
    ACKNOWLEDGED = "acknowledged"
    INVESTIGATING = "investigating"
    MITIGATED = "mitigated"
    RESOLVED = "resolved"


T = IncidentStatus.TRIGGERED
A = IncidentStatus.ACKNOWLEDGED
I = IncidentStatus.INVESTIGATING  # noqa: E741
M = IncidentStatus.MITIGATED
R = IncidentStatus.RESOLVED

#: Allowed moves. Steps may be skipped forwards (resolve straight from triggered);
#: a resolved incident only reopens (to triggered), and work may step back from
#: mitigated to investigating when the fix did not hold.
TRANSITIONS: dict[IncidentStatus, frozenset[IncidentStatus]] = {
    T: frozenset({A, I, M, R}),
    A: frozenset({I, M, R}),
    I: frozenset({M, R}),
    M: frozenset({I, R}),
    R: frozenset({T}),
}

#: Statuses in which an incident takes new alerts.
OPEN = frozenset({T, A, I, M})


def allowed(current: IncidentStatus, new: IncidentStatus) -> bool:
    return new in TRANSITIONS[current]


class ChangeType(StrEnum):
    DEPLOYMENT = "deployment"
    CONFIG = "config"
    SCALING = "scaling"
    FEATURE_FLAG = "feature_flag"
    INFRASTRUCTURE = "infrastructure"


class ChangeSource(StrEnum):
    API = "api"
    MANUAL = "manual"
    GITHUB = "github"
    JENKINS = "jenkins"
    ARGOCD = "argocd"


class Verdict(StrEnum):
    """An engineer's answer on a suggested change correlation."""

    CONFIRMED = "confirmed"
    REJECTED = "rejected"


class GroupingStrategy(StrEnum):
    """Why an alert joined an incident. Automatic joins are always within the time
    window *and* one of same_service, topology or label; manual ones are people's."""

    SAME_SERVICE = "same_service"
    TOPOLOGY = "topology"
    LABEL = "label"
    MANUAL = "manual"
    NEW = "new"


class EventKind(StrEnum):
    """Timeline entries. One table, one endpoint; later issues add their kinds here."""

    INCIDENT_CREATED = "incident_created"
    ALERT_FIRED = "alert_fired"
    ALERT_RESOLVED = "alert_resolved"
    ALERT_MOVED = "alert_moved"
    CHANGE = "change"
    CORRELATION_VERDICT = "correlation_verdict"
    ROOT_CAUSE = "root_cause"
    MERGED = "merged"
    SPLIT = "split"
    STATUS_CHANGED = "status_changed"
    ACKNOWLEDGED = "acknowledged"
    ASSIGNED = "assigned"
    SEVERITY_CHANGED = "severity_changed"
    TITLE_CHANGED = "title_changed"
    HOLD = "hold"
    COMMENT = "comment"
    NOTIFICATION_SENT = "notification_sent"
    RUNBOOK_EXECUTED = "runbook_executed"
    RESOLVED = "resolved"
    REOPENED = "reopened"
