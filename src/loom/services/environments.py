"""Environments: where an organisation deploys its services, in promotion order (rank).

An organisation that has never configured any gets dev, staging and production the
first time anything asks for its environments (lazily, so organisations need no seeding
step and this domain none in auth); after that they are the admins' to change, and the
last one cannot be removed. No HTTP here; the caller owns the transaction.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy import exists, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from loom.audit import service as audit
from loom.audit.service import Actor
from loom.auth.principal import Principal
from loom.auth.roles import Role
from loom.errors import Conflict, FieldIssue, InvalidInput, NotFound, RejectedInput
from loom.services import deployment_schemas as schemas
from loom.services.models import Environment, ServiceDeployment

#: What an organisation starts with: (slug, name, rank, production). Ranks leave room
#: to put an environment between two others.
DEFAULTS = (
    ("dev", "Development", 10, False),
    ("staging", "Staging", 20, False),
    ("production", "Production", 30, True),
)


def environment_out(env: Environment) -> schemas.Environment:
    return schemas.Environment(
        slug=env.slug,
        name=env.name,
        rank=env.rank,
        production=env.production,
        drift_threshold_hours=env.drift_threshold_hours,
        created_at=env.created_at,
        updated_at=env.updated_at,
    )


def threshold(env: Environment, default_hours: int) -> timedelta:
    """How long `env` may run another version than the environment before it."""
    return timedelta(hours=env.drift_threshold_hours or default_hours)


async def ensure_environments(session: AsyncSession, org_id: uuid.UUID) -> list[Environment]:
    """The organisation's environments by rank, creating the defaults if it has none."""
    envs = await _ranked(session, org_id)
    if envs:
        return envs
    try:
        # A savepoint: a concurrent first request that seeded them too only costs a re-read.
        async with session.begin_nested():
            session.add_all(
                Environment(org_id=org_id, slug=slug, name=name, rank=rank, production=prod)
                for slug, name, rank, prod in DEFAULTS
            )
            await session.flush()
    except IntegrityError:
        return await _ranked(session, org_id)
    envs = await _ranked(session, org_id)
    await audit.record(
        session, org_id=org_id, actor=Actor.system(), action="environment.seed",
        target_type="organization", target_id=org_id,
        after={"environments": [e.slug for e in envs]},
    )  # fmt: skip
    return envs


async def _ranked(session: AsyncSession, org_id: uuid.UUID) -> list[Environment]:
    stmt = select(Environment).where(Environment.org_id == org_id).order_by(Environment.rank)
    return list((await session.scalars(stmt)).all())


async def environment_named(
    session: AsyncSession, org_id: uuid.UUID, slug: str, field: str = "environment"
) -> Environment:
    """An environment of the organisation, for input that names one (400 otherwise)."""
    envs = await ensure_environments(session, org_id)
    for env in envs:
        if env.slug == slug:
            return env
    known = ", ".join(e.slug for e in envs)
    raise RejectedInput.on(field, f"no environment '{slug}' (known: {known})")


async def _get(session: AsyncSession, principal: Principal, slug: str) -> Environment:
    for env in await ensure_environments(session, principal.org_id):
        if env.slug == slug:
            return env
    raise NotFound(f"environment '{slug}' not found")


async def create_environment(
    session: AsyncSession, principal: Principal, body: schemas.EnvironmentCreate
) -> Environment:
    principal.require_org_role(Role.ADMIN)
    await ensure_environments(session, principal.org_id)  # the defaults come first
    await _check_free(session, principal.org_id, slug=body.slug, rank=body.rank)
    env = Environment(org_id=principal.org_id, **body.model_dump())
    session.add(env)
    await _flush_or(session, Conflict("an environment with this slug or rank already exists"))
    await _audit(session, principal, env, "environment.create", after=_data(env))
    return env


async def update_environment(
    session: AsyncSession, principal: Principal, slug: str, body: schemas.EnvironmentUpdate
) -> Environment:
    principal.require_org_role(Role.ADMIN)
    env = await _get(session, principal, slug)
    sent = body.model_dump(include=body.model_fields_set)
    for key, value in sent.items():
        if value is None and key != "drift_threshold_hours":
            raise InvalidInput.on(key, "cannot be null")
    if "rank" in sent and sent["rank"] != env.rank:
        await _check_free(session, principal.org_id, rank=sent["rank"])
    before = _data(env)
    for key, value in sent.items():
        setattr(env, key, value)
    await _flush_or(session, Conflict(f"rank {env.rank} is taken"))
    after = _data(env)
    changed = [k for k in after if after[k] != before[k]]
    if changed:
        await _audit(
            session, principal, env, "environment.update",
            before={k: before[k] for k in changed}, after={k: after[k] for k in changed},
        )  # fmt: skip
    return env


async def delete_environment(session: AsyncSession, principal: Principal, slug: str) -> None:
    """Remove an environment nothing was deployed to, unless it is the last one."""
    principal.require_org_role(Role.ADMIN)
    env = await _get(session, principal, slug)
    used = await session.scalar(select(exists().where(ServiceDeployment.environment_id == env.id)))
    if used:
        raise Conflict(f"environment '{slug}' has deployments: it cannot be removed")
    if len(await _ranked(session, principal.org_id)) == 1:
        raise Conflict("an organisation keeps at least one environment")
    before = _data(env)
    await session.delete(env)
    await session.flush()
    await _audit(session, principal, env, "environment.delete", before=before)


async def _check_free(
    session: AsyncSession, org_id: uuid.UUID, *, slug: str | None = None, rank: int | None = None
) -> None:
    same_org = Environment.org_id == org_id
    if slug is not None and await session.scalar(
        select(Environment.id).where(same_org, Environment.slug == slug)
    ):
        raise Conflict(f"environment '{slug}' exists", [FieldIssue("slug", "already taken")])
    if rank is not None and await session.scalar(
        select(Environment.slug).where(same_org, Environment.rank == rank)
    ):
        raise Conflict(f"rank {rank} is taken", [FieldIssue("rank", "already taken")])


async def _flush_or(session: AsyncSession, conflict: Conflict) -> None:
    """A concurrent twin that won the race is the same conflict, not a 500."""
    try:
        await session.flush()
    except IntegrityError:
        raise conflict from None


def _data(env: Environment) -> dict[str, Any]:
    return environment_out(env).model_dump(mode="json", exclude={"created_at", "updated_at"})


async def _audit(
    session: AsyncSession,
    principal: Principal,
    env: Environment,
    action: str,
    *,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> None:
    await audit.record(
        session, org_id=principal.org_id, actor=principal, action=action,
        target_type="environment", target_id=env.id, before=before, after=after,
    )  # fmt: skip
