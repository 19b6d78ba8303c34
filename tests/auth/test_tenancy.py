"""A viewer of team A can neither read nor change team B's objects; roles gate changes."""

from __future__ import annotations

import httpx

from tests.conftest import Tenant


async def test_viewer_lists_only_own_teams(client: httpx.AsyncClient, tenant: Tenant) -> None:
    response = await client.get("/api/v1/teams", headers=tenant.headers["viewer-a"])
    assert response.status_code == 200
    assert [t["slug"] for t in response.json()["items"]] == ["team-a"]


async def test_org_admin_lists_every_team(
    client: httpx.AsyncClient, tenant: Tenant, admin_headers: dict[str, str]
) -> None:
    response = await client.get("/api/v1/teams", headers=admin_headers)
    assert {"team-a", "team-b", "platform"} <= {t["slug"] for t in response.json()["items"]}


async def test_viewer_cannot_read_other_team(client: httpx.AsyncClient, tenant: Tenant) -> None:
    response = await client.get(
        f"/api/v1/teams/{tenant.team_b}", headers=tenant.headers["viewer-a"]
    )
    # Not found, not forbidden: the existence of other teams' objects does not leak.
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "NOT_FOUND"
    members = await client.get(
        f"/api/v1/teams/{tenant.team_b}/members", headers=tenant.headers["viewer-a"]
    )
    assert members.status_code == 404


async def test_viewer_cannot_change_other_team(client: httpx.AsyncClient, tenant: Tenant) -> None:
    response = await client.patch(
        f"/api/v1/teams/{tenant.team_b}",
        json={"name": "Hijacked"},
        headers=tenant.headers["admin-a"],
    )
    assert response.status_code == 404
    unchanged = await client.get(
        f"/api/v1/teams/{tenant.team_b}", headers=tenant.headers["admin-b"]
    )
    assert unchanged.json()["name"] == "Team B"


async def test_viewer_reads_but_cannot_change_own_team(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    read = await client.get(f"/api/v1/teams/{tenant.team_a}", headers=tenant.headers["viewer-a"])
    assert read.status_code == 200
    for who in ("viewer-a", "operator-a"):
        change = await client.patch(
            f"/api/v1/teams/{tenant.team_a}", json={"name": "X"}, headers=tenant.headers[who]
        )
        assert change.status_code == 403, who


async def test_team_admin_changes_own_team_and_it_is_audited(
    client: httpx.AsyncClient, tenant: Tenant, admin_headers: dict[str, str]
) -> None:
    response = await client.patch(
        f"/api/v1/teams/{tenant.team_a}",
        json={"description": "Payments"},
        headers={**tenant.headers["admin-a"], "X-Correlation-ID": "change-1"},
    )
    assert response.status_code == 200
    assert response.json()["description"] == "Payments"
    audit = await client.get(
        "/api/v1/audit", params={"correlation_id": "change-1"}, headers=admin_headers
    )
    [entry] = audit.json()["items"]
    assert entry["action"] == "team.update"
    assert entry["actor_name"] == "admin-a@loom.test"
    assert entry["before"]["description"] == ""
    assert entry["after"]["description"] == "Payments"


async def test_team_admin_adds_member_but_not_above_own_role(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    url = f"/api/v1/teams/{tenant.team_a}/members"
    added = await client.put(
        url,
        json={"email": "viewer-b@loom.test", "role": "operator"},
        headers=tenant.headers["admin-a"],
    )
    assert added.status_code == 200
    too_high = await client.put(
        url,
        json={"email": "viewer-b@loom.test", "role": "owner"},
        headers=tenant.headers["admin-a"],
    )
    assert too_high.status_code == 422
    assert too_high.json()["error"]["details"][0]["field"] == "role"
    # The new operator now sees team A as well as team B.
    teams = await client.get("/api/v1/teams", headers=tenant.headers["viewer-b"])
    assert {t["slug"] for t in teams.json()["items"]} == {"team-a", "team-b"}


async def test_only_org_admins_create_teams_and_users(
    client: httpx.AsyncClient, tenant: Tenant, admin_headers: dict[str, str]
) -> None:
    body = {"slug": "search", "name": "Search"}
    denied = await client.post("/api/v1/teams", json=body, headers=tenant.headers["admin-a"])
    assert denied.status_code == 403
    created = await client.post("/api/v1/teams", json=body, headers=admin_headers)
    assert created.status_code == 201
    again = await client.post("/api/v1/teams", json=body, headers=admin_headers)
    assert again.status_code == 409
    user = await client.post(
        "/api/v1/users",
        json={"email": "new@loom.test", "org_role": "viewer"},
        headers=admin_headers,
    )
    assert user.status_code == 201
    assert user.json()["org_role"] == "viewer"
    dup = await client.post("/api/v1/users", json={"email": "NEW@loom.test"}, headers=admin_headers)
    assert dup.status_code == 409


async def test_bad_slug_names_the_field(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    response = await client.post(
        "/api/v1/teams", json={"slug": "Not A Slug", "name": "x"}, headers=admin_headers
    )
    assert response.status_code == 422
    assert response.json()["error"]["details"][0]["field"] == "slug"
