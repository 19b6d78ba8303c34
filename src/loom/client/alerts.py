"""Alerts and silences: filtered, paginated reads of the organisation's alerts; making,
listing and expiring silences."""

from __future__ import annotations

import builtins
import uuid
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from loom.client.base import HttpCore, parse
from loom.client.models import ApiModel
from loom.client.pagination import Page, iterate


class Alert(ApiModel):
    id: uuid.UUID
    fingerprint: str
    status: str
    severity: str
    name: str
    summary: str = ""
    labels: dict[str, str] = {}
    annotations: dict[str, str] = {}
    service: str | None = None
    environment: str | None = None
    source: str | None = None
    source_kind: str
    generator_url: str | None = None
    starts_at: datetime
    ends_at: datetime | None = None
    first_seen: datetime
    last_seen: datetime
    count: int
    silenced: bool = False
    incident_id: uuid.UUID | None = None
    incident_number: int | None = None
    grouping: dict[str, Any] | None = None


class AlertFilter(BaseModel):
    """The filters `GET /alerts` accepts."""

    status: str | None = None
    severity: str | None = None
    service: str | None = None
    incident: str | None = None
    silenced: bool | None = None


class Matcher(ApiModel):
    name: str
    value: str
    op: str = "="


class Silence(ApiModel):
    id: uuid.UUID
    matchers: list[Matcher]
    starts_at: datetime
    ends_at: datetime
    comment: str = ""
    created_by: str
    state: str
    created_at: datetime


class AlertsApi:
    def __init__(self, core: HttpCore) -> None:
        self._core = core

    def list(
        self, where: AlertFilter | None = None, *, limit: int | None = None,
        cursor: str | None = None,
    ) -> Page[Alert]:  # fmt: skip
        """One page of alerts, most recently seen first."""
        params: dict[str, Any] = (where or AlertFilter()).model_dump(exclude_none=True)
        params.update(limit=limit, cursor=cursor)
        return self._core.get("/alerts", Page[Alert], params=params)

    def iter(
        self, where: AlertFilter | None = None, *, page_size: int = 100,
        max_items: int | None = None,
    ) -> Iterator[Alert]:  # fmt: skip
        return iterate(
            lambda cursor: self.list(where, limit=page_size, cursor=cursor), max_items=max_items
        )

    def get(self, alert_id: uuid.UUID | str) -> Alert:
        return self._core.get(f"/alerts/{alert_id}", Alert)


class SilencesApi:
    def __init__(self, core: HttpCore) -> None:
        self._core = core

    def create(
        self, matchers: builtins.list[Matcher], ends_at: datetime, *,
        starts_at: datetime | None = None, comment: str = "",
    ) -> Silence:  # fmt: skip
        body: dict[str, Any] = {
            "matchers": [m.model_dump() for m in matchers], "ends_at": ends_at.isoformat(),
            "comment": comment,
        }  # fmt: skip
        if starts_at is not None:
            body["starts_at"] = starts_at.isoformat()
        return self._core.post("/silences", Silence, json=body, ok=(201,))

    def list(
        self, state: str | None = None, *, limit: int | None = None, cursor: str | None = None
    ) -> Page[Silence]:
        """One page of silences, newest first; `state`: active, pending or expired."""
        params = {"state": state, "limit": limit, "cursor": cursor}
        return self._core.get("/silences", Page[Silence], params=params)

    def expire(self, silence_id: uuid.UUID | str) -> Silence:
        return parse(self._core.request("DELETE", f"/silences/{silence_id}"), Silence)
