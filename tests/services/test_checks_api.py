"""Health checks over the API: adding, reading, changing and removing them; validation;
who may do what; masking of header secrets; "run now"; results."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from loom.demo.fakes.server import FakeServer
from loom.settings import Settings
from tests.conftest import Tenant
from tests.services.check_support import add_check, check_settings, target
from tests.services.support import SERVICES, other_org_admin, register

__all__ = ["target"]


@pytest.fixture
def settings(database_url: str) -> Settings:
    return check_settings(database_url)


def fields_of(response: httpx.Response) -> list[str]:
    return [d["field"] for d in response.json()["error"]["details"]]


async def audit_of(
    client: httpx.AsyncClient, headers: dict[str, str], action: str
) -> list[dict[str, Any]]:
    response = await client.get("/api/v1/audit", params={"action": action}, headers=headers)
    assert response.status_code == 200
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def test_an_operator_adds_a_check_every_member_reads(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    ops = tenant.headers["operator-a"]
    await register(client, ops, "orders")
    created = await add_check(
        client, ops, "orders", "https://orders.test/health", name="health", expected_status=204,
        json_path="$.status", json_expected="ok", latency_threshold_ms=500, environment="prod",
    )  # fmt: skip
    assert created["expected_status"] == [204]
    assert (created["status"], created["last_result"], created["method"]) == (
        "unknown",
        None,
        "GET",
    )
    read = await client.get(
        f"{SERVICES}/orders/checks/{created['id']}", headers=tenant.headers["viewer-b"]
    )
    assert read.status_code == 200 and read.json()["environment"] == "prod"
    listed = await client.get(f"{SERVICES}/orders/checks", headers=tenant.headers["viewer-b"])
    assert [c["name"] for c in listed.json()["items"]] == ["health"]
    [entry] = await audit_of(client, tenant.headers["admin-a"], "service.check.create")
    assert entry["after"]["url"] == "https://orders.test/health"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"url": "ftp://orders.test/x"}, "url"),
        ({"url": "not a url"}, "url"),
        ({"url": "https:///nohost"}, "url"),
        ({"interval_seconds": 5}, "interval_seconds"),
        ({"interval_seconds": 86401}, "interval_seconds"),
        ({"timeout_seconds": 61}, "timeout_seconds"),
        ({"method": "PUT"}, "method"),
        ({"expected_status": [700]}, "expected_status[0]"),
        ({"json_path": "$..a[?(@.b)]"}, "json_path"),
        ({"name": ""}, "name"),
        ({"surprise": 1}, "surprise"),
    ],
)
async def test_bad_input_names_the_field(
    client: httpx.AsyncClient, tenant: Tenant, body: dict[str, Any], field: str
) -> None:
    ops = tenant.headers["operator-a"]
    await register(client, ops, "orders")
    payload = {"name": "health", "url": "https://orders.test/health", **body}
    response = await client.post(f"{SERVICES}/orders/checks", json=payload, headers=ops)
    assert response.status_code == 422, response.text
    assert field in fields_of(response)
    listed = await client.get(f"{SERVICES}/orders/checks", headers=ops)
    assert listed.json()["items"] == []


async def test_a_taken_name_is_a_conflict(client: httpx.AsyncClient, tenant: Tenant) -> None:
    ops = tenant.headers["operator-a"]
    await register(client, ops, "orders")
    await add_check(client, ops, "orders", "https://orders.test/a", name="health")
    again = await client.post(
        f"{SERVICES}/orders/checks", json={"name": "health", "url": "https://b.test"}, headers=ops
    )
    assert again.status_code == 409 and fields_of(again) == ["name"]


async def test_only_operators_of_the_owning_team_change_checks(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    await register(client, tenant.headers["operator-a"], "orders")
    body = {"name": "health", "url": "https://orders.test/health"}
    for who in ("viewer-a", "operator-b", "admin-b"):
        refused = await client.post(
            f"{SERVICES}/orders/checks", json=body, headers=tenant.headers[who]
        )
        assert refused.status_code == 403, who
    check = await add_check(client, tenant.headers["admin-a"], "orders", body["url"], name="h")
    url = f"{SERVICES}/orders/checks/{check['id']}"
    patch = await client.patch(url, json={"enabled": False}, headers=tenant.headers["operator-b"])
    assert patch.status_code == 403
    assert (await client.delete(url, headers=tenant.headers["viewer-a"])).status_code == 403
    run = await client.post(f"{SERVICES}/orders/checks/run", headers=tenant.headers["viewer-a"])
    assert run.status_code == 403


async def test_another_organisation_sees_nothing(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant
) -> None:
    ops = tenant.headers["operator-a"]
    await register(client, ops, "orders")
    check = await add_check(client, ops, "orders", "https://orders.test/health")
    them = await other_org_admin(app)
    base = f"{SERVICES}/orders"
    assert (await client.get(f"{base}/checks", headers=them)).status_code == 404
    assert (await client.get(f"{base}/checks/{check['id']}", headers=them)).status_code == 404
    assert (await client.get(f"{base}/health", headers=them)).status_code == 404
    # Their own service of the same slug does not reach ours either.
    await register(client, them, "orders")
    mine = await client.get(f"{base}/checks/{check['id']}", headers=them)
    assert mine.status_code == 404
    assert (await client.delete(f"{base}/checks/{check['id']}", headers=them)).status_code == 404


async def test_header_secrets_are_masked_and_kept(
    client: httpx.AsyncClient, tenant: Tenant, target: FakeServer
) -> None:
    ops = tenant.headers["operator-a"]
    await register(client, ops, "orders")
    check = await add_check(
        client, ops, "orders", target.url + "/healthy",
        headers={"Authorization": "Bearer s3cret", "X-Api-Key": "k3y", "Accept": "application/json"},
    )  # fmt: skip
    assert check["headers"] == {
        "Authorization": "••••", "X-Api-Key": "••••", "Accept": "application/json",
    }  # fmt: skip
    [entry] = await audit_of(client, tenant.headers["admin-a"], "service.check.create")
    assert "s3cret" not in str(entry) and "k3y" not in str(entry)
    # Sending the mask back keeps the stored secret; a new value replaces it.
    changed = await client.patch(
        f"{SERVICES}/orders/checks/{check['id']}",
        json={"headers": {"Authorization": "••••", "X-Api-Key": "new"}},
        headers=ops,
    )
    assert changed.status_code == 200
    run = await client.post(f"{SERVICES}/orders/checks/run", headers=ops)
    assert run.status_code == 200
    sent = target.calls[-1].headers
    assert (sent["authorization"], sent["x-api-key"]) == ("Bearer s3cret", "new")


async def test_changes_are_audited_and_a_new_url_starts_from_unknown(
    client: httpx.AsyncClient, tenant: Tenant, target: FakeServer
) -> None:
    ops = tenant.headers["operator-a"]
    await register(client, ops, "orders")
    check = await add_check(client, ops, "orders", target.url + "/healthy")
    url = f"{SERVICES}/orders/checks/{check['id']}"
    await client.post(f"{SERVICES}/orders/checks/run", headers=ops)
    assert (await client.get(url, headers=ops)).json()["status"] == "passing"
    renamed = await client.patch(url, json={"name": "renamed"}, headers=ops)
    assert renamed.json()["status"] == "passing"  # not a change of what is probed
    moved = await client.patch(url, json={"url": target.url + "/broken"}, headers=ops)
    assert moved.json()["status"] == "unknown"
    bad = await client.patch(url, json={"url": "gopher://x"}, headers=ops)
    assert bad.status_code == 422 and fields_of(bad) == ["url"]
    null = await client.patch(url, json={"interval_seconds": None}, headers=ops)
    assert null.status_code == 422 and fields_of(null) == ["interval_seconds"]
    updates = await audit_of(client, tenant.headers["admin-a"], "service.check.update")
    assert [sorted(u["after"]) for u in updates] == [["url"], ["name"]]
    assert (await client.delete(url, headers=ops)).status_code == 204
    assert (await client.get(url, headers=ops)).status_code == 404
    assert len(await audit_of(client, tenant.headers["admin-a"], "service.check.delete")) == 1


async def test_run_now_stores_results_and_returns_the_checks(
    client: httpx.AsyncClient, tenant: Tenant, target: FakeServer
) -> None:
    ops = tenant.headers["operator-a"]
    await register(client, ops, "orders")
    up = await add_check(client, ops, "orders", target.url + "/healthy", name="up")
    await add_check(client, ops, "orders", target.url + "/broken", name="down")
    await add_check(client, ops, "orders", target.url + "/slow", name="off", enabled=False)
    run = await client.post(f"{SERVICES}/orders/checks/run", headers=ops)
    assert run.status_code == 200
    got = {c["name"]: (c["status"], c["last_result"]["status_code"]) for c in run.json()}
    assert got == {"down": ("failing", 503), "up": ("passing", 200)}
    await client.post(f"{SERVICES}/orders/checks/run", headers=ops)
    results = await client.get(
        f"{SERVICES}/orders/checks/{up['id']}/results", params={"limit": 1}, headers=ops
    )
    body = results.json()
    assert len(body["items"]) == 1 and body["next_cursor"]
    rest = await client.get(
        f"{SERVICES}/orders/checks/{up['id']}/results",
        params={"limit": 5, "cursor": body["next_cursor"]}, headers=ops,
    )  # fmt: skip
    [older] = rest.json()["items"]
    assert older["started_at"] < body["items"][0]["started_at"]
    assert older["outcome"] == "passing" and older["ok"] is True


async def test_a_repeated_idempotency_key_returns_the_first_check(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    ops = {**tenant.headers["operator-a"], "Idempotency-Key": "check-1"}
    await register(client, tenant.headers["operator-a"], "orders")
    body = {"name": "health", "url": "https://orders.test/health"}
    first = await client.post(f"{SERVICES}/orders/checks", json=body, headers=ops)
    again = await client.post(f"{SERVICES}/orders/checks", json=body, headers=ops)
    assert first.status_code == again.status_code == 201
    assert first.json()["id"] == again.json()["id"]


async def test_a_host_not_allowed_is_a_failing_result(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    ops = tenant.headers["operator-a"]
    await register(client, ops, "orders")
    await add_check(client, ops, "orders", "http://10.1.2.3:9/health")
    [checked] = (await client.post(f"{SERVICES}/orders/checks/run", headers=ops)).json()
    assert checked["status"] == "failing"
    assert checked["last_result"]["message"].startswith("host not allowed")
