"""Escalation policies: create, read, replace, delete; managed like channels and rules.
A level sends to channels the policy's owner may use (the organisation's, and its team's
for a team's policy)."""

from __future__ import annotations

import uuid

from sqlalchemy import Select, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from loom.audit import service as audit
from loom.auth.principal import Principal
from loom.errors import FieldIssue, InvalidInput, NotFound
from loom.notify import schemas
from loom.notify.channels_service import name_free, owning_team, require_manager
from loom.notify.models import Channel, Policy


def list_query(principal: Principal) -> Select[Policy]:
    stmt = select(Policy).where(Policy.org_id == principal.org_id)
    if principal.sees_all_teams:
        return stmt
    return stmt.where(or_(Policy.team_id.is_(None), Policy.team_id.in_(principal.team_ids)))


async def get_policy(session: AsyncSession, principal: Principal, ref: str | uuid.UUID) -> Policy:
    """A policy by id or name."""
    stmt = list_query(principal)
    try:
        found = await session.scalar(stmt.where(Policy.id == uuid.UUID(str(ref))))
    except ValueError:
        found = await session.scalar(stmt.where(Policy.name == str(ref)))
    if found is None:
        raise NotFound(f"escalation policy '{ref}' not found")
    return found


async def usable_channels(
    session: AsyncSession,
    principal: Principal,
    team_id: uuid.UUID | None,
    given: list[str],
    field: str,
) -> list[str]:
    """The ids of the channels named (by name or id) that an object of `team_id` may
    use; an unknown one is refused naming `field[i]`."""
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
            issue = f"no channel '{name}' usable here"
            issues.append(FieldIssue(f"{field}[{index}]", issue))
        elif str(channel.id) not in out:
            out.append(str(channel.id))
    if issues:
        raise InvalidInput("unknown channels", issues)
    return out


async def save_policy(
    session: AsyncSession,
    principal: Principal,
    body: schemas.PolicyIn,
    policy_id: uuid.UUID | None = None,
) -> Policy:
    """Create a policy, or replace policy `policy_id` with `body`."""
    team_id = await owning_team(session, principal, body.team)
    await require_manager(session, principal, team_id)
    levels = [
        {"delay_minutes": level.delay_minutes,
         "channel_ids": await usable_channels(session, principal, team_id, level.channels,
                                              f"levels[{n}].channels")}
        for n, level in enumerate(body.levels)
    ]  # fmt: skip
    if policy_id is None:
        await name_free(session, Policy, principal.org_id, body.name)
        policy = Policy(org_id=principal.org_id, name=body.name, created_by=principal.email)
        session.add(policy)
        before = None
    else:
        policy = await get_policy(session, principal, policy_id)
        await require_manager(session, principal, policy.team_id)
        before = _audited(policy)
        if body.name != policy.name:
            await name_free(session, Policy, principal.org_id, body.name)
    policy.name, policy.team_id, policy.levels, policy.repeat = (
        body.name,
        team_id,
        levels,
        body.repeat,
    )
    await session.flush()
    await audit.record(
        session, org_id=principal.org_id, actor=principal,
        action="notify_policy.create" if before is None else "notify_policy.update",
        target_type="notify_policy", target_id=policy.id, team_id=team_id, before=before,
        after=_audited(policy),
    )  # fmt: skip
    return policy


async def delete_policy(session: AsyncSession, principal: Principal, policy_id: uuid.UUID) -> None:
    policy = await get_policy(session, principal, policy_id)
    await require_manager(session, principal, policy.team_id)
    await audit.record(
        session, org_id=principal.org_id, actor=principal, action="notify_policy.delete",
        target_type="notify_policy", target_id=policy.id, team_id=policy.team_id,
        before=_audited(policy),
    )  # fmt: skip
    await session.delete(policy)


def _audited(policy: Policy) -> dict[str, object]:
    return {"name": policy.name, "levels": policy.levels, "repeat": policy.repeat}
