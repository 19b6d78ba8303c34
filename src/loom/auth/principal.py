"""Who is calling: the principal every router and service receives, with the checks
that answer "may this caller do that"."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from loom.auth.models import Membership, Team, User
from loom.auth.roles import TOKEN_SCOPES, Role
from loom.errors import Forbidden, NotAuthenticated, NotFound


@dataclass(frozen=True)
class Principal:
    user_id: uuid.UUID
    org_id: uuid.UUID
    email: str
    name: str
    org_role: Role
    team_roles: Mapping[uuid.UUID, Role] = field(default_factory=dict)
    scopes: frozenset[str] = frozenset(TOKEN_SCOPES)
    via: Literal["token", "session", "system"] = "session"
    token_id: uuid.UUID | None = None
    #: The slugs of the teams in `team_roles` (requests name their team by slug).
    team_slugs: Mapping[str, uuid.UUID] = field(default_factory=dict)

    @property
    def sees_all_teams(self) -> bool:
        return self.org_role >= Role.ADMIN

    @property
    def team_ids(self) -> frozenset[uuid.UUID]:
        return frozenset(self.team_roles)

    def role_in(self, team_id: uuid.UUID) -> Role | None:
        """The effective role in a team: the team role, raised to the org role for org admins."""
        team_role = self.team_roles.get(team_id)
        if self.sees_all_teams:
            return max(self.org_role, team_role or Role.VIEWER)
        return team_role

    def can_see_team(self, team_id: uuid.UUID) -> bool:
        return self.role_in(team_id) is not None

    def require_scope(self, scope: str) -> None:
        if scope not in self.scopes:
            raise Forbidden(f"this token lacks the '{scope}' scope")

    def require_team_role(self, team_id: uuid.UUID, role: Role, what: str = "team") -> None:
        """Refuse unless the caller holds at least `role` in the team. A team the caller
        cannot see at all answers 'not found', so ids of other teams' objects don't leak."""
        have = self.role_in(team_id)
        if have is None:
            raise NotFound(f"{what} not found")
        if have < role:
            raise Forbidden(f"requires the {role.label} role in this team (you are {have.label})")
        if role > Role.VIEWER:
            self.require_scope("write")

    def require_org_role(self, role: Role) -> None:
        if self.org_role < role:
            have = self.org_role.label
            raise Forbidden(f"requires the {role.label} role in the organisation (you are {have})")
        if role >= Role.ADMIN:
            self.require_scope("admin")


async def load_principal(
    session: AsyncSession,
    user_id: uuid.UUID,
    *,
    scopes: frozenset[str] = frozenset(TOKEN_SCOPES),
    via: Literal["token", "session", "system"] = "session",
    token_id: uuid.UUID | None = None,
) -> Principal:
    """The principal of `user_id`: the user and their teams in one query."""
    rows = (
        await session.execute(
            select(User, Membership.team_id, Membership.role, Team.slug)
            .outerjoin(Membership, Membership.user_id == User.id)
            .outerjoin(Team, Team.id == Membership.team_id)
            .where(User.id == user_id)
        )
    ).all()
    return principal_of(
        rows[0][0] if rows else None, [row[1:] for row in rows if row[1] is not None],
        scopes=scopes, via=via, token_id=token_id,
    )  # fmt: skip


def principal_of(
    user: User | None,
    teams: Sequence[Sequence[Any]],
    *,
    scopes: frozenset[str] = frozenset(TOKEN_SCOPES),
    via: Literal["token", "session", "system"] = "session",
    token_id: uuid.UUID | None = None,
) -> Principal:
    """The principal of `user`, a member of `teams` (team id, role, slug rows)."""
    if user is None or not user.is_active:
        raise NotAuthenticated("the account behind these credentials is missing or disabled")
    return Principal(
        user_id=user.id,
        org_id=user.org_id,
        email=user.email,
        name=user.name,
        org_role=Role(user.org_role),
        team_roles={team_id: Role(role) for team_id, role, _slug in teams},
        team_slugs={slug: team_id for team_id, _role, slug in teams},
        scopes=scopes,
        via=via,
        token_id=token_id,
    )
