"""Deployments over the API and from code (the change webhooks' way in): recording one,
validation, who may, the history, tenancy."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from loom.audit.service import Actor
from loom.services.deployments import record_deployment
from loom.services.kinds import DeploymentSource
from loom.services.models import Service, ServiceDeployment
from tests.conftest import Tenant
from tests.services.support import SERVICES, deploy, make_managed, other_org_admin, register

NOW = datetime.now(UTC)


def fields_of(response: httpx.Response) -> list[str]:
    return [d["field"] for d in response.json()["error"]["details"]]


async def history(
    client: httpx.AsyncClient, headers: dict[str, str], slug: str, **params: Any
) -> list[dict[str, Any]]:
    response = await client.get(f"{SERVICES}/{slug}/deployments", params=params, headers=headers)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def test_operator_records_a_deployment_everyone_reads(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    operator = tenant.headers["operator-a"]
    await register(client, operator, "orders")
    made = await deploy(
        client, operator, "orders", "staging", "1.4.2", commit_sha="a1b2c3d4e5",
        url="https://ci.test/run/7", description="weekly release",
    )  # fmt: skip
    assert (made["service"], made["environment"], made["version"]) == ("orders", "staging", "1.4.2")
    assert (made["deployed_by"], made["source"]) == ("operator-a@loom.test", "api")
    assert made["commit_sha"] == "a1b2c3d4e5"
    [read] = await history(client, tenant.headers["viewer-b"], "orders")
    assert read == made
    audit = await client.get("/api/v1/audit", params={"action": "service.deploy"}, headers=operator)
    [entry] = audit.json()["items"]
    assert entry["after"]["version"] == "1.4.2"


async def test_history_is_kept_newest_first_and_filtered_by_environment(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    operator = tenant.headers["operator-a"]
    await register(client, operator, "orders")
    for days, env, version in [(5, "dev", "1.0"), (4, "staging", "1.0"), (2, "dev", "1.1"),
                               (1, "staging", "1.1")]:  # fmt: skip
        at = (NOW - timedelta(days=days)).isoformat()
        await deploy(client, operator, "orders", env, version, deployed_at=at,
                     deployed_by="ci@robots.test")  # fmt: skip
    # A backfilled one (older than the rest) takes its place by deployed_at.
    await deploy(client, operator, "orders", "dev", "0.9",
                 deployed_at=(NOW - timedelta(days=9)).isoformat())  # fmt: skip
    everything = await history(client, operator, "orders")
    assert [(d["environment"], d["version"]) for d in everything] == [
        ("staging", "1.1"), ("dev", "1.1"), ("staging", "1.0"), ("dev", "1.0"), ("dev", "0.9"),
    ]  # fmt: skip
    assert everything[0]["deployed_by"] == "ci@robots.test"
    dev = await history(client, operator, "orders", environment="dev")
    assert [d["version"] for d in dev] == ["1.1", "1.0", "0.9"]
    first = await client.get(f"{SERVICES}/orders/deployments", params={"limit": 2},
                             headers=operator)  # fmt: skip
    cursor = first.json()["next_cursor"]
    rest = await history(client, operator, "orders", limit=10, cursor=cursor)
    assert [d["id"] for d in first.json()["items"] + rest] == [d["id"] for d in everything]
    unknown = await client.get(f"{SERVICES}/orders/deployments", params={"environment": "qa"},
                               headers=operator)  # fmt: skip
    assert (unknown.status_code, fields_of(unknown)) == (400, ["environment"])


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"environment": "qa"}, 400, "environment"),
        ({"deployed_at": (NOW + timedelta(hours=1)).isoformat()}, 400, "deployed_at"),
        ({"deployed_at": "2026-01-01T10:00:00"}, 422, "deployed_at"),  # no time zone
        ({"version": ""}, 422, "version"),
        ({"version": None}, 422, "version"),
        ({"commit_sha": "not-a-sha"}, 422, "commit_sha"),
        ({"url": "ftp://x"}, 422, "url"),
        ({"source": "webhook"}, 422, "source"),  # the API records source "api" only
    ],
)
async def test_bad_deployments_name_the_field(
    client: httpx.AsyncClient, tenant: Tenant, body: dict[str, Any], status: int, field: str
) -> None:
    operator = tenant.headers["operator-a"]
    await register(client, operator, "orders")
    payload = {"environment": "staging", "version": "1.0", **body}
    response = await client.post(f"{SERVICES}/orders/deployments", json=payload, headers=operator)
    assert response.status_code == status, response.text
    assert field in fields_of(response)
    assert await history(client, operator, "orders") == []


@pytest.mark.parametrize("who", ["viewer-a", "operator-b", "admin-b"])
async def test_only_operators_of_the_owning_team_record_deployments(
    client: httpx.AsyncClient, tenant: Tenant, who: str
) -> None:
    await register(client, tenant.headers["operator-a"], "orders")
    response = await client.post(
        f"{SERVICES}/orders/deployments", json={"environment": "dev", "version": "1"},
        headers=tenant.headers[who],
    )  # fmt: skip
    assert response.status_code == 403
    assert await history(client, tenant.headers["operator-a"], "orders") == []


async def test_a_managed_service_still_takes_deployments(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant
) -> None:
    await register(client, tenant.headers["operator-a"], "orders")
    await make_managed(app, "orders")
    made = await deploy(client, tenant.headers["operator-a"], "orders", "production", "2.0")
    assert made["version"] == "2.0"


async def test_a_repeated_idempotency_key_records_once(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    operator = {**tenant.headers["operator-a"], "Idempotency-Key": "deploy-42"}
    await register(client, tenant.headers["operator-a"], "orders")
    body = {"environment": "dev", "version": "1.0"}
    first = await client.post(f"{SERVICES}/orders/deployments", json=body, headers=operator)
    again = await client.post(f"{SERVICES}/orders/deployments", json=body, headers=operator)
    assert (first.status_code, again.status_code) == (201, 201)
    assert first.json()["id"] == again.json()["id"]
    assert len(await history(client, operator, "orders")) == 1


async def test_other_organisations_neither_see_nor_record(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant
) -> None:
    await register(client, tenant.headers["operator-a"], "orders")
    await deploy(client, tenant.headers["operator-a"], "orders", "dev", "1.0")
    other = await other_org_admin(app)
    listed = await client.get(f"{SERVICES}/orders/deployments", headers=other)
    assert listed.status_code == 404
    posted = await client.post(
        f"{SERVICES}/orders/deployments", json={"environment": "dev", "version": "6.6.6"},
        headers=other,
    )  # fmt: skip
    assert posted.status_code == 404
    assert len(await history(client, tenant.headers["viewer-a"], "orders")) == 1


async def test_a_system_actor_records_from_code_and_removal_takes_history_along(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant
) -> None:
    await register(client, tenant.headers["operator-a"], "orders")
    async with app.state.runtime.sessions() as s, s.begin():
        service = await s.scalar(select(Service).where(Service.slug == "orders"))
        assert service is not None
        dep = await record_deployment(
            s, Actor.system("github-webhook"), service, environment="production",
            version="3.1", commit_sha="abcdef1", source=DeploymentSource.WEBHOOK,
        )  # fmt: skip
        assert dep.deployed_by == "github-webhook"
    [read] = await history(client, tenant.headers["viewer-a"], "orders")
    assert (read["source"], read["environment"], read["version"]) == (
        "webhook",
        "production",
        "3.1",
    )

    deleted = await client.delete(f"{SERVICES}/orders", headers=tenant.headers["operator-a"])
    assert deleted.status_code == 204
    async with app.state.runtime.sessions() as s:
        assert await s.scalar(select(func.count()).select_from(ServiceDeployment)) == 0
