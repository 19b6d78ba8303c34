"""The hash chain: how an entry's hash is computed and how a chain is checked."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from loom.audit.entry import Draft
from loom.audit.models import AuditEntry

GENESIS = "0" * 64


def entry_hash(entry: AuditEntry) -> str:
    """SHA-256 over the previous hash and every recorded field, canonically encoded."""
    prefix, suffix = canonical_parts(Draft.of(entry))
    text = chained_text(prefix, entry.prev_hash, entry.seq, suffix)
    return hashlib.sha256(text.encode()).hexdigest()


def canonical_parts(entry: Draft) -> tuple[str, str]:
    """The entry's canonical JSON around its link to the chain: the text hashed is
    `chained_text(prefix, prev_hash, seq, suffix)`. Split so that the database can
    hash an entry once it holds the chain's head (loom.audit.raw): the link is known only
    then."""
    payload: dict[str, Any] = {
        "org": str(entry.org_id),
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
    # Keys are sorted: those before "prev" and "seq", and those after them.
    head = {k: v for k, v in payload.items() if k < "prev"}
    tail = {k: v for k, v in payload.items() if k > "seq"}
    return _canonical(head)[:-1] + ',"prev":"', "," + _canonical(tail)[1:]


def chained_text(prefix: str, prev_hash: str, seq: int, suffix: str) -> str:
    """The canonical JSON of an entry (sorted keys, no spaces, ASCII) from its parts; the
    database builds the same text in SQL (loom.audit.raw.CHAIN)."""
    return f'{prefix}{prev_hash}","seq":{seq}{suffix}'


def _canonical(value: dict[str, Any]) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


@dataclass(frozen=True)
class ChainProblem:
    seq: int
    problem: str


def verify_chain(
    entries: Iterable[AuditEntry], head: tuple[int, str] | None = None
) -> tuple[int, list[ChainProblem]]:
    """Walk one organisation's entries in seq order and check the walk ends at the
    chain's `head` (its seq and hash, as the chain-head row has them); return (count,
    problems)."""
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
    if head is not None and (expected_seq - 1, expected_prev) != head:
        problems.append(
            ChainProblem(head[0], "the chain ends before its head (newest entries deleted?)")
        )
    return count, problems
