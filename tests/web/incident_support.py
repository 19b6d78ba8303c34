"""Rows for the incident pages' tests, made with the ORM (the pages only read them): a
small outage (`Scene`: a database failing under an API and a web front end, one
open incident with a root cause, a related deployment and a timeline, and one resolved
incident), and people with an organisation role who can sign in."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from loom.auth.models import Membership, Team, User
from loom.auth.passwords import hash_password
from loom.auth.roles import Role
from loom.db.types import utcnow
from loom.incidents import timeline
from loom.incidents.kinds import EventKind
from loom.incidents.models import Alert, Change, ChangeCorrelation, Incident
from loom.services.models import Service
from tests.conftest import ADMIN_EMAIL

PASSWORD = "incident-password-1"
VIEWER = "ops-viewer@loom.test"
OPERATOR = "ops-operator@loom.test"
#: Alert text as an attacker would send it: the pages must show it, never run it.
XSS_NAME = "<script>alert('name')</script>"
XSS_JOINED = 'same service <img src=x onerror="alert(1)">'


async def org_of_admin(s: AsyncSession) -> uuid.UUID:
    org_id = await s.scalar(select(User.org_id).where(User.email == ADMIN_EMAIL))
    assert org_id is not None
    return org_id


async def add_people(app: FastAPI) -> None:
    """A viewer and an operator of the organisation (org roles), password PASSWORD."""
    async with app.state.runtime.sessions() as s, s.begin():
        org_id = await org_of_admin(s)
        for email, role in ((VIEWER, Role.VIEWER), (OPERATOR, Role.OPERATOR)):
            user = User(org_id=org_id, email=email, name=role.label, org_role=role,
                        password_hash=hash_password(PASSWORD))  # fmt: skip
            s.add(user)
            await s.flush()
            team = await s.scalar(
                select(Team).where(Team.org_id == org_id, Team.slug == "platform")
            )
            assert team is not None
            s.add(Membership(user_id=user.id, team_id=team.id, role=role))


async def service(s: AsyncSession, org_id: uuid.UUID, slug: str) -> Service:
    team_id = await s.scalar(select(Team.id).where(Team.org_id == org_id, Team.slug == "platform"))
    assert team_id is not None
    found = Service(org_id=org_id, team_id=team_id, slug=slug, name=slug.title(),
                    lifecycle="production", tier=1)  # fmt: skip
    s.add(found)
    await s.flush()
    return found


async def incident(
    s: AsyncSession, org_id: uuid.UUID, number: int, *, status: str = "triggered",
    severity: str = "critical", opened: datetime | None = None, **fields: Any,
) -> Incident:  # fmt: skip
    at = opened or utcnow()
    row = Incident(org_id=org_id, number=number, title=fields.pop("title", f"Incident {number}"),
                   status=status, severity=severity, opened_at=at, last_alert_at=at, **fields)  # fmt: skip
    s.add(row)
    await s.flush()
    timeline.add(s, row, EventKind.INCIDENT_CREATED, f"INC-{number} opened", at=at)
    return row


async def alert(
    s: AsyncSession, row: Incident | None, org_id: uuid.UUID, name: str, *,
    svc: Service | None = None, status: str = "firing", severity: str = "critical",
    seen: datetime | None = None, joined: str = "", **fields: Any,
) -> Alert:  # fmt: skip
    at = seen or utcnow()
    found = Alert(
        org_id=org_id, source_kind="alertmanager", fingerprint=uuid.uuid4().hex, status=status,
        severity=severity, name=name, service_id=svc.id if svc else None, starts_at=at,
        first_seen=at, last_seen=at, incident_id=row.id if row else None,
        grouping={"strategy": "same_service", "text": joined} if joined else {}, **fields,
    )  # fmt: skip
    s.add(found)
    await s.flush()
    return found


async def change(
    s: AsyncSession, org_id: uuid.UUID, svc: Service | None, at: datetime, **fields: Any
) -> Change:
    values: dict[str, Any] = {"type": "deployment", "source": "api", "author": "dev@loom.test",
                              "environment": "production", **fields}  # fmt: skip
    found = Change(org_id=org_id, service_id=svc.id if svc else None, happened_at=at, **values)
    s.add(found)
    await s.flush()
    return found


@dataclass
class Scene:
    """INC-7 (open, critical): db failing under api and web; INC-3 resolved (warning, on
    web only); a deployment of db 15 minutes before INC-7 scored 84 %."""

    open_number: int = 7
    resolved_number: int = 3
    change_id: uuid.UUID | None = None
    alert_ids: dict[str, uuid.UUID] = field(default_factory=dict)


async def make_scene(app: FastAPI) -> Scene:
    scene = Scene()
    now = utcnow()
    start = now - timedelta(minutes=30)
    async with app.state.runtime.sessions() as s, s.begin():
        org_id = await org_of_admin(s)
        db, api, web = [await service(s, org_id, slug) for slug in ("db", "api", "web")]
        root = [
            {"service": "db", "score": 92, "failing_dependencies": 0, "first_seen": start.isoformat(),
             "alerts": 1, "reasons": ["none of its dependencies fail", "first to fail"]},
            {"service": "api", "score": 41, "failing_dependencies": 1,
             "first_seen": (start + timedelta(minutes=1)).isoformat(), "alerts": 1,
             "reasons": ["depends on failing db"]},
        ]  # fmt: skip
        affected = [{"service": "api", "alerts": 1, "firing": 1, "distance": 1},
                    {"service": "web", "alerts": 1, "firing": 0, "distance": 2}]  # fmt: skip
        open_ = await incident(
            s, org_id, scene.open_number, title="db down: api and web failing", opened=start,
            root_cause_service_id=db.id, root_cause=root, affected=affected,
            service_ids=[str(db.id), str(api.id), str(web.id)], alert_count=3, firing_count=2,
        )  # fmt: skip
        first = await alert(s, open_, org_id, "PostgresDown", svc=db, seen=start,
                            joined="opened the incident")  # fmt: skip
        second = await alert(s, open_, org_id, XSS_NAME, svc=api, seen=start + timedelta(minutes=1),
                             joined=XSS_JOINED, summary="<b>bold</b> summary")  # fmt: skip
        third = await alert(s, open_, org_id, "WebErrors", svc=web, status="resolved",
                            severity="warning", seen=start + timedelta(minutes=2),
                            joined="topology: web depends on api (2 hops)")  # fmt: skip
        scene.alert_ids = {"db": first.id, "api": second.id, "web": third.id}
        timeline.add(s, open_, EventKind.ALERT_FIRED, "PostgresDown fired on db",
                     at=start + timedelta(seconds=1))  # fmt: skip
        timeline.add(s, open_, EventKind.COMMENT, "<i>looking</i>", actor=ADMIN_EMAIL,
                     at=start + timedelta(minutes=5))  # fmt: skip
        deployed = await change(s, org_id, db, start - timedelta(minutes=15), version="2.0.1",
                                previous_version="2.0.0", title="db config rollout",
                                url="https://ci.example/run/1")  # fmt: skip
        scene.change_id = deployed.id
        s.add(ChangeCorrelation(
            org_id=org_id, incident_id=open_.id, change_id=deployed.id, score=84,
            parts={"time": 0.875, "service": 1.0, "environment": 1, "type": 1.0,
                   "reasons": ["15 min before the first alert", "same service db"]},
        ))  # fmt: skip
        closed = await incident(s, org_id, scene.resolved_number, status="resolved",
                                severity="warning", title="web slow", opened=now - timedelta(days=1),
                                resolved_at=now - timedelta(hours=20), service_ids=[str(web.id)],
                                alert_count=1, firing_count=0)  # fmt: skip
        await alert(s, closed, org_id, "WebSlow", svc=web, status="resolved", severity="warning",
                    seen=now - timedelta(days=1), joined="opened the incident")  # fmt: skip
    return scene
