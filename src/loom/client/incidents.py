"""Incidents: list and read them, act on them (acknowledge ... resolve, reopen, assign,
severity, title, hold open), merge, split and move alerts, comments and the timeline.

An incident is named by its number (42 or "INC-42") or its id. Answers are the models
of `loom.client.incident_models`.
"""

from __future__ import annotations

import builtins
import uuid
from collections.abc import Iterator
from datetime import datetime
from typing import Any, Literal
from urllib.parse import quote

from loom.client.alerts import Alert
from loom.client.base import HttpCore, parse_as
from loom.client.incident_models import Incident, IncidentSummary, TimelineEvent
from loom.client.pagination import Page, iterate

IncidentRef = int | str | uuid.UUID
#: The status actions, by endpoint name.
Action = Literal["ack", "investigate", "mitigate", "resolve", "reopen"]

_UNSET: Any = object()


def _path(ref: IncidentRef, *rest: str) -> str:
    return "/".join(["/incidents", quote(str(ref), safe=""), *rest])


class IncidentsApi:
    def __init__(self, core: HttpCore) -> None:
        self._core = core

    def list(
        self,
        *,
        status: builtins.list[str] | None = None,
        open: bool | None = None,
        severity: str | None = None,
        service: str | None = None,
        since: datetime | None = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> Page[IncidentSummary]:
        """One page of the organisation's incidents, latest alert first."""
        params: dict[str, Any] = {
            "status": status, "open": open, "severity": severity, "service": service,
            "since": since, "limit": limit, "cursor": cursor,
        }  # fmt: skip
        return self._core.get("/incidents", Page[IncidentSummary], params=params)

    def iter(self, *, page_size: int = 100, **where: Any) -> Iterator[IncidentSummary]:
        """Every matching incident (same filters as `list`), page by page."""
        return iterate(lambda cursor: self.list(limit=page_size, cursor=cursor, **where))

    def get(self, ref: IncidentRef) -> Incident:
        return self._core.get(_path(ref), Incident)

    def update(
        self,
        ref: IncidentRef,
        *,
        title: str | None = None,
        severity: str | None = _UNSET,
        assignee: str | None = _UNSET,
        hold_open: bool | None = None,
        status: str | None = None,
        note: str | None = None,
    ) -> Incident:
        """Change what is given; `severity=None` clears the override, `assignee=None`
        unassigns."""
        body: dict[str, Any] = {}
        for key, value in (("title", title), ("hold_open", hold_open), ("status", status),
                           ("note", note)):  # fmt: skip
            if value is not None:
                body[key] = value
        if severity is not _UNSET:
            body["severity"] = severity
        if assignee is not _UNSET:
            body["assignee"] = assignee
        return parse_as(self._core.request("PATCH", _path(ref), json=body), Incident)

    def act(self, ref: IncidentRef, action: Action, *, note: str | None = None) -> Incident:
        """A status action: ack, investigate, mitigate, resolve or reopen."""
        body = {"note": note} if note else None
        return self._core.post(_path(ref, action), Incident, json=body)

    def acknowledge(self, ref: IncidentRef, *, note: str | None = None) -> Incident:
        return self.act(ref, "ack", note=note)

    def resolve(self, ref: IncidentRef, *, note: str | None = None) -> Incident:
        return self.act(ref, "resolve", note=note)

    def reopen(self, ref: IncidentRef, *, note: str | None = None) -> Incident:
        return self.act(ref, "reopen", note=note)

    def merge(self, ref: IncidentRef, into: IncidentRef, *, note: str | None = None) -> Incident:
        """Merge `ref` into `into`; returns the incident merged into."""
        body: dict[str, Any] = {"into": str(into)}
        if note:
            body["note"] = note
        return self._core.post(_path(ref, "merge"), Incident, json=body)

    def split(
        self, ref: IncidentRef, alerts: builtins.list[uuid.UUID | str], *, note: str | None = None
    ) -> Incident:
        """Move `alerts` of `ref` into a new incident, which is returned."""
        body: dict[str, Any] = {"alerts": [str(a) for a in alerts]}
        if note:
            body["note"] = note
        return self._core.post(_path(ref, "split"), Incident, json=body, ok=(200, 201))

    def move_alert(self, ref: IncidentRef, alert: uuid.UUID | str, to: IncidentRef) -> Incident:
        """Move one alert of `ref` to the incident `to`, which is returned."""
        body = {"alert": str(alert), "to": str(to)}
        return self._core.post(_path(ref, "alerts", "move"), Incident, json=body)

    def alerts(self, ref: IncidentRef) -> builtins.list[Alert]:
        """Every alert of the incident, newest first."""
        return self._core.get_list(_path(ref, "alerts"), Alert)

    def timeline(
        self, ref: IncidentRef, *, kind: str | None = None
    ) -> builtins.list[TimelineEvent]:
        """The whole timeline, oldest first."""
        params = {"kind": kind} if kind else None
        return self._core.get_list(_path(ref, "timeline"), TimelineEvent, params=params)

    def comments(self, ref: IncidentRef) -> builtins.list[TimelineEvent]:
        return self._core.get_list(_path(ref, "comments"), TimelineEvent)

    def comment(self, ref: IncidentRef, body: str) -> TimelineEvent:
        return self._core.post(
            _path(ref, "comments"), TimelineEvent, json={"body": body}, ok=(201,)
        )
