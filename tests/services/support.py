"""Helpers for the service registry tests: register services and dependencies over the API."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import update

from loom.auth.models import Membership, Organization, Team, User
from loom.auth.roles import Role
from loom.services.models import Service
from tests.conftest import bearer, token_for

SERVICES = "/api/v1/services"


async def register(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    slug: str,
    team: str = "team-a",
    **fields: Any,
) -> dict[str, Any]:
    body = {"slug": slug, "name": slug.title(), "team": team, **fields}
    response = await client.post(SERVICES, json=body, headers=headers)
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()
    return data


async def depend(
    client: httpx.AsyncClient, headers: dict[str, str], slug: str, **body: Any
) -> dict[str, Any]:
    response = await client.post(f"{SERVICES}/{slug}/dependencies", json=body, headers=headers)
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()
    return data


async def make_managed(app: FastAPI, slug: str) -> None:
    async with app.state.runtime.sessions() as s, s.begin():
        await s.execute(update(Service).where(Service.slug == slug).values(managed=True))


async def other_org_admin(app: FastAPI) -> dict[str, str]:
    """Headers of the admin of a second organisation (with a team of its own)."""
    async with app.state.runtime.sessions() as s, s.begin():
        org = Organization(slug="other-org", name="Other")
        s.add(org)
        await s.flush()
        team = Team(org_id=org.id, slug="team-a", name="Their A")
        user = User(org_id=org.id, email="boss@other.test", name="Boss", org_role=Role.ADMIN)
        s.add_all([team, user])
        await s.flush()
        s.add(Membership(user_id=user.id, team_id=team.id, role=Role.ADMIN))
    return bearer(await token_for(app, "boss@other.test"))


async def deploy(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    slug: str,
    environment: str,
    version: str,
    **fields: Any,
) -> dict[str, Any]:
    body = {"environment": environment, "version": version, **fields}
    response = await client.post(f"{SERVICES}/{slug}/deployments", json=body, headers=headers)
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()
    return data
