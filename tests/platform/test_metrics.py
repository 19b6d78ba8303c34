"""Prometheus /metrics: protected by a token unless made public; RED metrics per route
template; the process's own figures."""

from __future__ import annotations

import httpx
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from tests.conftest import Tenant
from tests.platform.conftest import AppFactory

TOTAL = "loom_http_requests_total"
DURATION = "loom_http_request_duration_seconds"


def samples(text: str, name: str) -> list[Sample]:
    return [
        s
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == name
    ]


def value(text: str, name: str, **labels: str) -> float:
    found = [s.value for s in samples(text, name) if s.labels == labels]
    assert len(found) == 1, f"{name}{labels} not exposed exactly once"
    return found[0]


async def test_metrics_without_token_is_401_envelope(client: httpx.AsyncClient) -> None:
    response = await client.get("/metrics")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "UNAUTHENTICATED"
    assert response.headers["www-authenticate"] == "Bearer"


async def test_metrics_with_token_is_prometheus_text(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    response = await client.get("/metrics", headers=admin_headers)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=")
    assert samples(response.text, "process_resident_memory_bytes")
    assert samples(response.text, "python_info")
    assert value(response.text, "loom_http_in_flight") == 1  # this very scrape


async def test_raw_paths_never_become_labels(client: httpx.AsyncClient, tenant: Tenant) -> None:
    headers = tenant.headers["admin-a"]
    await client.get(f"/api/v1/teams/{tenant.team_a}", headers=headers)
    await client.get(f"/api/v1/teams/{tenant.team_b}")
    await client.get("/api/v1/no-such-thing")
    await client.get("/wp-login.php")

    text = (await client.get("/metrics", headers=headers)).text
    assert str(tenant.team_a) not in text and str(tenant.team_b) not in text
    assert "no-such-thing" not in text and "wp-login" not in text
    assert value(text, TOTAL, method="GET", route="unmatched", status="404") == 2


async def test_requests_are_counted_by_route_template_and_status(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    headers = tenant.headers["admin-a"]
    for _ in range(3):
        assert (await client.get(f"/api/v1/teams/{tenant.team_a}", headers=headers)).is_success
    assert (await client.get(f"/api/v1/teams/{tenant.team_b}")).status_code == 401

    text = (await client.get("/metrics", headers=headers)).text

    route = "/api/v1/teams/{team_id}"
    assert value(text, TOTAL, method="GET", route=route, status="200") == 3
    assert value(text, TOTAL, method="GET", route=route, status="401") == 1
    assert value(text, f"{DURATION}_count", method="GET", route=route) == 4
    assert value(text, f"{DURATION}_bucket", method="GET", route=route, le="+Inf") == 4
    assert value(text, f"{DURATION}_sum", method="GET", route=route) > 0


async def test_metrics_public_needs_no_token(make_app: AppFactory) -> None:
    _app, client = await make_app(telemetry={"metrics_public": True})
    await client.get("/api/v1/health")
    await client.get("/api/v1/health")
    response = await client.get("/metrics")
    assert response.status_code == 200
    ok = [s for s in samples(response.text, TOTAL) if s.labels["status"] == "200"]
    assert sum(s.value for s in ok) == 2
    assert samples(response.text, f"{DURATION}_bucket")
