"""Endpoint health check tables: the checks of a service, the result of each run, and
the events a status change produces (read later by the incidents domain)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from loom.db.base import Base, OrgScoped, Timestamps, UUIDPrimaryKey
from loom.db.types import PortableJSON, UTCDateTime, utcnow


class ServiceCheck(UUIDPrimaryKey, Timestamps, OrgScoped, Base):
    """An HTTP(S) probe of one service endpoint, run every `interval_seconds`."""

    __tablename__ = "service_checks"
    __table_args__ = (
        UniqueConstraint("service_id", "name"),
        # The scheduler's claim: enabled checks whose slot has come.
        Index("ix_service_checks_due", "enabled", "next_run_at"),
    )

    service_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("services.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(100))
    url: Mapped[str] = mapped_column(String(2000))
    method: Mapped[str] = mapped_column(String(10), default="GET")
    #: The status codes that count as up.
    expected_status: Mapped[list[int]] = mapped_column(PortableJSON, default=lambda: [200])
    body_contains: Mapped[str | None] = mapped_column(String(1000), default=None)
    json_path: Mapped[str | None] = mapped_column(String(500), default=None)
    json_expected: Mapped[Any] = mapped_column(PortableJSON, default=None, nullable=True)
    timeout_seconds: Mapped[float] = mapped_column(default=10.0)
    interval_seconds: Mapped[int] = mapped_column(Integer, default=60)
    latency_threshold_ms: Mapped[int | None] = mapped_column(Integer, default=None)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    headers: Mapped[dict[str, str]] = mapped_column(PortableJSON, default=dict)
    environment: Mapped[str | None] = mapped_column(String(63), default=None)
    #: The next slot: the scheduler claims the check once this has passed.
    next_run_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    status: Mapped[str] = mapped_column(String(10), default="unknown")
    status_since: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: The latest result, as the API shows it (see checks.schemas.CheckResult).
    last_result: Mapped[dict[str, Any] | None] = mapped_column(PortableJSON, default=None)


class ServiceCheckResult(UUIDPrimaryKey, OrgScoped, Base):
    """One run of a check."""

    __tablename__ = "service_check_results"
    __table_args__ = (Index("ix_service_check_results_check_started", "check_id", "started_at"),)

    check_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("service_checks.id", ondelete="CASCADE"))
    #: The slot this run was for (started_at - scheduled_at is the schedule lag).
    scheduled_at: Mapped[datetime] = mapped_column(UTCDateTime)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    duration_ms: Mapped[int] = mapped_column(Integer)
    ok: Mapped[bool] = mapped_column(Boolean)
    status_code: Mapped[int | None] = mapped_column(Integer, default=None)
    message: Mapped[str] = mapped_column(String(500), default="")
    outcome: Mapped[str] = mapped_column(String(10))


class ServiceEvent(UUIDPrimaryKey, OrgScoped, Base):
    """Something that happened to a service, for other domains to act on (an outbox:
    written in the transaction of the change, `consumed_at` set by whoever handles it)."""

    __tablename__ = "service_events"
    __table_args__ = (Index("ix_service_events_unconsumed", "consumed_at", "created_at"),)

    service_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("services.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(100))
    data: Mapped[dict[str, Any]] = mapped_column(PortableJSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    consumed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
