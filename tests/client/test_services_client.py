"""`LoomClient.services` against a live server (services, dependencies, graphs, errors),
and the calls of the newer endpoints (versions, drift, deployments, checks, scorecards)
against a stand-in server (httpx.MockTransport) answering as their contract says."""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx
import pytest

from loom.client import ApiError, LoomClient
from loom.client.service_models import ServiceFilter

pytestmark = pytest.mark.sqlite_only


@pytest.fixture
def registry(admin: LoomClient) -> LoomClient:
    """Five services in two teams: platform (api, auth, billing) and payments (ledger,
    payouts)."""
    admin.identity.create_team("payments", "Payments")
    admin.services.create("api", "API", "platform", tier=1, lifecycle="production",
                          tags=["edge"], description="The public gateway")  # fmt: skip
    admin.services.create("auth", "Auth", "platform", tier=1, tags=["edge", "security"])
    admin.services.create("billing", "Billing", "platform", tier=2)
    admin.services.create("ledger", "Ledger", "payments", tier=1, lifecycle="production")
    admin.services.create("payouts", "Payouts", "payments", tier=3, lifecycle="deprecated")
    return admin


def _slugs(client: LoomClient, **where: object) -> list[str]:
    return [s.slug for s in client.services.iter(ServiceFilter(**where))]  # type: ignore[arg-type]


def test_list_filters_and_pages(registry: LoomClient) -> None:
    assert _slugs(registry) == ["api", "auth", "billing", "ledger", "payouts"]
    assert _slugs(registry, team="payments") == ["ledger", "payouts"]
    assert _slugs(registry, tier=1) == ["api", "auth", "ledger"]
    assert _slugs(registry, lifecycle="production") == ["api", "ledger"]
    assert _slugs(registry, tag="security") == ["auth"]
    assert _slugs(registry, q="gateway") == ["api"]
    assert _slugs(registry, team="payments", tier=3) == ["payouts"]

    first = registry.services.list(limit=2)
    assert [s.slug for s in first.items] == ["api", "auth"] and first.next_cursor
    second = registry.services.list(limit=2, cursor=first.next_cursor)
    assert [s.slug for s in second.items] == ["billing", "ledger"]
    paged = [s.slug for s in registry.services.iter(page_size=2)]
    assert paged == ["api", "auth", "billing", "ledger", "payouts"]
    assert [s.slug for s in registry.services.iter(page_size=2, max_items=3)] == [
        "api",
        "auth",
        "billing",
    ]


def test_create_read_update_delete(registry: LoomClient) -> None:
    api = registry.services.get("api")
    assert (api.name, api.tier, api.lifecycle, api.tags) == ("API", 1, "production", ["edge"])
    assert api.managed is False

    changed = registry.services.update("api", name="Gateway", system="edge", tier=2)
    assert (changed.name, changed.system, changed.tier) == ("Gateway", "edge", 2)
    cleared = registry.services.update("api", system=None)
    assert cleared.system is None and cleared.name == "Gateway"
    assert registry.services.get("api").name == "Gateway"

    registry.services.delete("api")
    with pytest.raises(ApiError) as caught:
        registry.services.get("api")
    assert (caught.value.status, caught.value.code) == (404, "NOT_FOUND")


def test_dependencies_both_ways_and_removal(registry: LoomClient) -> None:
    calls = registry.services.add_dependency("api", target="auth", criticality="high")
    assert (calls.service, calls.target, calls.criticality) == ("api", "auth", "high")
    registry.services.add_dependency("api", target_resource="postgres:api-db", kind="data")
    registry.services.add_dependency("billing", target="auth", kind="async")

    down = list(registry.services.iter_dependencies("api"))
    assert {(d.target, d.target_resource) for d in down} == {
        ("auth", None),
        (None, "postgres:api-db"),
    }
    up = list(registry.services.iter_dependencies("auth", "up"))
    assert sorted(d.service for d in up) == ["api", "billing"]
    assert registry.services.dependencies("auth", "up", limit=1).next_cursor

    registry.services.remove_dependency("api", calls.id)
    assert [d.service for d in registry.services.iter_dependencies("auth", "up")] == ["billing"]


def test_graph_with_a_cycle_and_the_whole_system(registry: LoomClient) -> None:
    registry.services.add_dependency("api", target="auth")
    registry.services.add_dependency("auth", target="billing")
    registry.services.add_dependency("billing", target="api")
    registry.services.add_dependency("ledger", target="api")

    graph = registry.services.graph("auth", depth=1, direction="down")
    assert {n.slug: n.distance for n in graph.nodes} == {"auth": 0, "billing": 1}
    around = registry.services.graph("api", depth=3, direction="both")
    assert {n.slug for n in around.nodes} == {"api", "auth", "billing", "ledger"}
    assert len(around.cycles) == 1 and set(around.cycles[0]) == {"api", "auth", "billing"}
    assert {(e.source, e.target) for e in around.edges} >= {("ledger", "api"), ("api", "auth")}

    system = registry.services.system_graph()
    assert {n.slug for n in system.nodes} == {"api", "auth", "billing", "ledger", "payouts"}
    assert all(n.distance is None for n in system.nodes)
    assert len(system.edges) == 4 and len(system.cycles) == 1


def test_api_errors_name_the_field(registry: LoomClient) -> None:
    with pytest.raises(ApiError) as caught:
        registry.services.create("Bad Slug", "Bad", "platform")
    assert caught.value.status in (400, 422)
    assert any(d.field.endswith("slug") for d in caught.value.details)

    with pytest.raises(ApiError) as caught:
        registry.services.create("api", "Again", "platform")
    assert caught.value.status == 409

    with pytest.raises(ApiError) as caught:
        registry.services.graph("api", depth=99)
    assert caught.value.status == 400
    assert [d.field for d in caught.value.details] == ["depth"]

    with pytest.raises(ApiError) as caught:
        registry.services.add_dependency("nope", target="api")
    assert caught.value.status == 404


# -- the newer endpoints, against their contract ---------------------------------------

Handler = Callable[[httpx.Request], httpx.Response]


def _stand_in(answers: dict[tuple[str, str], object], seen: list[httpx.Request]) -> LoomClient:
    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        body = answers[(request.method, request.url.path)]
        return httpx.Response(201 if request.method == "POST" else 200, json=body)

    return LoomClient("http://loom.test", "loom_x", transport=httpx.MockTransport(handler))


VERSIONS = {
    "environments": [{"slug": "staging", "name": "Staging", "rank": 1}],
    "items": [
        {
            "service": "api",
            "name": "API",
            "team_id": "6f1c2b4e-8a59-4a7e-9a53-0d3e7a1b2c3d",
            "tier": 1,
            "versions": {"staging": {"version": "1.2.0", "deployed_at": None,
                                     "deployed_by": "ci", "commit_sha": "abc"}},
            "drift": [],
            "owner_on_call": "someone new",
        }
    ],
    "generated_at": "later",
}  # fmt: skip


def test_newer_endpoints_send_what_their_contract_says() -> None:
    seen: list[httpx.Request] = []
    answers: dict[tuple[str, str], object] = {
        ("GET", "/api/v1/services/versions"): VERSIONS,
        ("GET", "/api/v1/services/drift"): {"items": []},
        ("POST", "/api/v1/services/api/deployments"): {"environment": "prod", "version": "2"},
        ("GET", "/api/v1/services/api/deployments"): {"items": [], "next_cursor": None},
        ("POST", "/api/v1/services/api/checks/run"): [
            {"check_id": "c1", "name": "ping", "outcome": "passing", "status_code": 200,
             "duration_ms": 12, "message": None}
        ],
        ("GET", "/api/v1/scorecards/report"): {"environment": "prod", "items": []},
    }  # fmt: skip
    with _stand_in(answers, seen) as client:
        matrix = client.services.versions(team="platform", tier=1)
        row = matrix.items[0]
        assert row.versions["staging"] and row.versions["staging"].version == "1.2.0"
        assert client.services.drift(environment="production") == []
        deployed = client.services.record_deployment("api", "prod", "2", commit_sha="abc")
        assert (deployed.environment, deployed.version) == ("prod", "2")
        assert list(client.services.iter_deployments("api", environment="prod")) == []
        assert [r.outcome for r in client.services.run_checks("api")] == ["passing"]
        assert client.services.scorecard_report(environment="prod").items == []

    params = [dict(r.url.params) for r in seen if r.method == "GET"]
    assert params[0] == {"team": "platform", "tier": "1"}
    assert params[1] == {"environment": "production"}
    assert params[2] == {"environment": "prod", "limit": "100"}
    assert params[3] == {"environment": "prod"}
    posted = json.loads(seen[2].content)
    assert posted == {"environment": "prod", "version": "2", "commit_sha": "abc"}


@pytest.mark.parametrize("wrapper", ["items", "results"])
def test_check_results_may_come_wrapped(wrapper: str) -> None:
    result = {"check_id": "c1", "outcome": "failing", "message": "HTTP 500"}
    answers: dict[tuple[str, str], object] = {
        ("POST", "/api/v1/services/api/checks/run"): {wrapper: [result]}
    }
    with _stand_in(answers, []) as client:
        assert [r.message for r in client.services.run_checks("api")] == ["HTTP 500"]
