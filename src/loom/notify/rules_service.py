"""Rules: create, read, replace, delete. Managed like channels (an organisation's rules by
its admins, a team's by the team's admins); a team's rule may send to the organisation's
channels and its own team's."""

from __future__ import annotations

import uuid

from sqlalchemy import Select, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from loom.audit import service as audit
from loom.auth.principal import Principal
from loom.errors import FieldIssue, InvalidInput, NotFound
from loom.notify import schemas
from loom.notify.channels_service import name_free, owning_team, require_manager
from loom.notify.message import NotifyEvent
from loom.notify.models import Channel, Rule


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


async def _channels(
    session: AsyncSession, principal: Principal, team_id: uuid.UUID | None, given: list[str]
) -> list[str]:
    """The ids of the channels named (by name or id) that a rule of `team_id` may use."""
    usable = select(Channel).where(
        Channel.org_id == principal.org_id,
        or_(Channel.team_id.is_(None), Channel.team_id == team_id),
    )
    found = {c.name: c for c in await session.scalars(usable)}
    by_id = {str(c.id): c for c in found.values()}
    out, issues = [], []
    for index, name in enumerate(given):
        channel = found.get(name) or by_id.get(name)
        if channel is None:
            issues.append(
                FieldIssue(f"channels[{index}]", f"no channel '{name}' this rule may use")
            )
        elif str(channel.id) not in out:
            out.append(str(channel.id))
    if issues:
        raise InvalidInput("unknown channels", issues)
    return out


async def save_rule(
    session: AsyncSession,
    principal: Principal,
    body: schemas.RuleIn,
    rule_id: uuid.UUID | None = None,
) -> Rule:
    """Create a rule, or replace rule `rule_id` with `body`."""
    team_id = await owning_team(session, principal, body.team)
    await require_manager(session, principal, team_id)
    if NotifyEvent.TEST in body.events:
        raise InvalidInput.on("events", "'test' is not an event rules can match")
    channel_ids = await _channels(session, principal, team_id, body.channels)
    conditions = {"severities": body.severities, "services": body.services,
                  "environments": body.environments}  # fmt: skip
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
    rule.conditions, rule.channel_ids = conditions, channel_ids
    rule.stop, rule.enabled = body.stop, body.enabled
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
            "conditions": rule.conditions, "channels": rule.channel_ids, "stop": rule.stop,
            "enabled": rule.enabled}  # fmt: skip
