"""The service registry over the API: registering, reading, listing, changing and
removing services; who may do which; what the audit log records."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.conftest import Tenant
from tests.services.support import SERVICES, make_managed, other_org_admin, register


def fields_of(response: httpx.Response) -> list[str]:
    return [d["field"] for d in response.json()["error"]["details"]]


async def audit_of(
    client: httpx.AsyncClient, headers: dict[str, str], action: str
) -> list[dict[str, Any]]:
    response = await client.get("/api/v1/audit", params={"action": action}, headers=headers)
    assert response.status_code == 200
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def test_operator_registers_a_service_every_member_reads(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    created = await register(
        client, tenant.headers["operator-a"], "orders", tier=1, lifecycle="production",
        system="shop", tags=["payments"], metadata={"pager": "orders-oncall"},
        links=[{"title": "Runbook", "url": "https://wiki.test/orders", "kind": "runbook"}],
    )  # fmt: skip
    assert created["team_id"] == str(tenant.team_a)
    assert created["managed"] is False
    # Another team's viewer reads it: the registry is the organisation's.
    read = await client.get(f"{SERVICES}/orders", headers=tenant.headers["viewer-b"])
    assert read.status_code == 200
    body = read.json()
    assert (body["tier"], body["lifecycle"], body["system"]) == (1, "production", "shop")
    assert body["metadata"] == {"pager": "orders-oncall"}
    assert body["links"] == [
        {"title": "Runbook", "url": "https://wiki.test/orders", "kind": "runbook"}
    ]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"slug": "Bad_Slug"}, "slug"),
        ({"slug": "x"}, "slug"),
        ({"tier": 4}, "tier"),
        ({"lifecycle": "retired"}, "lifecycle"),
        ({"repository_url": "not a url"}, "repository_url"),
        ({"links": [{"title": "x", "url": "https://x.test", "kind": "wiki"}]}, "links[0].kind"),
        ({"unknown": 1}, "unknown"),
    ],
)
async def test_bad_input_names_the_field(
    client: httpx.AsyncClient, tenant: Tenant, body: dict[str, Any], field: str
) -> None:
    payload = {"slug": "orders", "name": "Orders", "team": "team-a", **body}
    response = await client.post(SERVICES, json=payload, headers=tenant.headers["operator-a"])
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "VALIDATION_ERROR"
    assert field in fields_of(response)
    listed = await client.get(SERVICES, headers=tenant.headers["operator-a"])
    assert listed.json()["items"] == []


async def test_unknown_team_and_taken_slug_are_refused(
    client: httpx.AsyncClient, tenant: Tenant, admin_headers: dict[str, str]
) -> None:
    unknown = await client.post(
        SERVICES, json={"slug": "orders", "name": "O", "team": "nope"}, headers=admin_headers
    )
    assert unknown.status_code == 422
    assert fields_of(unknown) == ["team"]
    await register(client, tenant.headers["operator-a"], "orders")
    again = await client.post(
        SERVICES, json={"slug": "orders", "name": "O", "team": "team-b"}, headers=admin_headers
    )
    assert again.status_code == 409
    assert fields_of(again) == ["slug"]


async def test_only_operators_of_the_owning_team_change_a_service(
    client: httpx.AsyncClient, tenant: Tenant, admin_headers: dict[str, str]
) -> None:
    refused = await client.post(
        SERVICES, json={"slug": "orders", "name": "O", "team": "team-a"},
        headers=tenant.headers["viewer-a"],
    )  # fmt: skip
    assert refused.status_code == 403
    # An operator of team B may not register a service for team A either.
    foreign = await client.post(
        SERVICES, json={"slug": "orders", "name": "O", "team": "team-a"},
        headers=tenant.headers["operator-b"],
    )  # fmt: skip
    assert foreign.status_code == 403
    await register(client, tenant.headers["operator-a"], "orders")
    for who in ("viewer-a", "operator-b", "admin-b"):
        patch = await client.patch(
            f"{SERVICES}/orders", json={"tier": 1}, headers=tenant.headers[who]
        )
        assert patch.status_code == 403, who
        delete = await client.delete(f"{SERVICES}/orders", headers=tenant.headers[who])
        assert delete.status_code == 403, who
    assert (await client.get(f"{SERVICES}/orders", headers=admin_headers)).json()["tier"] == 3
    # The org admin may, without being in the team.
    assert (
        await client.patch(f"{SERVICES}/orders", json={"tier": 2}, headers=admin_headers)
    ).status_code == 200


async def test_another_organisation_does_not_see_our_services(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant
) -> None:
    await register(client, tenant.headers["operator-a"], "orders")
    theirs = await other_org_admin(app)
    for method in ("GET", "PATCH", "DELETE"):
        response = await client.request(
            method,
            f"{SERVICES}/orders",
            headers=theirs,
            json={"tier": 1} if method == "PATCH" else None,
        )
        assert response.status_code == 404, method
        assert response.json()["error"]["code"] == "NOT_FOUND"
    assert (await client.get(SERVICES, headers=theirs)).json()["items"] == []
    graph = await client.get("/api/v1/service-graph", headers=theirs)
    assert graph.json()["nodes"] == []
    # Their own team called team-a is not ours: they cannot register into our team.
    mine = await register(client, theirs, "orders", team="team-a")
    assert mine["team_id"] != str(tenant.team_a)


async def test_update_changes_only_what_was_sent_and_is_audited(
    client: httpx.AsyncClient, tenant: Tenant, admin_headers: dict[str, str]
) -> None:
    await register(client, tenant.headers["operator-a"], "orders", system="shop", tags=["a"])
    response = await client.patch(
        f"{SERVICES}/orders", json={"tier": 1, "system": None, "description": "Takes orders"},
        headers=tenant.headers["operator-a"],
    )  # fmt: skip
    assert response.status_code == 200
    body = response.json()
    assert (body["tier"], body["system"], body["description"]) == (1, None, "Takes orders")
    assert body["tags"] == ["a"] and body["name"] == "Orders"
    [entry] = await audit_of(client, admin_headers, "service.update")
    assert entry["target_type"] == "service" and entry["target_id"] == body["id"]
    assert entry["team_id"] == str(tenant.team_a)
    assert entry["before"] == {"tier": 3, "system": "shop", "description": ""}
    assert entry["after"] == {"tier": 1, "system": None, "description": "Takes orders"}


async def test_update_refuses_null_for_a_required_field(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    await register(client, tenant.headers["operator-a"], "orders")
    response = await client.patch(
        f"{SERVICES}/orders", json={"name": None}, headers=tenant.headers["operator-a"]
    )
    assert response.status_code == 422
    assert fields_of(response) == ["name"]
    slug = await client.patch(
        f"{SERVICES}/orders", json={"slug": "renamed"}, headers=tenant.headers["operator-a"]
    )
    assert slug.status_code == 422 and fields_of(slug) == ["slug"]


async def test_handing_a_service_to_another_team_needs_operator_there_too(
    client: httpx.AsyncClient, tenant: Tenant, admin_headers: dict[str, str]
) -> None:
    await register(client, tenant.headers["operator-a"], "orders")
    refused = await client.patch(
        f"{SERVICES}/orders", json={"team": "team-b"}, headers=tenant.headers["operator-a"]
    )
    assert refused.status_code == 403
    moved = await client.patch(f"{SERVICES}/orders", json={"team": "team-b"}, headers=admin_headers)
    assert moved.json()["team_id"] == str(tenant.team_b)
    # Now team B's operators own it, and team A's no longer do.
    assert (
        await client.patch(
            f"{SERVICES}/orders", json={"tier": 1}, headers=tenant.headers["operator-b"]
        )
    ).status_code == 200
    assert (
        await client.patch(
            f"{SERVICES}/orders", json={"tier": 2}, headers=tenant.headers["operator-a"]
        )
    ).status_code == 403


async def test_a_managed_service_refuses_edits(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant, admin_headers: dict[str, str]
) -> None:
    await register(client, tenant.headers["operator-a"], "orders")
    await register(client, tenant.headers["operator-a"], "billing")
    await make_managed(app, "orders")
    attempts = [
        client.patch(f"{SERVICES}/orders", json={"tier": 1}, headers=admin_headers),
        client.delete(f"{SERVICES}/orders", headers=admin_headers),
        client.post(
            f"{SERVICES}/orders/dependencies", json={"target": "billing"}, headers=admin_headers
        ),
    ]
    for attempt in attempts:
        response = await attempt
        assert response.status_code == 409
        assert response.json()["error"]["code"] == "CONFLICT"
    after = await client.get(f"{SERVICES}/orders", headers=admin_headers)
    assert after.json()["tier"] == 3 and after.json()["managed"] is True


async def test_delete_removes_the_service_and_is_audited(
    client: httpx.AsyncClient, tenant: Tenant, admin_headers: dict[str, str]
) -> None:
    created = await register(client, tenant.headers["operator-a"], "orders")
    response = await client.delete(f"{SERVICES}/orders", headers=tenant.headers["operator-a"])
    assert response.status_code == 204
    gone = await client.get(f"{SERVICES}/orders", headers=tenant.headers["operator-a"])
    assert gone.status_code == 404
    [entry] = await audit_of(client, admin_headers, "service.delete")
    assert entry["target_id"] == created["id"]
    assert entry["before"]["slug"] == "orders" and entry["after"] is None
    [made] = await audit_of(client, admin_headers, "service.create")
    assert made["after"]["slug"] == "orders"


async def test_list_filters_and_pages(client: httpx.AsyncClient, tenant: Tenant) -> None:
    a, b = tenant.headers["operator-a"], tenant.headers["operator-b"]
    await register(client, a, "orders", tier=1, lifecycle="production", tags=["shop", "core"],
                   description="Takes 100% of orders")  # fmt: skip
    await register(client, a, "billing", tier=2, tags=["shop"])
    await register(client, b, "search", "team-b", tier=1, lifecycle="deprecated", name="Finder")
    await register(client, b, "mailer", "team-b", tier=3)

    async def slugs(**params: Any) -> list[str]:
        response = await client.get(SERVICES, params=params, headers=tenant.headers["viewer-a"])
        assert response.status_code == 200, response.text
        return [s["slug"] for s in response.json()["items"]]

    assert await slugs() == ["billing", "mailer", "orders", "search"]
    assert await slugs(team="team-b") == ["mailer", "search"]
    assert await slugs(team=str(tenant.team_a)) == ["billing", "orders"]
    assert await slugs(tier=1) == ["orders", "search"]
    assert await slugs(lifecycle="deprecated") == ["search"]
    assert await slugs(tag="shop") == ["billing", "orders"]
    assert await slugs(tag="core") == ["orders"]
    assert await slugs(q="FIND") == ["search"]  # the name, any case
    assert await slugs(q="100%") == ["orders"]  # the description; % is not a wildcard
    assert await slugs(q="%") == ["orders"]
    assert await slugs(q="ill") == ["billing"]  # the slug
    first = await client.get(SERVICES, params={"limit": 3}, headers=a)
    assert [s["slug"] for s in first.json()["items"]] == ["billing", "mailer", "orders"]
    rest = await client.get(
        SERVICES, params={"limit": 3, "cursor": first.json()["next_cursor"]}, headers=a
    )
    assert [s["slug"] for s in rest.json()["items"]] == ["search"]
    assert rest.json()["next_cursor"] is None
    unknown_team = await client.get(SERVICES, params={"team": "nope"}, headers=a)
    assert unknown_team.status_code == 422 and fields_of(unknown_team) == ["team"]


async def test_a_repeated_idempotency_key_registers_once(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    headers = {**tenant.headers["operator-a"], "Idempotency-Key": "reg-orders-1"}
    body = {"slug": "orders", "name": "Orders", "team": "team-a"}
    first = await client.post(SERVICES, json=body, headers=headers)
    second = await client.post(SERVICES, json=body, headers=headers)
    assert first.status_code == second.status_code == 201
    assert second.headers.get("idempotent-replayed") == "true"
    assert first.json()["id"] == second.json()["id"]
    listed = await client.get(SERVICES, headers=headers)
    assert len(listed.json()["items"]) == 1
