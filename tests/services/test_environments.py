"""Environments over the API: the defaults an organisation starts with, and what its
admins (only they) may change."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from tests.conftest import Tenant
from tests.services.support import deploy, other_org_admin, register

ENVS = "/api/v1/environments"


def fields_of(response: httpx.Response) -> list[str]:
    return [d["field"] for d in response.json()["error"]["details"]]


async def slugs(client: httpx.AsyncClient, headers: dict[str, str]) -> list[str]:
    response = await client.get(ENVS, headers=headers)
    assert response.status_code == 200, response.text
    return [e["slug"] for e in response.json()["items"]]


async def test_an_organisation_starts_with_dev_staging_production(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    response = await client.get(ENVS, headers=tenant.headers["viewer-a"])
    assert response.status_code == 200
    envs = response.json()["items"]
    assert [(e["slug"], e["rank"], e["production"]) for e in envs] == [
        ("dev", 10, False), ("staging", 20, False), ("production", 30, True),
    ]  # fmt: skip
    assert all(e["drift_threshold_hours"] is None for e in envs)
    # Created once: asking again gives the same rows.
    again = await client.get(ENVS, headers=tenant.headers["viewer-b"])
    assert again.json()["items"] == envs
    paged = await client.get(ENVS, params={"limit": 2}, headers=tenant.headers["viewer-a"])
    assert [e["slug"] for e in paged.json()["items"]] == ["dev", "staging"]
    rest = await client.get(
        ENVS, params={"cursor": paged.json()["next_cursor"]}, headers=tenant.headers["viewer-a"]
    )
    assert [e["slug"] for e in rest.json()["items"]] == ["production"]


async def test_admin_adds_changes_and_removes_an_environment(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    body = {"slug": "qa", "name": "QA", "rank": 15, "drift_threshold_hours": 12}
    created = await client.post(ENVS, json=body, headers=admin_headers)
    assert created.status_code == 201, created.text
    assert await slugs(client, admin_headers) == ["dev", "qa", "staging", "production"]

    patched = await client.patch(
        f"{ENVS}/qa", json={"rank": 25, "name": "Quality"}, headers=admin_headers
    )
    assert patched.status_code == 200
    assert (patched.json()["rank"], patched.json()["name"]) == (25, "Quality")
    assert await slugs(client, admin_headers) == ["dev", "staging", "qa", "production"]
    cleared = await client.patch(
        f"{ENVS}/qa", json={"drift_threshold_hours": None}, headers=admin_headers
    )
    assert cleared.json()["drift_threshold_hours"] is None

    removed = await client.delete(f"{ENVS}/qa", headers=admin_headers)
    assert removed.status_code == 204
    assert await slugs(client, admin_headers) == ["dev", "staging", "production"]
    audit = await client.get(
        "/api/v1/audit", params={"target_type": "environment"}, headers=admin_headers
    )
    actions = {e["action"] for e in audit.json()["items"]}
    assert {"environment.create", "environment.update", "environment.delete"} <= actions


@pytest.mark.parametrize("who", ["viewer-a", "operator-a", "admin-a"])
async def test_only_org_admins_change_environments(
    client: httpx.AsyncClient, tenant: Tenant, who: str
) -> None:
    headers = tenant.headers[who]  # admin-a administers a team, not the organisation
    body = {"slug": "qa", "name": "QA", "rank": 15}
    assert (await client.post(ENVS, json=body, headers=headers)).status_code == 403
    patch = await client.patch(f"{ENVS}/dev", json={"name": "X"}, headers=headers)
    assert patch.status_code == 403
    assert (await client.delete(f"{ENVS}/dev", headers=headers)).status_code == 403
    assert await slugs(client, headers) == ["dev", "staging", "production"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"slug": "Bad Slug"}, "slug"),
        ({"rank": -1}, "rank"),
        ({"drift_threshold_hours": 0}, "drift_threshold_hours"),
        ({"name": ""}, "name"),
        ({"colour": "red"}, "colour"),
    ],
)
async def test_bad_input_names_the_field(
    client: httpx.AsyncClient, admin_headers: dict[str, str], body: dict[str, object], field: str
) -> None:
    payload = {"slug": "qa", "name": "QA", "rank": 15, **body}
    response = await client.post(ENVS, json=payload, headers=admin_headers)
    assert response.status_code == 422
    assert field in fields_of(response)


async def test_taken_slug_or_rank_is_a_conflict(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    twin = await client.post(
        ENVS, json={"slug": "staging", "name": "S", "rank": 99}, headers=admin_headers
    )
    assert (twin.status_code, fields_of(twin)) == (409, ["slug"])
    same_rank = await client.post(
        ENVS, json={"slug": "qa", "name": "QA", "rank": 20}, headers=admin_headers
    )
    assert (same_rank.status_code, fields_of(same_rank)) == (409, ["rank"])
    moved = await client.patch(f"{ENVS}/dev", json={"rank": 30}, headers=admin_headers)
    assert (moved.status_code, fields_of(moved)) == (409, ["rank"])
    null = await client.patch(f"{ENVS}/dev", json={"rank": None}, headers=admin_headers)
    assert (null.status_code, fields_of(null)) == (422, ["rank"])


async def test_an_environment_with_deployments_cannot_be_removed(
    client: httpx.AsyncClient, tenant: Tenant, admin_headers: dict[str, str]
) -> None:
    await register(client, tenant.headers["operator-a"], "orders")
    await deploy(client, tenant.headers["operator-a"], "orders", "staging", "1.0")
    refused = await client.delete(f"{ENVS}/staging", headers=admin_headers)
    assert refused.status_code == 409
    assert "deployments" in refused.json()["error"]["message"]
    assert "staging" in await slugs(client, admin_headers)
    # Unused ones go, but never the last.
    assert (await client.delete(f"{ENVS}/dev", headers=admin_headers)).status_code == 204
    assert (await client.delete(f"{ENVS}/production", headers=admin_headers)).status_code == 204
    await client.delete("/api/v1/services/orders", headers=admin_headers)
    last = await client.delete(f"{ENVS}/staging", headers=admin_headers)
    assert last.status_code == 409
    assert await slugs(client, admin_headers) == ["staging"]


async def test_environments_belong_to_their_organisation(
    app: FastAPI, client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    created = await client.post(
        ENVS, json={"slug": "qa", "name": "QA", "rank": 15}, headers=admin_headers
    )
    assert created.status_code == 201
    other = await other_org_admin(app)
    assert await slugs(client, other) == ["dev", "staging", "production"]
    assert (await client.patch(f"{ENVS}/qa", json={"name": "X"}, headers=other)).status_code == 404
    assert (await client.delete(f"{ENVS}/qa", headers=other)).status_code == 404
    assert "qa" in await slugs(client, admin_headers)
