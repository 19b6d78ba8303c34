"""Scorecard rules in the database: stored from a catalog sync, read for evaluation.

Like catalog items: a rule whose document changed is replaced, one that became invalid
(or sits in an unreadable file) keeps counting in its last good version, marked stale,
and one removed from the repository is deleted. Audited as the sync's actor.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from loom.audit import service as audit
from loom.auth.principal import Principal
from loom.catalog.extensions import KindBatch, KindProblem
from loom.db.types import utcnow
from loom.services.scorecard_models import ScorecardRule
from loom.services.scorecard_rules import ScorecardRuleDocument


async def apply_rules(
    session: AsyncSession, org_id: uuid.UUID, batch: KindBatch, actor: audit.Actor | Principal
) -> list[KindProblem]:
    now = utcnow()
    rows = await session.scalars(select(ScorecardRule).where(ScorecardRule.org_id == org_id))
    existing = {row.rule_id: row for row in rows}
    for entry in batch.entries:
        document: ScorecardRuleDocument = entry.document
        row = existing.pop(entry.id, None)
        definition = document.model_dump(mode="json", by_alias=True, exclude_unset=True)
        if row is None:
            row = ScorecardRule(org_id=org_id, rule_id=entry.id)
            session.add(row)
            action, before = "scorecard_rule.create", None
        elif row.digest != entry.digest:
            action, before = "scorecard_rule.update", row.definition
        else:
            action, before = "", None
        row.title, row.level = document.metadata.title, document.spec.level.value
        row.definition, row.digest = definition, entry.digest
        row.source_file, row.commit_sha = entry.file, batch.commit
        row.stale, row.synced_at = False, now
        if action:
            await _audit(session, org_id, actor, row, action, before=before, after=definition)
    for rule_id, row in existing.items():
        if rule_id in batch.rejected or batch.unreadable:
            row.stale = True
        else:
            await session.delete(row)
            await _audit(
                session, org_id, actor, row, "scorecard_rule.delete", before=row.definition
            )
    await session.flush()
    return []


async def rules_of(session: AsyncSession, org_id: uuid.UUID) -> list[ScorecardRuleDocument]:
    """The organisation's rules, by id."""
    rows = await session.scalars(
        select(ScorecardRule).where(ScorecardRule.org_id == org_id).order_by(ScorecardRule.rule_id)
    )
    return [ScorecardRuleDocument.model_validate(row.definition) for row in rows]


def rules_query(org_id: uuid.UUID) -> Select[Any]:
    return select(ScorecardRule).where(ScorecardRule.org_id == org_id)


async def _audit(
    session: AsyncSession,
    org_id: uuid.UUID,
    actor: audit.Actor | Principal,
    row: ScorecardRule,
    action: str,
    *,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> None:
    await session.flush()
    await audit.record(
        session, org_id=org_id, actor=actor, action=action, target_type="scorecard_rule",
        target_id=row.rule_id, before=before, after=after,
    )  # fmt: skip
