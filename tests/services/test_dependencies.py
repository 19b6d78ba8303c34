"""Dependencies over the API: what a service calls (another service or an outside
resource), the checks on them, who may record them, and their audit entries."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.conftest import Tenant
from tests.services.support import SERVICES, depend, register


@pytest.fixture
async def two(client: httpx.AsyncClient, tenant: Tenant) -> None:
    await register(client, tenant.headers["operator-a"], "orders")
    await register(client, tenant.headers["operator-b"], "billing", team="team-b")


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({}, 422, "target"),
        ({"target": "billing", "target_resource": "postgres:orders-db"}, 422, "target"),
        ({"target": "orders"}, 422, "target"),
        ({"target": "nope"}, 422, "target"),
        ({"target_resource": "orders-db"}, 422, "target_resource"),
        ({"target": "billing", "kind": "rpc"}, 422, "kind"),
        ({"target": "billing", "criticality": "urgent"}, 422, "criticality"),
    ],
)
async def test_bad_dependencies_are_refused_naming_the_field(
    client: httpx.AsyncClient, tenant: Tenant, two: None, body: dict[str, Any], status: int,
    field: str,
) -> None:  # fmt: skip
    path = f"{SERVICES}/orders/dependencies"
    response = await client.post(path, json=body, headers=tenant.headers["operator-a"])
    assert response.status_code == status, response.text
    assert [d["field"] for d in response.json()["error"]["details"]] == [field]
    assert (await client.get(path, headers=tenant.headers["operator-a"])).json()["items"] == []


async def test_a_dependency_is_recorded_once(
    client: httpx.AsyncClient, tenant: Tenant, two: None
) -> None:
    headers = tenant.headers["operator-a"]
    await depend(client, headers, "orders", target="billing", kind="async", criticality="high")
    await depend(client, headers, "orders", target_resource="postgres:orders-db", kind="data")
    for body, field in (
        ({"target": "billing"}, "target"),
        ({"target_resource": "postgres:orders-db"}, "target_resource"),
    ):
        again = await client.post(f"{SERVICES}/orders/dependencies", json=body, headers=headers)
        assert again.status_code == 409
        assert again.json()["error"]["details"] == [
            {"field": field, "issue": "already a dependency"}
        ]


async def test_only_the_calling_services_operators_record_its_dependencies(
    client: httpx.AsyncClient, tenant: Tenant, two: None
) -> None:
    for who in ("viewer-a", "operator-b"):
        response = await client.post(
            f"{SERVICES}/orders/dependencies", json={"target": "billing"},
            headers=tenant.headers[who],
        )  # fmt: skip
        assert response.status_code == 403, who
    # Team B records that its own service calls team A's: the target's owner is not asked.
    made = await depend(client, tenant.headers["operator-b"], "billing", target="orders")
    assert (made["service"], made["target"], made["target_resource"]) == ("billing", "orders", None)


async def test_dependencies_list_both_ways_and_removal_is_audited(
    client: httpx.AsyncClient, tenant: Tenant, two: None, admin_headers: dict[str, str]
) -> None:
    a = tenant.headers["operator-a"]
    calls = await depend(client, a, "orders", target="billing", description="charges cards")
    await depend(client, a, "orders", target_resource="kafka:orders")
    down = await client.get(f"{SERVICES}/orders/dependencies", headers=tenant.headers["viewer-b"])
    assert [(d["target"], d["target_resource"]) for d in down.json()["items"]] == [
        ("billing", None), (None, "kafka:orders"),
    ]  # fmt: skip
    up = await client.get(f"{SERVICES}/billing/dependencies", params={"direction": "up"}, headers=a)
    assert [(d["service"], d["target"]) for d in up.json()["items"]] == [("orders", "billing")]

    wrong = await client.delete(
        f"{SERVICES}/billing/dependencies/{calls['id']}", headers=admin_headers
    )
    assert wrong.status_code == 404  # it belongs to orders, not billing
    removed = await client.delete(f"{SERVICES}/orders/dependencies/{calls['id']}", headers=a)
    assert removed.status_code == 204
    left = await client.get(f"{SERVICES}/orders/dependencies", headers=a)
    assert [d["target_resource"] for d in left.json()["items"]] == ["kafka:orders"]

    audit = await client.get(
        "/api/v1/audit", params={"target_type": "service"}, headers=admin_headers
    )
    entries = {e["action"]: e for e in audit.json()["items"]}
    assert entries["service.dependency.remove"]["before"]["target"] == "billing"
    assert entries["service.dependency.remove"]["before"]["description"] == "charges cards"
    added = [e for e in audit.json()["items"] if e["action"] == "service.dependency.add"]
    assert len(added) == 2 and all(e["team_id"] == str(tenant.team_a) for e in added)


async def test_removing_a_service_removes_the_dependencies_on_it(
    client: httpx.AsyncClient, tenant: Tenant, two: None, admin_headers: dict[str, str]
) -> None:
    await depend(client, tenant.headers["operator-a"], "orders", target="billing")
    assert (await client.delete(f"{SERVICES}/billing", headers=admin_headers)).status_code == 204
    left = await client.get(f"{SERVICES}/orders/dependencies", headers=admin_headers)
    assert left.json()["items"] == []
