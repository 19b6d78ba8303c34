"""`LoomClient.services` against a live server: services, dependencies, graphs, errors,
versions, drift, deployments, checks and scorecards (the checks' and scorecards' fuller
cases run through the CLI, tests/cli/test_service_status.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from loom.client import ApiError, LoomClient
from loom.client.service_models import Deployment, ServiceFilter

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


# -- the newer endpoints -----------------------------------------------------------------


def test_versions_drift_deployments_checks_and_scorecards(registry: LoomClient) -> None:
    services = registry.services
    five_days_ago = datetime.now(UTC) - timedelta(days=5)

    def release() -> Deployment:
        return services.record_deployment(
            "api", "staging", "1.3.0", commit_sha="abc1234", description="release",
            deployed_at=five_days_ago, idempotency_key="d1",
        )  # fmt: skip

    deployed = release()
    assert (deployed.service, deployed.environment, deployed.version) == ("api", "staging", "1.3.0")
    assert release().id == deployed.id  # recorded once
    services.record_deployment("api", "production", "1.2.0")

    matrix = services.versions(team="platform", tier=1)
    assert [e.slug for e in matrix.environments] == ["dev", "staging", "production"]
    row = {r.service: r for r in matrix.items}["api"]
    staging = row.versions["staging"]
    assert staging is not None and staging.commit_sha == "abc1234"
    assert row.versions["dev"] is None
    (finding,) = services.drift(environment="production", kind="behind")
    assert (finding.service, finding.kind, finding.reference_version) == ("api", "behind", "1.3.0")
    # 1.2.0 never went to staging either.
    assert [f.version for f in services.drift(kind="unseen_version")] == ["1.2.0"]
    assert [f.kind for f in services.drift(environment="staging")] == ["missing"]  # no dev
    history = list(services.iter_deployments("api", page_size=1))
    assert [d.version for d in history] == ["1.2.0", "1.3.0"]
    assert [d.version for d in services.iter_deployments("api", environment="staging")] == ["1.3.0"]

    assert services.run_checks("api") == []
    health = services.health("api")
    assert (health.status, health.checks) == ("unknown", [])
    card = services.scorecard("api")
    assert card.service == "api" and card.rules == []
    report = services.scorecard_report(environment="production")
    assert report.required_levels == {"production": "silver"}
    assert {i.service for i in report.items} == {"api", "auth", "billing", "ledger", "payouts"}
    assert all(i.go.keys() == {"production"} for i in report.items)

    with pytest.raises(ApiError) as caught:
        services.record_deployment("api", "qa", "1")
    assert caught.value.status == 400
    assert [d.field for d in caught.value.details] == ["environment"]
