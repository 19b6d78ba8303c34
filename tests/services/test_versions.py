"""The version matrix and the drift report over the API, `drifting_services` for the
scorecards, and the slugs those fixed paths reserve."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from loom.auth.models import User
from loom.services.versions import drifting_services
from tests.conftest import ADMIN_EMAIL, Tenant
from tests.services.support import SERVICES, deploy, other_org_admin, register

NOW = datetime.now(UTC)


def ago(days: float) -> str:
    return (NOW - timedelta(days=days)).isoformat()


async def get(
    client: httpx.AsyncClient, path: str, headers: dict[str, str], **params: Any
) -> dict[str, Any]:
    response = await client.get(f"{SERVICES}/{path}", params=params, headers=headers)
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()
    return data


async def shop(client: httpx.AsyncClient, tenant: Tenant) -> None:
    """orders (team a, tier 1): level everywhere. cart (team a): production behind staging
    for 5 days. search (team b, tier 2): a hot-fix straight to production."""
    a, b = tenant.headers["operator-a"], tenant.headers["operator-b"]
    await register(client, a, "orders", tier=1, system="shop")
    await register(client, a, "cart", tier=3, system="shop")
    await register(client, b, "search", team="team-b", tier=2)
    for env in ("dev", "staging", "production"):
        await deploy(client, a, "orders", env, "1.0", deployed_at=ago(20))
    await deploy(client, a, "cart", "dev", "2.0", deployed_at=ago(20))
    await deploy(client, a, "cart", "staging", "1.0", deployed_at=ago(30))
    await deploy(client, a, "cart", "staging", "2.0", deployed_at=ago(5))
    await deploy(client, a, "cart", "staging", "2.0", deployed_at=ago(1))  # a redeploy
    await deploy(client, a, "cart", "production", "1.0", deployed_at=ago(30), commit_sha="abc1234")
    await deploy(client, b, "search", "dev", "0.9", deployed_at=ago(10))
    await deploy(client, b, "search", "staging", "0.9", deployed_at=ago(10))
    await deploy(client, b, "search", "production", "0.9", deployed_at=ago(10))
    await deploy(client, b, "search", "production", "0.9-hotfix", deployed_at=ago(1))


async def test_the_matrix_shows_what_runs_where_and_the_drift(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    await shop(client, tenant)
    matrix = await get(client, "versions", tenant.headers["viewer-b"])
    assert [e["slug"] for e in matrix["environments"]] == ["dev", "staging", "production"]
    rows = {r["service"]: r for r in matrix["items"]}
    assert list(rows) == ["cart", "orders", "search"]
    cart = rows["cart"]
    assert (cart["tier"], cart["team_id"]) == (3, str(tenant.team_a))
    assert {env: v["version"] for env, v in cart["versions"].items()} == {
        "dev": "2.0", "staging": "2.0", "production": "1.0",
    }  # fmt: skip
    assert cart["versions"]["production"]["commit_sha"] == "abc1234"
    assert cart["versions"]["production"]["deployed_by"] == "operator-a@loom.test"
    [behind] = cart["drift"]
    assert (behind["kind"], behind["environment"], behind["reference_version"]) == (
        "behind", "production", "2.0",
    )  # fmt: skip
    # Counted from staging's switch to 2.0 five days ago, not from its redeploy yesterday.
    assert datetime.fromisoformat(behind["since"]) == datetime.fromisoformat(ago(5))
    assert rows["orders"]["drift"] == []
    assert [f["kind"] for f in rows["search"]["drift"]] == ["unseen_version"]


async def test_a_service_never_deployed_has_an_empty_row(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    await register(client, tenant.headers["operator-a"], "orders")
    [row] = (await get(client, "versions", tenant.headers["viewer-a"]))["items"]
    assert row["versions"] == {"dev": None, "staging": None, "production": None}
    assert row["drift"] == []


async def test_the_matrix_filters_by_team_tier_and_system(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    await shop(client, tenant)
    h = tenant.headers["viewer-a"]

    async def services(**params: Any) -> list[str]:
        return [r["service"] for r in (await get(client, "versions", h, **params))["items"]]

    assert await services(team="team-b") == ["search"]
    assert await services(tier=1) == ["orders"]
    assert await services(system="shop") == ["cart", "orders"]
    unknown = await client.get(f"{SERVICES}/versions", params={"team": "nope"}, headers=h)
    assert unknown.status_code == 422


async def test_environment_thresholds_decide_what_is_behind(
    client: httpx.AsyncClient, tenant: Tenant, admin_headers: dict[str, str]
) -> None:
    await shop(client, tenant)
    # production tolerates 10 days: cart's 5 days behind are no longer drift.
    patched = await client.patch(
        "/api/v1/environments/production", json={"drift_threshold_hours": 240},
        headers=admin_headers,
    )  # fmt: skip
    assert patched.status_code == 200
    report = await get(client, "drift", tenant.headers["viewer-a"])
    assert [(f["service"], f["kind"]) for f in report["items"]] == [("search", "unseen_version")]


async def test_the_drift_report_is_ordered_and_filtered(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    await shop(client, tenant)
    a = tenant.headers["operator-a"]
    # orders: staging gets 1.1, dev never did (unseen); production lags 1.1 only a day.
    await deploy(client, a, "orders", "staging", "1.1", deployed_at=ago(1))
    h = tenant.headers["viewer-a"]
    report = await get(client, "drift", h)
    assert [(f["service"], f["environment"], f["kind"]) for f in report["items"]] == [
        ("cart", "production", "behind"),
        ("orders", "staging", "unseen_version"),
        ("search", "production", "unseen_version"),
    ]
    assert "production" in report["items"][0]["message"]
    kinds = await get(client, "drift", h, kind="behind")
    assert [f["service"] for f in kinds["items"]] == ["cart"]
    staging = await get(client, "drift", h, environment="staging")
    assert [f["service"] for f in staging["items"]] == ["orders"]
    team_b = await get(client, "drift", h, team="team-b")
    assert [f["service"] for f in team_b["items"]] == ["search"]
    bad_env = await client.get(f"{SERVICES}/drift", params={"environment": "qa"}, headers=h)
    assert bad_env.status_code == 400
    assert bad_env.json()["error"]["details"][0]["field"] == "environment"
    bad_kind = await client.get(f"{SERVICES}/drift", params={"kind": "late"}, headers=h)
    assert bad_kind.status_code == 422


async def test_drifting_services_for_the_scorecards(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant
) -> None:
    await shop(client, tenant)
    cart = await get(client, "cart", tenant.headers["viewer-a"])
    search = await get(client, "search", tenant.headers["viewer-a"])
    async with app.state.runtime.sessions() as s, s.begin():
        org_id = await s.scalar(select(User.org_id).where(User.email == ADMIN_EMAIL))
        assert org_id is not None
        found = await drifting_services(s, org_id)
        assert {str(k): [f.kind for f in v] for k, v in found.items()} == {
            cart["id"]: ["behind"], search["id"]: ["unseen_version"],
        }  # fmt: skip
        # The clock is a parameter: just under 3 days after staging got cart 2.0, production
        # was not behind yet.
        earlier = await drifting_services(s, org_id, now=NOW - timedelta(days=2, hours=1))
        assert {str(k) for k in earlier} == {search["id"]}
        # Nor with a longer default threshold (environments without their own).
        assert {str(k) for k in await drifting_services(s, org_id, default_hours=200)} == {
            search["id"]
        }


async def test_other_organisations_see_only_their_own(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant
) -> None:
    await shop(client, tenant)
    other = await other_org_admin(app)
    assert (await get(client, "versions", other))["items"] == []
    assert (await get(client, "drift", other))["items"] == []


@pytest.mark.parametrize("slug", ["versions", "drift"])
async def test_the_fixed_paths_reserve_their_slugs(
    client: httpx.AsyncClient, tenant: Tenant, slug: str
) -> None:
    response = await client.post(
        SERVICES, json={"slug": slug, "name": "X", "team": "team-a"},
        headers=tenant.headers["operator-a"],
    )  # fmt: skip
    assert response.status_code == 422
    assert [d["field"] for d in response.json()["error"]["details"]] == ["slug"]
