"""Escalation policies: create, read, replace, delete; managed like channels and rules.
A level sends to channels the policy's owner may use (the organisation's, and its team's
for a team's policy), and pages people: users (by e-mail), teams (by slug) and schedules
(by name, those the caller sees), stored as ids."""

from __future__ import annotations

import uuid

from sqlalchemy import ColumnElement, Select, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from loom.audit import service as audit
from loom.auth.models import Team, User
from loom.auth.principal import Principal
from loom.errors import FieldIssue, InvalidInput, NotFound
from loom.notify import schedules_service, schemas
from loom.notify.channels_service import name_free, owning_team, require_manager
from loom.notify.models import Channel, Policy, Schedule


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


async def _people(
    session: AsyncSession, principal: Principal, level: schemas.PolicyLevel, field: str
) -> dict[str, list[str]]:
    """The ids of the users (active, of the organisation), teams (of the organisation)
    and schedules (those the caller sees) a level names; unknown ones refused, each
    naming `field.users[i]` (teams, schedules)."""
    users = await session.execute(
        select(User.email, User.id).where(User.org_id == principal.org_id,
                                          User.email.in_(level.users), User.is_active.is_(True))
    )  # fmt: skip
    teams = await session.execute(
        select(Team.slug, Team.id).where(Team.org_id == principal.org_id,
                                         Team.slug.in_(level.teams) | _id_in(Team.id, level.teams))
    )  # fmt: skip
    schedules = await session.execute(
        schedules_service.list_query(principal)
        .with_only_columns(Schedule.name, Schedule.id)
        .where(Schedule.name.in_(level.schedules) | _id_in(Schedule.id, level.schedules))
    )
    issues: list[FieldIssue] = []
    out = {
        "user_ids": _ids(dict(users.all()), level.users, f"{field}.users", issues,
                         "no active user '{}' in this organisation"),
        "team_ids": _ids(dict(teams.all()), level.teams, f"{field}.teams", issues,
                         "no team '{}' in this organisation"),
        "schedule_ids": _ids(dict(schedules.all()), level.schedules,
                             f"{field}.schedules", issues, "no schedule '{}' usable here"),
    }  # fmt: skip
    if issues:
        raise InvalidInput("unknown users, teams or schedules", issues)
    return out


def _id_in(column: InstrumentedAttribute[uuid.UUID], given: list[str]) -> ColumnElement[bool]:
    """`column` is one of the values of `given` that are ids (the others are names)."""
    ids = []
    for value in given:
        try:
            ids.append(uuid.UUID(value))
        except ValueError:
            continue
    return column.in_(ids)


def _ids(
    found: dict[str, uuid.UUID], given: list[str], field: str, issues: list[FieldIssue],
    issue: str,
) -> list[str]:  # fmt: skip
    """The ids of `given` (names or ids), in order, without repeats; an unknown one adds
    an issue naming `field[i]`."""
    known = found | {str(i): i for i in found.values()}
    out: list[str] = []
    for index, name in enumerate(given):
        if name not in known:
            issues.append(FieldIssue(f"{field}[{index}]", issue.format(name)))
        elif str(known[name]) not in out:
            out.append(str(known[name]))
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
                                              f"levels[{n}].channels"),
         **await _people(session, principal, level, f"levels[{n}]")}
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
