"""Writing and reading the audit log. `record()` runs inside the caller's transaction, so
an entry exists exactly when the change it describes was committed."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from loom.api.correlation import correlation_id
from loom.audit.chain import GENESIS, ChainProblem, entry_hash, verify_chain
from loom.audit.masking import mask_secrets
from loom.audit.models import AuditEntry
from loom.auth.principal import Principal
from loom.auth.roles import Role
from loom.db.types import utcnow


@dataclass(frozen=True)
class Actor:
    type: str
    id: uuid.UUID | None
    name: str

    @classmethod
    def of(cls, principal: Principal) -> Actor:
        return cls("user", principal.user_id, principal.email)

    @classmethod
    def system(cls, name: str = "loom") -> Actor:
        return cls("system", None, name)


async def _lock_chain(session: AsyncSession, org_id: uuid.UUID) -> None:
    # SQLite transactions already hold the write lock (BEGIN IMMEDIATE); PostgreSQL needs
    # an explicit lock so two writers never link to the same previous entry.
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(
            text("SELECT pg_advisory_xact_lock(hashtextextended(:k, 0))"), {"k": f"audit:{org_id}"}
        )


async def record(
    session: AsyncSession,
    *,
    org_id: uuid.UUID,
    actor: Actor | Principal,
    action: str,
    target_type: str,
    target_id: Any,
    team_id: uuid.UUID | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> AuditEntry:
    await _lock_chain(session, org_id)
    last = (
        await session.execute(
            select(AuditEntry.seq, AuditEntry.hash)
            .where(AuditEntry.org_id == org_id)
            .order_by(AuditEntry.seq.desc())
            .limit(1)
        )
    ).first()
    entry = chained_entry(
        (last.seq, last.hash) if last else None, org_id=org_id, actor=actor, action=action,
        target_type=target_type, target_id=target_id, team_id=team_id, before=before,
        after=after,
    )  # fmt: skip
    session.add(entry)
    await session.flush()
    return entry


def chained_entry(
    last: tuple[int, str] | None,
    *,
    org_id: uuid.UUID,
    actor: Actor | Principal,
    action: str,
    target_type: str,
    target_id: Any,
    team_id: uuid.UUID | None,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
) -> AuditEntry:
    """The next entry of the chain whose last entry is `last` (its seq and hash; None for
    the first), hashed; not added to any session."""
    seq, prev_hash = (last[0] + 1, last[1]) if last else (1, GENESIS)
    if isinstance(actor, Principal):
        actor = Actor.of(actor)
    entry = AuditEntry(
        org_id=org_id,
        seq=seq,
        created_at=utcnow(),
        actor_type=actor.type,
        actor_id=actor.id,
        actor_name=actor.name,
        action=action,
        target_type=target_type,
        target_id=str(target_id),
        team_id=team_id,
        correlation_id=correlation_id(),
        before=mask_secrets(before) if before is not None else None,
        after=mask_secrets(after) if after is not None else None,
        prev_hash=prev_hash,
    )
    entry.hash = entry_hash(entry)
    return entry


@dataclass
class AuditFilter:
    actor_id: uuid.UUID | None = None
    action: str | None = None
    target_type: str | None = None
    target_id: str | None = None
    team_id: uuid.UUID | None = None
    correlation_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None


def query(principal: Principal, flt: AuditFilter) -> Select[Any]:
    """Entries the principal may read: org admins read all, others their teams' entries."""
    stmt = select(AuditEntry).where(AuditEntry.org_id == principal.org_id)
    if principal.org_role < Role.ADMIN:
        stmt = stmt.where(AuditEntry.team_id.in_(principal.team_ids))
    for name in ("actor_id", "action", "target_type", "target_id", "team_id", "correlation_id"):
        value = getattr(flt, name)
        if value is not None:
            stmt = stmt.where(getattr(AuditEntry, name) == value)
    if flt.since is not None:
        stmt = stmt.where(AuditEntry.created_at >= flt.since)
    if flt.until is not None:
        stmt = stmt.where(AuditEntry.created_at < flt.until)
    return stmt


async def _chain(session: AsyncSession, org_id: uuid.UUID) -> AsyncIterator[AuditEntry]:
    stream = await session.stream_scalars(
        select(AuditEntry).where(AuditEntry.org_id == org_id).order_by(AuditEntry.seq)
    )
    async for entry in stream:
        yield entry


async def verify(session: AsyncSession, org_id: uuid.UUID) -> tuple[int, list[ChainProblem]]:
    entries = [entry async for entry in _chain(session, org_id)]
    return verify_chain(entries)
