"""Rules: create, read, replace, delete. Managed like channels (an organisation's rules by
its admins, a team's by the team's admins); a team's rule may send to the organisation's
channels and its own team's."""

from __future__ import annotations

import uuid

from sqlalchemy import Select, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from loom.audit import service as audit
from loom.auth.principal import Principal
from loom.errors import InvalidInput, NotFound
from loom.notify import schemas
from loom.notify.channels_service import name_free, owning_team, require_manager
from loom.notify.message import NotifyEvent
from loom.notify.models import Rule
from loom.notify.policies_service import get_policy, usable_channels


def list_query(principal: Principal) -> Select[Rule]:
    stmt = select(Rule).where(Rule.org_id == principal.org_id)
    if principal.sees_all_teams:
        return stmt
    return stmt.where(or_(Rule.team_id.is_(None), Rule.team_id.in_(principal.team_ids)))


async def get_rule(session: AsyncSession, principal: Principal, rule_id: uuid.UUID) -> Rule:
    found = await session.scalar(list_query(principal).where(Rule.id == rule_id))
    if found is None:
        raise NotFound(f"rule '{rule_id}' not found")
    return found


async def save_rule(
    session: AsyncSession,
    principal: Principal,
    body: schemas.RuleIn,
    rule_id: uuid.UUID | None = None,
) -> Rule:
    """Create a rule, or replace rule `rule_id` with `body`."""
    team_id = await owning_team(session, principal, body.team)
    await require_manager(session, principal, team_id)
    for event in (NotifyEvent.TEST, NotifyEvent.UPDATED):  # not routed by rules
        if event in body.events:
            raise InvalidInput.on("events", f"'{event.value}' is not an event rules can match")
    channel_ids = await usable_channels(session, principal, team_id, body.channels, "channels")
    policy_id = None
    if body.policy is not None:
        try:
            policy = await get_policy(session, principal, body.policy)
        except NotFound:
            raise InvalidInput.on("policy", f"no escalation policy '{body.policy}'") from None
        if policy.team_id not in (None, team_id):
            raise InvalidInput.on("policy", "a policy of another team")
        policy_id = policy.id
    if not channel_ids and policy_id is None:
        raise InvalidInput.on("channels", "name at least one channel, or a policy")
    conditions = {"severities": body.severities, "services": body.services,
                  "environments": body.environments, "labels": body.labels,
                  "time_of_day": body.time_of_day.model_dump(by_alias=True)
                  if body.time_of_day else None}  # fmt: skip
    if rule_id is None:
        await name_free(session, Rule, principal.org_id, body.name)
        rule = Rule(org_id=principal.org_id, created_by=principal.email, name=body.name)
        session.add(rule)
        before = None
    else:
        rule = await get_rule(session, principal, rule_id)
        await require_manager(session, principal, rule.team_id)
        before = _audited(rule)
        if body.name != rule.name:
            await name_free(session, Rule, principal.org_id, body.name)
    rule.name, rule.team_id, rule.position = body.name, team_id, body.position
    rule.events = [e.value for e in body.events]
    rule.conditions, rule.channel_ids, rule.policy_id = conditions, channel_ids, policy_id
    rule.stop, rule.enabled, rule.max_per_hour = body.stop, body.enabled, body.max_per_hour
    await session.flush()
    await audit.record(
        session, org_id=principal.org_id, actor=principal,
        action="notify_rule.create" if before is None else "notify_rule.update",
        target_type="notify_rule", target_id=rule.id, team_id=team_id, before=before,
        after=_audited(rule),
    )  # fmt: skip
    return rule


async def delete_rule(session: AsyncSession, principal: Principal, rule_id: uuid.UUID) -> None:
    rule = await get_rule(session, principal, rule_id)
    await require_manager(session, principal, rule.team_id)
    await audit.record(
        session, org_id=principal.org_id, actor=principal, action="notify_rule.delete",
        target_type="notify_rule", target_id=rule.id, team_id=rule.team_id,
        before=_audited(rule),
    )  # fmt: skip
    await session.delete(rule)


def _audited(rule: Rule) -> dict[str, object]:
    return {"name": rule.name, "position": rule.position, "events": rule.events,
            "conditions": rule.conditions, "channels": rule.channel_ids,
            "policy": str(rule.policy_id) if rule.policy_id else None, "stop": rule.stop,
            "enabled": rule.enabled, "max_per_hour": rule.max_per_hour}  # fmt: skip
