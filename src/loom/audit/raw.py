"""Recording an audit entry on a raw asyncpg connection, inside the caller's transaction
(PostgreSQL hot paths, see loom.db.raw). The same chain as `service.record`: the same
advisory lock, the same entry and hash; only the statements are sent directly."""

from __future__ import annotations

import json
import uuid
from typing import Any

from loom.audit.service import Actor, chained_entry
from loom.auth.principal import Principal
from loom.db.raw import Statement

#: Two statements, not one: a statement's snapshot is taken before it waits for the
#: lock, so the last entry must be read by a statement that starts after it is held.
LOCK_CHAIN = Statement.of("SELECT pg_advisory_xact_lock(hashtextextended(:key::text, 0))")
LAST = Statement.of(
    "SELECT e.seq, e.hash FROM audit_entries e WHERE e.org_id = :org_id::uuid"
    " ORDER BY e.seq DESC LIMIT 1"
)
INSERT = Statement.of(
    """
    INSERT INTO audit_entries (org_id, seq, created_at, actor_type, actor_id, actor_name,
        action, target_type, target_id, team_id, correlation_id, before, after, prev_hash,
        hash)
    VALUES (:org_id::uuid, :seq::bigint, :created_at::timestamptz, :actor_type::text,
        :actor_id::uuid, :actor_name::text, :action::text, :target_type::text,
        :target_id::text, :team_id::uuid, :correlation_id::text, :before::jsonb,
        :after::jsonb, :prev_hash::text, :hash::text)
    """
)


async def record_on(
    connection: Any,
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
    """Chain and insert one entry. The chain stays locked until the caller commits: record
    last in a transaction."""
    await LOCK_CHAIN.fetch(connection, key=f"audit:{org_id}")
    rows = await LAST.fetch(connection, org_id=org_id)
    entry = chained_entry(
        (rows[0][0], rows[0][1]) if rows else None, org_id=org_id, actor=actor, action=action,
        target_type=target_type, target_id=target_id, team_id=team_id, before=before,
        after=after,
    )  # fmt: skip
    await INSERT.fetch(
        connection,
        org_id=entry.org_id, seq=entry.seq, created_at=entry.created_at,
        actor_type=entry.actor_type, actor_id=entry.actor_id, actor_name=entry.actor_name,
        action=entry.action, target_type=entry.target_type, target_id=entry.target_id,
        team_id=entry.team_id, correlation_id=entry.correlation_id,
        before=_json(entry.before), after=_json(entry.after), prev_hash=entry.prev_hash,
        hash=entry.hash,
    )  # fmt: skip


def _json(value: dict[str, Any] | None) -> str | None:
    return None if value is None else json.dumps(value, separators=(",", ":"), default=str)
