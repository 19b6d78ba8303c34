"""Provisioning tables: requests, their fulfillment tasks, the tasks' log lines, and
what a waiting task waits for (its wait; for an approval, who may decide and who did)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from loom.db.base import Base, TeamScoped, Timestamps, UUIDPrimaryKey
from loom.db.types import PortableJSON, UTCDateTime, utcnow


class Request(UUIDPrimaryKey, Timestamps, TeamScoped, Base):
    """Someone asked for a catalog item or bundle. The definition it was made against is
    pinned here, so a retry runs the same thing even after the catalog changed."""

    __tablename__ = "requests"

    requester_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    entry_id: Mapped[str] = mapped_column(String(63), index=True)
    entry_name: Mapped[str] = mapped_column(String(200))
    entry_version: Mapped[str] = mapped_column(String(50))
    entry_digest: Mapped[str] = mapped_column(String(64))
    commit_sha: Mapped[str | None] = mapped_column(String(64), default=None)
    definition: Mapped[dict[str, Any]] = mapped_column(PortableJSON)
    #: Validated form values; secret fields are kept apart in loom.secrets.
    inputs: Mapped[dict[str, Any]] = mapped_column(PortableJSON)
    secret_fields: Mapped[list[str]] = mapped_column(PortableJSON, default=list)
    state: Mapped[str] = mapped_column(String(20), index=True)
    correlation_id: Mapped[str] = mapped_column(String(128))
    error: Mapped[str | None] = mapped_column(Text, default=None)
    tasks_total: Mapped[int] = mapped_column(Integer, default=0)
    tasks_completed: Mapped[int] = mapped_column(Integer, default=0)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    #: What its waiting task waits for ("waiting for approval by team payments (1 of 2)");
    #: None while no task waits.
    waiting_for: Mapped[str | None] = mapped_column(Text, default=None)

    tasks: Mapped[list[FulfillmentTask]] = relationship(
        back_populates="request", order_by="FulfillmentTask.position", cascade="all, delete-orphan"
    )


class FulfillmentTask(UUIDPrimaryKey, Base):
    __tablename__ = "fulfillment_tasks"
    __table_args__ = (UniqueConstraint("request_id", "position"),)

    request_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("requests.id", ondelete="CASCADE"), index=True
    )
    org_id: Mapped[uuid.UUID] = mapped_column(index=True)
    position: Mapped[int] = mapped_column(Integer)
    #: The bundle component the task belongs to ("" for a plain item).
    component_id: Mapped[str] = mapped_column(String(63), default="")
    item_id: Mapped[str] = mapped_column(String(63))
    action_id: Mapped[str] = mapped_column(String(63))
    action_type: Mapped[str] = mapped_column(String(40))
    #: The action's config as written in the catalog (templates unrendered).
    config: Mapped[dict[str, Any]] = mapped_column(PortableJSON)
    declared_outputs: Mapped[list[str]] = mapped_column(PortableJSON, default=list)
    #: Inputs of its component (for bundles: bundle form values overlaid by inputs).
    inputs: Mapped[dict[str, Any]] = mapped_column(PortableJSON, default=dict)
    #: Not indexed: no query looks tasks up by state across requests, and an unindexed
    #: state lets PostgreSQL update a task in place (a HOT update, see migration 0008).
    state: Mapped[str] = mapped_column(String(20))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    outputs: Mapped[dict[str, Any]] = mapped_column(PortableJSON, default=dict)
    external_refs: Mapped[dict[str, Any]] = mapped_column(PortableJSON, default=dict)
    error: Mapped[str | None] = mapped_column(Text, default=None)
    queued_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)

    request: Mapped[Request] = relationship(back_populates="tasks")


class TaskLog(Base):
    __tablename__ = "task_logs"

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    request_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("requests.id", ondelete="CASCADE"), index=True
    )
    task_id: Mapped[uuid.UUID | None] = mapped_column(default=None, index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    level: Mapped[str] = mapped_column(String(10), default="info")
    message: Mapped[str] = mapped_column(Text)


class TaskWait(UUIDPrimaryKey, Base):
    """What a `waiting` task waits for, open while `completed_at` is None. One per task:
    a task that waits again after a retry gets a fresh row (its old one, with the
    decisions of an old approval, is deleted; the audit log keeps them)."""

    __tablename__ = "task_waits"

    task_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("fulfillment_tasks.id", ondelete="CASCADE"), unique=True
    )
    request_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("requests.id", ondelete="CASCADE"), index=True
    )
    org_id: Mapped[uuid.UUID] = mapped_column(index=True)
    kind: Mapped[str] = mapped_column(String(40))
    reason: Mapped[str] = mapped_column(Text)
    #: The executor's data for its `check` (a ticket key, a run id).
    state: Mapped[dict[str, Any]] = mapped_column(PortableJSON, default=dict)
    every_seconds: Mapped[float] = mapped_column(Float)
    #: When the periodic check looks next (never later than the deadline).
    next_check_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    deadline_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    timeout_message: Mapped[str] = mapped_column(Text)
    #: The last problem a check ran into, so each distinct one is logged once.
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
    #: How it ended: completed, failed, timed_out or aborted (None while open).
    outcome: Mapped[str | None] = mapped_column(String(20), default=None)
    #: Indexed: the notify dispatcher reads approval waits created since its cursor.
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)


class WaitApprover(Base):
    """Who may decide an approval: members of a team holding at least a role, or one
    person by email (exactly one of the two per row)."""

    __tablename__ = "wait_approvers"

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    wait_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("task_waits.id", ondelete="CASCADE"), index=True
    )
    team_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("teams.id", ondelete="CASCADE"), default=None, index=True
    )
    min_role: Mapped[int | None] = mapped_column(Integer, default=None)
    email: Mapped[str | None] = mapped_column(String(320), default=None, index=True)


class ApprovalDecision(UUIDPrimaryKey, Base):
    """One person's approval or rejection of one wait (one decision per person)."""

    __tablename__ = "approval_decisions"
    __table_args__ = (UniqueConstraint("wait_id", "user_id"),)

    wait_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("task_waits.id", ondelete="CASCADE"))
    request_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("requests.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    email: Mapped[str] = mapped_column(String(320))
    decision: Mapped[str] = mapped_column(String(10))
    comment: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
