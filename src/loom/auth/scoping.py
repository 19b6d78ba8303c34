"""The one way to scope queries to what a principal may see.

Org-scoped rows are visible to every member of the organisation; team-scoped rows only to
members of that team and to organisation admins. A team-owned model that the whole
organisation may read (a registered service) sets `__scope_team_column__ = None`.
Services build their queries through `scoped()` and fetch single rows through
`get_scoped()`; routers never filter by hand.
"""

from __future__ import annotations

import uuid
from typing import Any, TypeVar, TypeVarTuple

from sqlalchemy import Select, false
from sqlalchemy.ext.asyncio import AsyncSession

from loom.auth.principal import Principal
from loom.auth.roles import Role
from loom.errors import NotFound

T = TypeVar("T")
Row = TypeVarTuple("Row")


def _team_column(model: type[Any]) -> str | None:
    """The column naming the owning team: `team_id`, or another named by
    `__scope_team_column__` (a Team row is owned by itself: "id"; None: read org-wide)."""
    name: str | None = getattr(model, "__scope_team_column__", "team_id")
    return name if name is not None and hasattr(model, name) else None


def scoped(stmt: Select[*Row], model: type[Any], principal: Principal) -> Select[*Row]:
    stmt = stmt.where(model.org_id == principal.org_id)
    column = _team_column(model)
    if column is not None and not principal.sees_all_teams:
        team_ids = principal.team_ids
        stmt = stmt.where(getattr(model, column).in_(team_ids) if team_ids else false())
    return stmt


async def get_scoped(
    session: AsyncSession,
    model: type[T],
    object_id: Any,
    principal: Principal,
    *,
    role: Role = Role.VIEWER,
    what: str | None = None,
) -> T:
    """Fetch one row the principal may see, and check it holds `role` over it.

    Rows of another organisation or an invisible team are 'not found'; a visible row the
    caller may not change is 'forbidden'.
    """
    label = what or getattr(model, "__tablename__", "object").rstrip("s")
    obj = await session.get(model, object_id)
    if obj is None or getattr(obj, "org_id", None) != principal.org_id:
        raise NotFound(f"{label} not found")
    column = _team_column(model)
    team_id: uuid.UUID | None = getattr(obj, column) if column else None
    if team_id is not None:
        principal.require_team_role(team_id, role, label)
    elif role >= Role.ADMIN:
        principal.require_org_role(role)
    elif role > Role.VIEWER:
        principal.require_scope("write")
    return obj
