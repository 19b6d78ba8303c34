"""End to end with a real Prometheus Alertmanager: alerts posted to Alertmanager's API
reach Loom through its webhook receiver and become one incident whose root cause is the
failing database; resolving the database's alert in Alertmanager resolves it in Loom.

Services: web -> api -> orders -> postgres-db, and api -> payments (which stays healthy).
Alertmanager runs on free local ports with the source's token in its webhook config; the
binary is Debian's (`make alertmanager`), installed here if missing when possible.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.client.conftest import mint_token
from tests.conftest import LiveServer
from tests.incidents.alertmanager_support import (
    Alertmanager,
    am_alert,
    ensure_alertmanager,
    running_alertmanager,
    wait_for,
)

pytestmark = pytest.mark.e2e

API = "/api/v1"
DEPENDENCIES = [("web", "api"), ("api", "orders"), ("orders", "postgres-db"), ("api", "payments")]
#: What fails, database first, as Prometheus would see it.
FAILING = {
    "postgres-db": ("PostgresDown", "critical", "pg_up == 0 on postgres-db-0"),
    "orders": ("OrdersErrorRate", "critical", "orders 5xx above 20 %"),
    "api": ("ApiLatencyHigh", "warning", "api p95 latency above 2 s"),
    "web": ("WebErrorBudgetBurn", "warning", "web error budget burning 14x"),
}


@pytest.fixture
def loom(live_server: LiveServer) -> Iterator[httpx.Client]:
    """The admin's API client on the live server."""
    token = mint_token(live_server.url)
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=live_server.url + API, headers=headers, timeout=10) as client:
        yield client


@pytest.fixture
def alertmanager_binary() -> None:
    reason = ensure_alertmanager()
    if reason is not None:
        pytest.skip(f"ALERTMANAGER END-TO-END TEST SKIPPED: {reason} (run `make alertmanager`)")


def _ok(response: httpx.Response, status: int = 201) -> Any:
    assert response.status_code == status, f"{response.request.url}: {response.text}"
    return response.json()


def _registry(loom: httpx.Client) -> None:
    _ok(loom.post("/teams", json={"slug": "shop", "name": "Shop"}))
    for slug in ("web", "api", "orders", "payments", "postgres-db"):
        body = {"slug": slug, "name": slug.title(), "team": "shop", "lifecycle": "production"}
        _ok(loom.post("/services", json=body))
    for caller, called in DEPENDENCIES:
        _ok(loom.post(f"/services/{caller}/dependencies", json={"target": called}))


def _labels(service: str) -> dict[str, str]:
    alertname, severity, _ = FAILING[service]
    return {
        "alertname": alertname,
        "service": service,
        "severity": severity,
        "environment": "production",
        "instance": f"{service}-0:9100",
    }


def _incidents(loom: httpx.Client) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = _ok(loom.get("/incidents", params={"limit": 100}), 200)["items"]
    return items


def _alerts_of(loom: httpx.Client, incident_id: str) -> list[dict[str, Any]]:
    data = _ok(loom.get(f"/incidents/{incident_id}/alerts", params={"limit": 100}), 200)
    items: list[dict[str, Any]] = data["items"] if isinstance(data, dict) else data
    return items


def _failure(loom: httpx.Client, am: Alertmanager) -> str:
    def all_alerts_grouped() -> bool:
        return sum(i["alert_count"] for i in _incidents(loom)) >= len(FAILING)

    try:
        wait_for(all_alerts_grouped, "Loom to hold the four alerts in incidents")
    except AssertionError as exc:
        raise AssertionError(
            f"{exc}\nLoom has: {_incidents(loom)}\nAlertmanager log:\n{am.log_tail()}"
        ) from None
    incidents = _incidents(loom)
    assert len(incidents) == 1, incidents
    [incident] = incidents
    assert incident["root_cause"] == "postgres-db", incident
    assert incident["alert_count"] == 4 and incident["firing_count"] == 4, incident
    assert sorted(incident["services"]) == sorted(FAILING), incident
    assert incident["severity"] == "critical"
    assert incident["status"] == "triggered"
    detail = _ok(loom.get(f"/incidents/{incident['id']}"), 200)
    top = detail["root_cause_candidates"][0]
    assert top["service"] == "postgres-db" and top["failing_dependencies"] == 0, detail
    assert top["reasons"], detail
    affected = {a["service"] for a in detail["affected"]}
    assert {"orders", "api", "web"} <= affected and "payments" not in affected, detail
    return str(incident["id"])


def test_alertmanager_alerts_become_one_incident_rooted_at_the_database(
    alertmanager_binary: None, live_server: LiveServer, loom: httpx.Client, tmp_path: Path
) -> None:
    _registry(loom)
    source = _ok(loom.post("/alert-sources", json={"name": "prom-am", "kind": "alertmanager"}))
    webhook = f"{live_server.url}{API}/alerts/alertmanager"
    # Started now, not earlier: Alertmanager flushes a group at once when an alert in it
    # started more than group_wait ago, possibly before the rest of the post is in; this
    # way the four alerts leave together, one group_wait (1 s) later, in one notification.
    started = datetime.now(UTC)
    with running_alertmanager(tmp_path / "alertmanager", webhook, source["token"]) as am:
        am.post_alerts(
            [am_alert(_labels(s), summary=FAILING[s][2], starts_at=started) for s in FAILING]
        )
        incident_id = _failure(loom, am)

        # The incident's alerts are Alertmanager's, fingerprints and all.
        alerts = _alerts_of(loom, incident_id)
        by_service = {a["service"]: a for a in alerts}
        assert sorted(by_service) == sorted(FAILING)
        fingerprints = {a["labels"]["service"]: a["fingerprint"] for a in am.alerts()}
        assert {s: a["fingerprint"] for s, a in by_service.items()} == fingerprints
        assert by_service["postgres-db"]["source"] == "prom-am"
        assert by_service["postgres-db"]["severity"] == "critical"
        assert by_service["postgres-db"]["summary"] == FAILING["postgres-db"][2]
        assert all(a["status"] == "firing" and a["ends_at"] is None for a in alerts), alerts

        # The database recovers: Alertmanager sends it resolved, Loom marks it resolved.
        resolved_at = datetime.now(UTC)
        assert resolved_at > started
        am.post_alerts([am_alert(_labels("postgres-db"), starts_at=started, ends_at=resolved_at)])

        def db_resolved() -> dict[str, Any] | None:
            db = {a["service"]: a for a in _alerts_of(loom, incident_id)}["postgres-db"]
            return db if db["status"] == "resolved" else None

        db = wait_for(db_resolved, "Loom to mark the database's alert resolved")
        assert db["ends_at"] is not None
        incidents = _incidents(loom)
        assert [i["id"] for i in incidents] == [incident_id], incidents
        [incident] = incidents
        assert incident["alert_count"] == 4 and incident["firing_count"] == 3, incident
        still = {a["service"]: a["status"] for a in _alerts_of(loom, incident_id)}
        assert still == {"postgres-db": "resolved", "orders": "firing", "api": "firing",
                         "web": "firing"}  # fmt: skip
        timeline = _ok(loom.get(f"/incidents/{incident_id}/timeline", params={"limit": 100}), 200)
        resolved = [e for e in timeline["items"] if e["kind"] == "alert_resolved"]
        assert [e["data"]["fingerprint"] for e in resolved] == [db["fingerprint"]], timeline
