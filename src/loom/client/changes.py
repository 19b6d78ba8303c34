"""Changes: record one (`loom change add`), list them with filters, read one, the change
frequency per service, and the changes related to an incident (with verdicts)."""

from __future__ import annotations

import builtins
import uuid
from collections.abc import Iterator
from datetime import datetime
from typing import Any, Literal
from urllib.parse import quote

from pydantic import BaseModel

from loom.client.base import HttpCore
from loom.client.models import ApiModel
from loom.client.pagination import Page, iterate


class Change(ApiModel):
    id: uuid.UUID
    type: str
    source: str
    external_id: str | None = None
    service: str | None = None
    environment: str | None = None
    version: str | None = None
    previous_version: str | None = None
    title: str = ""
    description: str = ""
    author: str
    happened_at: datetime
    url: str | None = None
    deployment_id: uuid.UUID | None = None
    created_at: datetime


class ChangeFilter(BaseModel):
    """The filters `GET /changes` accepts."""

    service: str | None = None
    type: str | None = None
    environment: str | None = None
    since: datetime | None = None
    until: datetime | None = None


class ChangeFrequency(ApiModel):
    service: str | None = None
    last_7_days: int
    last_30_days: int


class ChangeFrequencies(ApiModel):
    items: list[ChangeFrequency]


class Correlation(ApiModel):
    change_id: uuid.UUID
    score: int
    parts: dict[str, Any] = {}
    verdict: str | None = None
    verdict_by: str | None = None
    verdict_at: datetime | None = None
    change: Change


class ChangesApi:
    def __init__(self, core: HttpCore) -> None:
        self._core = core

    def add(self, type: str, *, idempotency_key: str | None = None, **fields: Any) -> Change:
        """Record a change. `fields`: service, environment, version, previous_version,
        title, description, author, happened_at (aware datetime), url, external_id."""
        body: dict[str, Any] = {"type": type}
        for name, value in fields.items():
            if value is not None:
                body[name] = value.isoformat() if isinstance(value, datetime) else value
        return self._core.post(
            "/changes", Change, json=body, ok=(200, 201), idempotency_key=idempotency_key
        )

    def list(
        self, where: ChangeFilter | None = None, *, limit: int | None = None,
        cursor: str | None = None,
    ) -> Page[Change]:  # fmt: skip
        """One page of the organisation's changes, newest first."""
        params: dict[str, Any] = (where or ChangeFilter()).model_dump(exclude_none=True)
        params.update(limit=limit, cursor=cursor)
        return self._core.get("/changes", Page[Change], params=params)

    def iter(
        self, where: ChangeFilter | None = None, *, page_size: int = 100,
        max_items: int | None = None,
    ) -> Iterator[Change]:  # fmt: skip
        return iterate(
            lambda cursor: self.list(where, limit=page_size, cursor=cursor), max_items=max_items
        )

    def get(self, change_id: uuid.UUID | str) -> Change:
        return self._core.get(f"/changes/{change_id}", Change)

    def frequency(self) -> ChangeFrequencies:
        """Changes per service over the last 7 and 30 days."""
        return self._core.get("/changes/frequency", ChangeFrequencies)

    def for_incident(self, ref: str) -> builtins.list[Correlation]:
        """Changes related to an incident (id, number or INC-n), best score first."""
        page = self._core.get(f"/incidents/{quote(ref, safe='')}/changes", Page[Correlation])
        return page.items

    def verdict(
        self, ref: str, change_id: uuid.UUID | str, verdict: Literal["confirmed", "rejected"],
        note: str = "",
    ) -> Correlation:  # fmt: skip
        """Confirm or reject a change related to an incident (operators)."""
        return self._core.post(
            f"/incidents/{quote(ref, safe='')}/changes/{change_id}/verdict", Correlation,
            json={"verdict": verdict, "note": note},
        )  # fmt: skip
