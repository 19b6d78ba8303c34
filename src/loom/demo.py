"""Demo data for `make serve`: a believable organisation to click through. Loaded once,
into an empty database, when LOOM_DEMO_DATA is on. Each domain adds its part here."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from loom.audit import service as audit
from loom.auth.models import Membership, Team, User
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


async def seed(session: AsyncSession, org_id: uuid.UUID, admin_id: uuid.UUID) -> None:
    actor = audit.Actor.system("demo")
    teams: dict[str, Team] = {}
    for slug, name, description in TEAMS:
        teams[slug] = Team(org_id=org_id, slug=slug, name=name, description=description)
    session.add_all(teams.values())
    await session.flush()
    for email, name, team, role in PEOPLE:
        # Demo people have no password: they exist to own things, not to log in.
        user = User(org_id=org_id, email=email, name=name, org_role=Role.VIEWER)
        session.add(user)
        await session.flush()
        session.add(Membership(user_id=user.id, team_id=teams[team].id, role=role))
    for owned in teams.values():
        session.add(Membership(user_id=admin_id, team_id=owned.id, role=Role.OWNER))
    await audit.record(
        session,
        org_id=org_id,
        actor=actor,
        action="demo.seed",
        target_type="organization",
        target_id=org_id,
        after={"teams": [t[0] for t in TEAMS], "people": [p[0] for p in PEOPLE]},
    )
