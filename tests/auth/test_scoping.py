"""The scoping helper on a sample team-owned table: the one way queries are scoped."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import String, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from loom.auth.principal import Principal
from loom.auth.roles import Role
from loom.auth.scoping import get_scoped, scoped
from loom.errors import Forbidden, NotFound


class _Sample(DeclarativeBase):
    pass


class Widget(_Sample):
    """A sample team-owned table, like every later domain's."""

    __tablename__ = "sample_widgets"
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    org_id: Mapped[uuid.UUID]
    team_id: Mapped[uuid.UUID]
    name: Mapped[str] = mapped_column(String(50))


ORG, OTHER_ORG = uuid.uuid4(), uuid.uuid4()
TEAM_A, TEAM_B = uuid.uuid4(), uuid.uuid4()


def principal(org_role: Role = Role.VIEWER, **teams: Role) -> Principal:
    roles = {TEAM_A if k == "a" else TEAM_B: v for k, v in teams.items()}
    return Principal(uuid.uuid4(), ORG, "p@x", "p", org_role, roles)


@pytest.fixture
async def widgets(session: AsyncSession) -> dict[str, uuid.UUID]:
    async with session.bind.begin() as conn:  # type: ignore[union-attr]
        await conn.run_sync(_Sample.metadata.create_all)
    rows = {
        "a": Widget(org_id=ORG, team_id=TEAM_A, name="a"),
        "b": Widget(org_id=ORG, team_id=TEAM_B, name="b"),
        "foreign": Widget(org_id=OTHER_ORG, team_id=TEAM_A, name="foreign"),
    }
    async with session.begin():
        session.add_all(rows.values())
    return {k: v.id for k, v in rows.items()}


async def _names(session: AsyncSession, who: Principal) -> list[str]:
    rows = await session.scalars(scoped(select(Widget), Widget, who).order_by(Widget.name))
    return list(w.name for w in rows)


async def test_member_sees_only_own_team_rows(session: AsyncSession, widgets: dict) -> None:
    assert await _names(session, principal(a=Role.VIEWER)) == ["a"]
    assert await _names(session, principal(a=Role.VIEWER, b=Role.ADMIN)) == ["a", "b"]


async def test_no_team_sees_nothing(session: AsyncSession, widgets: dict) -> None:
    assert await _names(session, principal()) == []


async def test_org_admin_sees_all_rows_of_own_org_only(
    session: AsyncSession, widgets: dict
) -> None:
    assert await _names(session, principal(Role.ADMIN)) == ["a", "b"]


async def test_get_scoped_hides_other_team_and_org(session: AsyncSession, widgets: dict) -> None:
    viewer_a = principal(a=Role.VIEWER)
    assert (await get_scoped(session, Widget, widgets["a"], viewer_a)).name == "a"
    for other in ("b", "foreign"):
        with pytest.raises(NotFound):
            await get_scoped(session, Widget, widgets[other], viewer_a)
    with pytest.raises(NotFound):
        await get_scoped(session, Widget, widgets["b"], viewer_a, role=Role.OPERATOR)


async def test_get_scoped_requires_role_to_change(session: AsyncSession, widgets: dict) -> None:
    with pytest.raises(Forbidden):
        await get_scoped(
            session, Widget, widgets["a"], principal(a=Role.VIEWER), role=Role.OPERATOR
        )
    row = await get_scoped(
        session, Widget, widgets["a"], principal(a=Role.OPERATOR), role=Role.OPERATOR
    )
    assert row.name == "a"


async def test_read_only_token_cannot_change(session: AsyncSession, widgets: dict) -> None:
    read_only = Principal(
        uuid.uuid4(), ORG, "p@x", "p", Role.VIEWER, {TEAM_A: Role.ADMIN}, frozenset({"read"})
    )
    with pytest.raises(Forbidden):
        await get_scoped(session, Widget, widgets["a"], read_only, role=Role.OPERATOR)
