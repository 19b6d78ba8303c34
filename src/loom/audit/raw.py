"""Appending an audit entry on PostgreSQL in one statement, or as part of the caller's
statement (the hot paths of loom.db.raw fold it into their last write).

The chain's head row (`audit_chain_heads`) is upserted first: the upsert locks the row
and, even after waiting for another writer, computes from its newest version, so the
entry links to the entry before it with no separate lock or read. The database hashes
the text `chain.chained_text` describes, from the parts Python encoded
(`chain.canonical_parts`): the same hash `chain.entry_hash` checks.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from loom.audit.chain import GENESIS, canonical_parts
from loom.audit.entry import Actor, Draft, draft
from loom.auth.principal import Principal
from loom.db.raw import Statement


def _hash(prev: str, seq: str) -> str:
    text = f':audit_prefix::text || {prev} || \'","seq":\' || {seq} || :audit_suffix::text'
    return f"encode(sha256(convert_to({text}, 'UTF8')), 'hex')"


#: CTEs appending one entry when `:audit_org` is not null (nothing otherwise); goes last in
#: a WITH list. The head row stays locked until the transaction ends: append in the last
#: statement of a transaction, so other writers of the organisation wait the least.
CHAIN = f"""
    audit_head AS (
        INSERT INTO audit_chain_heads AS h (org_id, seq, prev_hash, hash)
        SELECT :audit_org::uuid, 1, :genesis::text, {_hash(":genesis::text", "'1'")}
        WHERE :audit_org::uuid IS NOT NULL
        ON CONFLICT (org_id) DO UPDATE
            SET seq = h.seq + 1, prev_hash = h.hash,
                hash = {_hash("h.hash", "(h.seq + 1)::text")}
        RETURNING seq, prev_hash, hash
    ), audit_entry AS (
        INSERT INTO audit_entries (org_id, seq, created_at, actor_type, actor_id, actor_name,
            action, target_type, target_id, team_id, correlation_id, before, after,
            prev_hash, hash)
        SELECT :audit_org::uuid, head.seq, :audit_at::timestamptz, :audit_actor_type::text,
            :audit_actor_id::uuid, :audit_actor_name::text, :audit_action::text,
            :audit_target_type::text, :audit_target_id::text, :audit_team::uuid,
            :audit_cid::text, :audit_before::jsonb, :audit_after::jsonb, head.prev_hash,
            head.hash
        FROM audit_head head
    )
"""  # noqa: S608 - the text formatted in is built from constants

RECORD = Statement.of(f"WITH {CHAIN} SELECT 1")

_NONE: dict[str, Any] = {
    "audit_org": None, "audit_at": None, "audit_actor_type": None, "audit_actor_id": None,
    "audit_actor_name": None, "audit_action": None, "audit_target_type": None,
    "audit_target_id": None, "audit_team": None, "audit_cid": None, "audit_before": None,
    "audit_after": None, "audit_prefix": None, "audit_suffix": None, "genesis": GENESIS,
}  # fmt: skip


def no_entry() -> dict[str, Any]:
    """The CHAIN parameters of a statement that appends nothing this time."""
    return dict(_NONE)


def entry_params(
    *,
    org_id: uuid.UUID,
    actor: Actor | Principal,
    action: str,
    target_type: str,
    target_id: Any,
    team_id: uuid.UUID | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The CHAIN parameters appending this entry (the arguments of `service.record`)."""
    entry = draft(
        org_id=org_id, actor=actor, action=action, target_type=target_type,
        target_id=target_id, team_id=team_id, before=before, after=after,
    )  # fmt: skip
    return _params(entry)


def _params(entry: Draft) -> dict[str, Any]:
    prefix, suffix = canonical_parts(entry)
    return {
        "audit_org": entry.org_id, "audit_at": entry.created_at,
        "audit_actor_type": entry.actor_type, "audit_actor_id": entry.actor_id,
        "audit_actor_name": entry.actor_name, "audit_action": entry.action,
        "audit_target_type": entry.target_type, "audit_target_id": entry.target_id,
        "audit_team": entry.team_id, "audit_cid": entry.correlation_id,
        "audit_before": _json(entry.before), "audit_after": _json(entry.after),
        "audit_prefix": prefix, "audit_suffix": suffix, "genesis": GENESIS,
    }  # fmt: skip


async def append(connection: Any, entry: Draft) -> None:
    """Append `entry` on a raw asyncpg connection."""
    await RECORD.fetch(connection, **_params(entry))


def _json(value: dict[str, Any] | None) -> str | None:
    return None if value is None else json.dumps(value, separators=(",", ":"), default=str)
