"""Who may act on incidents (acknowledge, resolve, merge, comment, judge a related
change): operators, of the organisation or of any of its teams. Everyone reads."""

from __future__ import annotations

from loom.auth.principal import Principal
from loom.auth.roles import Role
from loom.errors import Forbidden


def may_act(principal: Principal) -> bool:
    """Whether the caller may change incidents (operators, of the org or of any team)."""
    if principal.org_role >= Role.OPERATOR:
        return True
    return any(role >= Role.OPERATOR for role in principal.team_roles.values())


def require_responder(principal: Principal) -> None:
    if not may_act(principal):
        raise Forbidden("requires the operator role in the organisation or in one of its teams")
    principal.require_scope("write")
