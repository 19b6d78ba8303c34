"""Demo data for `make serve`: a believable organisation to click through. Loaded once,
into an empty database, when LOOM_DEMO_DATA is on. Each domain adds its part here.

Demo people have no password: they exist to own things. One exception, the demo
approver, a platform operator who may sign in (with a password generated here and
printed once, like the admin's) to approve what the admin asks for: nobody approves
their own request."""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from loom.audit import service as audit
from loom.auth.models import Membership, Team, User
from loom.auth.passwords import hash_password
from loom.auth.roles import Role

TEAMS = [
    ("payments", "Payments", "Card processing, payouts and the ledger."),
    ("checkout", "Checkout", "Cart, checkout and order pages."),
    ("search", "Search", "Product search and recommendations."),
    ("data", "Data", "Databases, storage and the data platform."),
]
PEOPLE = [
    ("alice@loom.local", "Alice Martin", "payments", Role.ADMIN),
    ("bob@loom.local", "Bob Chen", "checkout", Role.OPERATOR),
    ("carol@loom.local", "Carol Diaz", "search", Role.VIEWER),
    ("dan@loom.local", "Dan Okafor", "data", Role.OPERATOR),
]
#: Who approves requests in the demo: an operator of the bootstrap `platform` team.
APPROVER = ("priya@loom.local", "Priya Shah", "platform", Role.OPERATOR)


@dataclass(frozen=True)
class DemoSeed:
    """What the seed created that a person needs to know: how the approver signs in."""

    approver_email: str
    approver_password: str

    def banner(self) -> str:
        """The lines printed once on the terminal, next to the admin's password."""
        return (
            f"  Demo approver: {self.approver_email} (platform operator)\n"
            f"  password (shown once): {self.approver_password}\n"
        )


async def seed(session: AsyncSession, org_id: uuid.UUID, admin_id: uuid.UUID) -> DemoSeed:
    actor = audit.Actor.system("demo")
    teams: dict[str, Team] = {}
    for slug, name, description in TEAMS:
        teams[slug] = Team(org_id=org_id, slug=slug, name=name, description=description)
    session.add_all(teams.values())
    await session.flush()
    for email, name, team, role in PEOPLE:
        user = User(org_id=org_id, email=email, name=name, org_role=Role.VIEWER)
        session.add(user)
        await session.flush()
        session.add(Membership(user_id=user.id, team_id=teams[team].id, role=role))
    for owned in teams.values():
        session.add(Membership(user_id=admin_id, team_id=owned.id, role=Role.OWNER))
    approver = await _approver(session, org_id)
    await audit.record(
        session,
        org_id=org_id,
        actor=actor,
        action="demo.seed",
        target_type="organization",
        target_id=org_id,
        after={
            "teams": [t[0] for t in TEAMS],
            "people": [p[0] for p in (*PEOPLE, APPROVER)],
        },
    )
    return approver


async def _approver(session: AsyncSession, org_id: uuid.UUID) -> DemoSeed:
    email, name, team_slug, role = APPROVER
    team = await session.scalar(select(Team).where(Team.org_id == org_id, Team.slug == team_slug))
    if team is None:  # bootstrap always makes it; a clear message if that ever changes
        raise LookupError(f"the demo approver's team {team_slug!r} does not exist")
    password = secrets.token_urlsafe(12)
    user = User(
        org_id=org_id,
        email=email,
        name=name,
        password_hash=hash_password(password),
        org_role=Role.VIEWER,
    )
    session.add(user)
    await session.flush()
    session.add(Membership(user_id=user.id, team_id=team.id, role=role))
    return DemoSeed(email, password)
