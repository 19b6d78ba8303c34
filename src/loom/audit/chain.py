"""The hash chain: how an entry's hash is computed and how a chain is checked."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from loom.audit.models import AuditEntry

GENESIS = "0" * 64


def entry_hash(entry: AuditEntry) -> str:
    """SHA-256 over the previous hash and every recorded field, canonically encoded."""
    payload: dict[str, Any] = {
        "prev": entry.prev_hash,
        "org": str(entry.org_id),
        "seq": entry.seq,
        "at": entry.created_at.isoformat(),
        "actor": [
            entry.actor_type,
            str(entry.actor_id) if entry.actor_id else None,
            entry.actor_name,
        ],
        "action": entry.action,
        "target": [entry.target_type, entry.target_id],
        "team": str(entry.team_id) if entry.team_id else None,
        "cid": entry.correlation_id,
        "before": entry.before,
        "after": entry.after,
    }
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class ChainProblem:
    seq: int
    problem: str


def verify_chain(entries: Iterable[AuditEntry]) -> tuple[int, list[ChainProblem]]:
    """Walk one organisation's entries in seq order; return (count, problems)."""
    problems: list[ChainProblem] = []
    expected_prev, expected_seq, count = GENESIS, 1, 0
    for entry in entries:
        count += 1
        if entry.seq != expected_seq:
            problems.append(
                ChainProblem(entry.seq, f"sequence gap: expected {expected_seq} (entry deleted?)")
            )
        if entry.prev_hash != expected_prev:
            problems.append(
                ChainProblem(entry.seq, "previous-hash link broken (entry deleted or edited)")
            )
        if entry_hash(entry) != entry.hash:
            problems.append(
                ChainProblem(entry.seq, "content does not match its hash (entry edited)")
            )
        expected_prev, expected_seq = entry.hash, entry.seq + 1
    return count, problems
