"""Identity logic: bootstrap, teams, users, memberships, password login. No HTTP here."""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from loom.audit import service as audit
from loom.auth.models import Membership, Organization, Team, User
from loom.auth.passwords import hash_password, verify_password
from loom.auth.principal import Principal
from loom.auth.roles import Role
from loom.auth.scoping import get_scoped, scoped
from loom.auth.throttle import LoginThrottle
from loom.db.types import utcnow
from loom.errors import Conflict, InvalidInput, NotAuthenticated, NotFound
from loom.settings import Settings


@dataclass(frozen=True)
class Bootstrap:
    org: Organization
    admin: User
    #: Set only when the password was generated now; printed once, never stored in clear.
    generated_password: str | None


async def bootstrap(session: AsyncSession, settings: Settings) -> Bootstrap | None:
    """On an empty database, create the organisation, a first team and the admin user."""
    if await session.scalar(select(func.count()).select_from(Organization)):
        return None
    cfg = settings.auth
    org = Organization(slug=cfg.bootstrap_org, name=cfg.bootstrap_org.title())
    session.add(org)
    await session.flush()
    generated = None
    if cfg.bootstrap_admin_password is not None:
        password = cfg.bootstrap_admin_password.get_secret_value()
    else:
        password = generated = secrets.token_urlsafe(12)
    admin = User(
        org_id=org.id,
        email=cfg.bootstrap_admin_email.lower(),
        name="Administrator",
        password_hash=hash_password(password),
        org_role=Role.OWNER,
    )
    team = Team(org_id=org.id, slug="platform", name="Platform", description="Runs Loom itself.")
    session.add_all([admin, team])
    await session.flush()
    session.add(Membership(user_id=admin.id, team_id=team.id, role=Role.OWNER))
    await audit.record(
        session,
        org_id=org.id,
        actor=audit.Actor.system("bootstrap"),
        action="org.bootstrap",
        target_type="organization",
        target_id=org.id,
        after={"org": org.slug, "admin": admin.email, "team": team.slug},
    )
    return Bootstrap(org=org, admin=admin, generated_password=generated)


async def login(
    session: AsyncSession, email: str, password: str, throttle: LoginThrottle | None = None
) -> User:
    email = email.strip().lower()
    if throttle is not None:
        throttle.check(email)
    user = await session.scalar(select(User).where(User.email == email))
    ok = verify_password(user.password_hash if user else None, password)
    if user is None or not ok or not user.is_active:
        if throttle is not None:
            throttle.failed(email)
        raise NotAuthenticated("wrong email or password")
    if throttle is not None:
        throttle.succeeded(email)
    user.last_login_at = utcnow()
    return user


def _team_data(team: Team) -> dict[str, Any]:
    return {"slug": team.slug, "name": team.name, "description": team.description}


def teams_query(principal: Principal) -> Select[Any]:
    """Teams the principal may see (members: theirs; org admins: all)."""
    return scoped(select(Team), Team, principal)


async def list_teams(session: AsyncSession, principal: Principal) -> list[Team]:
    rows = await session.scalars(teams_query(principal).order_by(Team.slug))
    return list(rows.all())


async def team_named(session: AsyncSession, principal: Principal, team: str) -> uuid.UUID | None:
    """The id of the team of the caller's organisation named `team` (a slug or an id),
    None if there is none; one of the caller's own teams costs no query."""
    if team in principal.team_slugs:
        return principal.team_slugs[team]
    stmt = select(Team.id).where(Team.org_id == principal.org_id)
    try:
        stmt = stmt.where(Team.id == uuid.UUID(team))
    except ValueError:
        stmt = stmt.where(Team.slug == team)
    return await session.scalar(stmt)


async def _visible_team(session: AsyncSession, principal: Principal, team_id: uuid.UUID) -> Team:
    return await get_scoped(session, Team, team_id, principal, what="team")


async def get_team(session: AsyncSession, principal: Principal, team_id: uuid.UUID) -> Team:
    return await _visible_team(session, principal, team_id)


async def create_team(
    session: AsyncSession, principal: Principal, slug: str, name: str, description: str
) -> Team:
    principal.require_org_role(Role.ADMIN)
    exists = await session.scalar(
        select(Team.id).where(Team.org_id == principal.org_id, Team.slug == slug)
    )
    if exists:
        raise Conflict(f"a team with slug '{slug}' already exists")
    team = Team(org_id=principal.org_id, slug=slug, name=name, description=description)
    session.add(team)
    await session.flush()
    await audit.record(
        session,
        org_id=principal.org_id,
        actor=principal,
        action="team.create",
        target_type="team",
        target_id=team.id,
        team_id=team.id,
        after=_team_data(team),
    )
    return team


async def update_team(
    session: AsyncSession, principal: Principal, team_id: uuid.UUID, changes: dict[str, Any]
) -> Team:
    team = await _visible_team(session, principal, team_id)
    principal.require_team_role(team.id, Role.ADMIN)
    before = _team_data(team)
    for key, value in changes.items():
        if value is None:
            raise InvalidInput.on(key, "cannot be null")
        setattr(team, key, value)
    await session.flush()
    await audit.record(
        session,
        org_id=principal.org_id,
        actor=principal,
        action="team.update",
        target_type="team",
        target_id=team.id,
        team_id=team.id,
        before=before,
        after=_team_data(team),
    )
    return team


async def list_members(
    session: AsyncSession, principal: Principal, team_id: uuid.UUID
) -> list[tuple[User, Role]]:
    team = await _visible_team(session, principal, team_id)
    rows = await session.execute(
        select(User, Membership.role)
        .join(Membership, Membership.user_id == User.id)
        .where(Membership.team_id == team.id)
        .order_by(User.email)
    )
    return [(user, Role(role)) for user, role in rows.all()]


async def set_member(
    session: AsyncSession, principal: Principal, team_id: uuid.UUID, email: str, role: Role
) -> User:
    team = await _visible_team(session, principal, team_id)
    principal.require_team_role(team.id, Role.ADMIN)
    if role > (principal.role_in(team.id) or Role.VIEWER):
        raise InvalidInput.on("role", "cannot grant a role above your own")
    user = await session.scalar(
        select(User).where(User.org_id == principal.org_id, User.email == email.strip().lower())
    )
    if user is None:
        raise InvalidInput.on("email", "no user with this email in the organisation")
    membership = await session.get(Membership, (user.id, team.id))
    before = {"role": Role(membership.role).label} if membership else None
    if membership is None:
        session.add(Membership(user_id=user.id, team_id=team.id, role=role))
    else:
        membership.role = role
    await session.flush()
    await audit.record(
        session,
        org_id=principal.org_id,
        actor=principal,
        action="team.member.set",
        target_type="team",
        target_id=team.id,
        team_id=team.id,
        before=before,
        after={"email": user.email, "role": role.label},
    )
    return user


async def remove_member(
    session: AsyncSession, principal: Principal, team_id: uuid.UUID, user_id: uuid.UUID
) -> None:
    team = await _visible_team(session, principal, team_id)
    principal.require_team_role(team.id, Role.ADMIN)
    membership = await session.get(Membership, (user_id, team.id))
    if membership is None:
        raise NotFound("membership not found")
    await session.delete(membership)
    await audit.record(
        session,
        org_id=principal.org_id,
        actor=principal,
        action="team.member.remove",
        target_type="team",
        target_id=team.id,
        team_id=team.id,
        before={"user_id": str(user_id), "role": Role(membership.role).label},
    )


async def create_user(
    session: AsyncSession,
    principal: Principal,
    *,
    email: str,
    name: str,
    password: str | None,
    org_role: Role,
) -> User:
    principal.require_org_role(Role.ADMIN)
    if org_role > principal.org_role:
        raise InvalidInput.on("org_role", "cannot grant a role above your own")
    user = User(
        org_id=principal.org_id,
        email=email.strip().lower(),
        name=name,
        password_hash=hash_password(password) if password else None,
        org_role=org_role,
    )
    session.add(user)
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError:
        raise Conflict(f"a user with email '{user.email}' already exists") from None
    await audit.record(
        session,
        org_id=principal.org_id,
        actor=principal,
        action="user.create",
        target_type="user",
        target_id=user.id,
        after={"email": user.email, "org_role": org_role.label},
    )
    return user


def users_query(principal: Principal, email: str | None = None) -> Select[Any]:
    stmt = scoped(select(User), User, principal)
    if email is not None:
        stmt = stmt.where(User.email == email.strip().lower())
    return stmt


async def set_password(
    session: AsyncSession, org_slug: str | None, email: str, password: str
) -> User:
    """Set a user's password from the server's own console (`loom admin set-password`):
    the recovery path when the printed bootstrap password is lost."""
    if len(password) < 8:
        raise InvalidInput.on("password", "must be at least 8 characters")
    stmt = select(User).where(User.email == email.strip().lower())
    if org_slug:
        stmt = stmt.join(Organization, Organization.id == User.org_id).where(
            Organization.slug == org_slug
        )
    users = list((await session.scalars(stmt)).all())
    if not users:
        raise NotFound(f"no user with email {email!r}")
    if len(users) > 1:
        raise InvalidInput.on("org", "several organisations have this email; name the organisation")
    [user] = users
    user.password_hash = hash_password(password)
    user.is_active = True
    await audit.record(
        session,
        org_id=user.org_id,
        actor=audit.Actor.system("console"),
        action="user.password.set",
        target_type="user",
        target_id=user.id,
        after={"email": user.email},
    )
    return user
