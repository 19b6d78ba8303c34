"""The audit log: filtered, paginated reads and verification of its hash chain."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from loom.client.base import HttpCore
from loom.client.models import ApiModel
from loom.client.pagination import Page, iterate


class AuditEntry(ApiModel):
    id: int
    seq: int
    created_at: datetime
    actor_type: str
    actor_id: uuid.UUID | None = None
    actor_name: str = ""
    action: str
    target_type: str
    target_id: str
    team_id: uuid.UUID | None = None
    correlation_id: str | None = None
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None
    hash: str


class AuditFilter(BaseModel):
    """The filters `GET /audit` accepts; `since` is inclusive, `until` exclusive."""

    actor_id: uuid.UUID | None = None
    action: str | None = None
    target_type: str | None = None
    target_id: str | None = None
    team_id: uuid.UUID | None = None
    correlation_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None


class ChainProblem(ApiModel):
    seq: int
    problem: str


class VerifyResult(ApiModel):
    ok: bool
    checked: int
    problems: list[ChainProblem]


class AuditApi:
    def __init__(self, core: HttpCore) -> None:
        self._core = core

    def list(
        self,
        where: AuditFilter | None = None,
        *,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> Page[AuditEntry]:
        """One page of entries, newest first."""
        params: dict[str, Any] = (where or AuditFilter()).model_dump(exclude_none=True)
        params.update(limit=limit, cursor=cursor)
        return self._core.get("/audit", Page[AuditEntry], params=params)

    def iter(
        self,
        where: AuditFilter | None = None,
        *,
        page_size: int = 100,
        max_items: int | None = None,
    ) -> Iterator[AuditEntry]:
        """Every matching entry, newest first, fetching pages as they are consumed."""
        return iterate(
            lambda cursor: self.list(where, limit=page_size, cursor=cursor), max_items=max_items
        )

    def verify(self) -> VerifyResult:
        """Check the organisation's hash chain (needs the admin role and scope)."""
        return self._core.get("/audit/verify", VerifyResult)
