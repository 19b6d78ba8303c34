"""Reading the audit log: filters, cursor pagination, tenancy, admin-only verification."""

from __future__ import annotations

import httpx

from tests.conftest import Tenant


async def _rename(client: httpx.AsyncClient, tenant: Tenant, team: str, n: int) -> None:
    team_id = tenant.team_a if team == "a" else tenant.team_b
    for i in range(n):
        response = await client.patch(
            f"/api/v1/teams/{team_id}",
            json={"description": f"v{i}"},
            headers=tenant.headers[f"admin-{team}"],
        )
        assert response.status_code == 200


async def test_pages_follow_cursor_without_repeats(
    client: httpx.AsyncClient, tenant: Tenant, admin_headers: dict[str, str]
) -> None:
    await _rename(client, tenant, "a", 7)
    seen: list[int] = []
    cursor = None
    while True:
        params = {"action": "team.update", "limit": 3, **({"cursor": cursor} if cursor else {})}
        page = (await client.get("/api/v1/audit", params=params, headers=admin_headers)).json()
        seen += [e["seq"] for e in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == 7 and len(set(seen)) == 7
    assert seen == sorted(seen, reverse=True)


async def test_team_members_see_only_their_teams_entries(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    await _rename(client, tenant, "a", 1)
    await _rename(client, tenant, "b", 1)
    response = await client.get("/api/v1/audit", headers=tenant.headers["viewer-a"])
    teams = {e["team_id"] for e in response.json()["items"]}
    assert teams == {str(tenant.team_a)}


async def test_sparse_fields(client: httpx.AsyncClient, admin_headers: dict[str, str]) -> None:
    response = await client.get(
        "/api/v1/audit", params={"fields": "seq,action"}, headers=admin_headers
    )
    assert response.status_code == 200
    assert all(set(e) == {"seq", "action"} for e in response.json()["items"])
    bad = await client.get("/api/v1/audit", params={"fields": "seq,nope"}, headers=admin_headers)
    assert bad.status_code == 422 and bad.json()["error"]["details"][0]["field"] == "fields"


async def test_bad_cursor_and_limit_are_named(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    cursor = await client.get("/api/v1/audit", params={"cursor": "garbage!"}, headers=admin_headers)
    assert cursor.status_code == 422
    assert cursor.json()["error"]["details"][0]["field"] == "cursor"
    limit = await client.get("/api/v1/audit", params={"limit": 0}, headers=admin_headers)
    assert limit.status_code == 422
    assert limit.json()["error"]["details"][0]["field"] == "query.limit"


async def test_time_filters_need_a_timezone(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    ok = await client.get(
        "/api/v1/audit", params={"since": "2020-01-01T00:00:00Z"}, headers=admin_headers
    )
    assert ok.status_code == 200 and ok.json()["items"]
    naive = await client.get(
        "/api/v1/audit", params={"since": "2020-01-01T00:00:00"}, headers=admin_headers
    )
    assert naive.status_code == 422
    assert naive.json()["error"]["details"][0]["field"] == "query.since"


async def test_only_admins_verify(client: httpx.AsyncClient, tenant: Tenant) -> None:
    response = await client.get("/api/v1/audit/verify", headers=tenant.headers["admin-a"])
    assert response.status_code == 403
