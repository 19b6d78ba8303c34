"""Writing and reading the audit log. `record()` runs inside the caller's transaction, so
an entry exists exactly when the change it describes was committed."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from loom.audit import raw
from loom.audit.chain import GENESIS, ChainProblem, entry_hash, verify_chain
from loom.audit.entry import Actor as Actor
from loom.audit.entry import draft
from loom.audit.models import AuditChainHead, AuditEntry
from loom.auth.principal import Principal
from loom.auth.roles import Role
from loom.db.raw import in_transaction


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
) -> None:
    """Append an entry to the organisation's chain, in the session's transaction."""
    fields = draft(
        org_id=org_id, actor=actor, action=action, target_type=target_type,
        target_id=target_id, team_id=team_id, before=before, after=after,
    )  # fmt: skip
    await session.flush()  # what the entry points at (a new organisation) exists first
    if session.get_bind().dialect.name == "postgresql":
        await raw.append(await in_transaction(session), fields)
        return
    entry = fields.entry()
    # SQLite: the transaction already holds the database's write lock (BEGIN IMMEDIATE).
    head = (
        await session.execute(
            select(AuditChainHead.seq, AuditChainHead.hash).where(AuditChainHead.org_id == org_id)
        )
    ).first()
    entry.seq, entry.prev_hash = (head.seq + 1, head.hash) if head else (1, GENESIS)
    entry.hash = entry_hash(entry)
    link = {"seq": entry.seq, "prev_hash": entry.prev_hash, "hash": entry.hash}
    if head is None:
        await session.execute(insert(AuditChainHead).values(org_id=org_id, **link))
    else:
        await session.execute(
            update(AuditChainHead).where(AuditChainHead.org_id == org_id).values(**link)
        )
    session.add(entry)
    await session.flush()


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
    head = (
        await session.execute(
            select(AuditChainHead.seq, AuditChainHead.hash).where(AuditChainHead.org_id == org_id)
        )
    ).first()
    return verify_chain(entries, (head.seq, head.hash) if head else None)
