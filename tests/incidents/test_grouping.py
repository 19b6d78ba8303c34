"""Grouping alerts into incidents and ranking the root cause, through the pipeline."""

from __future__ import annotations

from datetime import timedelta

import httpx
from fastapi import FastAPI
from sqlalchemy import select

from loom.incidents import labels
from loom.incidents.models import IncidentEvent
from tests.conftest import Tenant
from tests.incidents.pipeline_support import (
    T0,
    AlertSpec,
    alerts_of,
    build_shop,
    fire,
    incidents,
    refire,
    repeat,
    resolve,
)

S = timedelta(seconds=1)


def db_storm() -> list[AlertSpec]:
    """The orders database dies: 14 alerts over 6 services within about 3 minutes,
    the top of the stack first (as users notice before databases are paged)."""
    return [
        AlertSpec("HighErrorRate", "web", 0 * S, "warning", {"instance": "web-1:80"}),
        AlertSpec("HighLatency", "web", 5 * S, "warning", {"instance": "web-2:80"}),
        AlertSpec("HighErrorRate", "api", 10 * S, "critical", {"pod": "api-7f9"}),
        AlertSpec("HighLatency", "api", 12 * S, "warning", {"pod": "api-7f9"}),
        AlertSpec("UpstreamTimeouts", "api", 15 * S),
        AlertSpec("CheckoutFailing", "checkout", 20 * S),
        AlertSpec("CheckoutLatency", "checkout", 25 * S, "warning"),
        AlertSpec("OrdersErrors", "orders", 30 * S),
        AlertSpec("OrdersQueueBacklog", "orders", 40 * S, "warning"),
        AlertSpec("InventorySyncFailing", "inventory", 45 * S),
        AlertSpec("InventoryErrors", "inventory", 50 * S, "warning"),
        AlertSpec("PostgresDown", "orders-db", 60 * S, "critical", {"host": "db-1"}),
        AlertSpec("PostgresReplicationLag", "orders-db", 70 * S, "warning", {"host": "db-1"}),
        AlertSpec("PostgresConnectionsExhausted", "orders-db", 180 * S, "critical"),
    ]


async def test_database_storm_is_one_incident_caused_by_the_database(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant
) -> None:
    await build_shop(client, tenant.headers["admin-a"])
    storm = db_storm()
    # Arriving in four batches, as Alertmanager groups would send them.
    for part in (storm[:3], storm[3:7], storm[7:11], storm[11:]):
        await fire(app, tenant.org_id, part)
    found = await incidents(app, tenant.org_id)
    open_ones = [i for i in found if i.merged_into_id is None]
    assert len(open_ones) == 1, [(i.number, i.title) for i in found]
    incident = open_ones[0]
    assert incident.alert_count == 14
    assert incident.firing_count == 14
    assert incident.severity == "critical"
    top = incident.root_cause[0]
    assert top["service"] == "orders-db"
    assert top["failing_dependencies"] == 0
    assert "none of its dependencies has alerts" in top["reasons"]
    assert all(c["score"] < top["score"] for c in incident.root_cause[1:])
    assert {c["service"] for c in incident.root_cause} == {
        "web", "api", "checkout", "orders", "inventory", "orders-db"
    }  # fmt: skip
    assert incident.title.startswith("orders-db: Postgres")
    affected = {a["service"]: a for a in incident.affected}
    assert affected["orders-db"]["distance"] == 0
    assert affected["orders"]["distance"] == 1 and affected["orders"]["alerts"] == 2
    assert affected["web"]["distance"] == 3 and affected["api"]["alerts"] == 3
    alerts = await alerts_of(app, incident)
    reasons = [a["grouping"]["text"] for a in alerts]
    assert any("depends on" in r and "within 5 min" in r for r in reasons), reasons


async def test_two_unrelated_failures_in_the_same_minute_stay_two_incidents(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant
) -> None:
    await build_shop(client, tenant.headers["admin-a"])
    await fire(
        app,
        tenant.org_id,
        [
            AlertSpec("PostgresDown", "payments-db", 0 * S, labels={"host": "db-2"}),
            AlertSpec("IndexRedShards", "search-index", 5 * S, labels={"host": "es-1"}),
            AlertSpec("PaymentsErrors", "payments", 20 * S),
            AlertSpec("SearchLatency", "search", 30 * S, "warning"),
        ],
    )
    found = await incidents(app, tenant.org_id)
    assert len(found) == 2
    by_root = {i.root_cause[0]["service"]: i for i in found}
    assert set(by_root) == {"payments-db", "search-index"}
    assert by_root["payments-db"].alert_count == 2
    assert by_root["search-index"].alert_count == 2


async def test_time_alone_never_groups(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant
) -> None:
    await build_shop(client, tenant.headers["admin-a"])
    await fire(app, tenant.org_id, [AlertSpec("A", "search"), AlertSpec("B", "orders-db", S)])
    await fire(app, tenant.org_id, [AlertSpec("C", None, 2 * S)])
    assert len(await incidents(app, tenant.org_id)) == 3


async def test_same_service_outside_the_window_opens_a_new_incident(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant
) -> None:
    await build_shop(client, tenant.headers["admin-a"])
    await fire(app, tenant.org_id, [AlertSpec("A", "orders")])
    await fire(app, tenant.org_id, [AlertSpec("B", "orders", 4 * 60 * S)])
    await fire(app, tenant.org_id, [AlertSpec("C", "orders", 10 * 60 * S)])
    found = await incidents(app, tenant.org_id)
    assert [i.alert_count for i in found] == [2, 1]
    joined = await alerts_of(app, found[0])
    assert any(a["grouping"]["text"] == "same service `orders` within 5 min" for a in joined), (
        joined
    )


async def test_shared_label_groups_services_the_graph_does_not_link(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant
) -> None:
    await build_shop(client, tenant.headers["admin-a"])
    await fire(app, tenant.org_id, [AlertSpec("DiskFull", "search", labels={"host": "node-7"})])
    await fire(
        app, tenant.org_id, [AlertSpec("OOMKilled", "payments", 30 * S, labels={"host": "node-7"})]
    )
    found = await incidents(app, tenant.org_id)
    assert len(found) == 1
    texts = [a["grouping"]["text"] for a in await alerts_of(app, found[0])]
    assert "same host `node-7` within 5 min" in texts


async def test_an_alert_linking_two_new_incidents_merges_them(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant
) -> None:
    """web and checkout are not within 2 hops of each other one way; their common
    dependency orders links both once it fails."""
    await build_shop(client, tenant.headers["admin-a"])
    await fire(app, tenant.org_id, [AlertSpec("WebDown", "web")])
    await fire(app, tenant.org_id, [AlertSpec("CheckoutDown", "checkout", 10 * S)])
    assert len(await incidents(app, tenant.org_id)) == 2
    await fire(app, tenant.org_id, [AlertSpec("OrdersDown", "orders", 20 * S)])
    found = await incidents(app, tenant.org_id)
    first, second = found
    assert second.merged_into_id == first.id and second.status == "resolved"
    assert first.alert_count == 3 and first.root_cause[0]["service"] == "orders"
    async with app.state.runtime.sessions() as s:
        kinds = list(
            await s.scalars(select(IncidentEvent.summary).where(IncidentEvent.kind == "merged"))
        )
    assert any("INC-2 merged in" in k for k in kinds), kinds


async def test_a_merged_incident_hands_its_labels_to_the_one_it_merges_into(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant
) -> None:
    """The checkout incident's host goes with it into the web incident: a later alert on
    that host, of a service the graph does not link, joins the merged incident."""
    await build_shop(client, tenant.headers["admin-a"])
    await fire(app, tenant.org_id, [AlertSpec("WebDown", "web", labels={"host": "node-1"})])
    await fire(
        app, tenant.org_id,
        [AlertSpec("CheckoutDown", "checkout", 10 * S, labels={"host": "node-2"})],
    )  # fmt: skip
    await fire(app, tenant.org_id, [AlertSpec("OrdersDown", "orders", 20 * S)])
    first, second = await incidents(app, tenant.org_id)
    assert second.merged_into_id == first.id
    async with app.state.runtime.sessions() as s:
        assert await labels.of(s, first.id) == ["host=node-1", "host=node-2"]
    await fire(
        app, tenant.org_id, [AlertSpec("DiskFull", "search", 30 * S, labels={"host": "node-2"})]
    )
    assert len(await incidents(app, tenant.org_id)) == 2  # joined INC-1, opened nothing
    texts = [a["grouping"]["text"] for a in await alerts_of(app, first)]
    assert "same host `node-2` within 5 min" in texts


async def test_topology_strategy_can_be_switched_off(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant
) -> None:
    await build_shop(client, tenant.headers["admin-a"])
    app.state.runtime.settings.incidents.grouping_strategies = ["same_service", "label"]
    await fire(app, tenant.org_id, [AlertSpec("A", "orders"), AlertSpec("B", "orders-db", S)])
    assert len(await incidents(app, tenant.org_id)) == 2


async def test_timeline_tells_the_story(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant
) -> None:
    await build_shop(client, tenant.headers["admin-a"])
    await fire(app, tenant.org_id, [AlertSpec("ApiErrors", "api")])
    await fire(app, tenant.org_id, [AlertSpec("PostgresDown", "orders-db", 30 * S)])
    (incident,) = await incidents(app, tenant.org_id)
    async with app.state.runtime.sessions() as s:
        events = list(
            await s.scalars(
                select(IncidentEvent)
                .where(IncidentEvent.incident_id == incident.id)
                .order_by(IncidentEvent.at, IncidentEvent.created_at)
            )
        )
    kinds = [e.kind for e in events]
    assert kinds.count("alert_fired") == 2 and kinds[0] == "incident_created"
    root_events = [e for e in events if e.kind == "root_cause"]
    assert [e.data["service"] for e in root_events] == ["api", "orders-db"]


async def test_resolved_alerts_quiet_the_incident_and_a_refire_wakes_it(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant
) -> None:
    await build_shop(client, tenant.headers["admin-a"])
    alerts = await fire(app, tenant.org_id, [AlertSpec("A", "orders"), AlertSpec("B", "orders-db")])
    await resolve(app, tenant.org_id, alerts[:1], now=T0 + 60 * S)
    (incident,) = await incidents(app, tenant.org_id)
    assert (incident.firing_count, incident.quiet_since) == (1, None)
    await resolve(app, tenant.org_id, alerts[1:], now=T0 + 90 * S)
    (incident,) = await incidents(app, tenant.org_id)
    assert incident.firing_count == 0 and incident.alert_count == 2
    assert incident.quiet_since == T0 + 90 * S
    assert incident.status == "triggered"  # resolving itself is the grace period's job
    await refire(app, tenant.org_id, alerts[1:], now=T0 + 120 * S)
    (incident,) = await incidents(app, tenant.org_id)
    assert incident.firing_count == 1 and incident.quiet_since is None
    assert incident.last_alert_at == T0 + 120 * S
    async with app.state.runtime.sessions() as s:
        kinds = list(
            await s.scalars(
                select(IncidentEvent.kind).where(IncidentEvent.incident_id == incident.id)
            )
        )
    assert kinds.count("alert_resolved") == 2 and kinds.count("alert_fired") == 2


async def test_alerts_seen_again_keep_their_incident_joinable_and_change_nothing_else(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant
) -> None:
    """A repeat moves the incident's last alert time (its grouping window) on; counts,
    title and root cause stay as they were."""
    await build_shop(client, tenant.headers["admin-a"])
    alerts = await fire(app, tenant.org_id, [AlertSpec("A", "orders"), AlertSpec("B", "web")])
    (before,) = await incidents(app, tenant.org_id)
    await repeat(app, tenant.org_id, alerts, now=T0 + 280 * S)
    (after,) = await incidents(app, tenant.org_id)
    assert after.last_alert_at == T0 + 280 * S
    assert (after.alert_count, after.stats, after.title) == (2, before.stats, before.title)
    # Nine minutes after the first alert, but within five of the repeat: it joins.
    await fire(app, tenant.org_id, [AlertSpec("C", "orders", 540 * S)])
    assert len(await incidents(app, tenant.org_id)) == 1


async def test_severity_is_the_worst_alert_and_title_follows_the_root_cause(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant
) -> None:
    await build_shop(client, tenant.headers["admin-a"])
    await fire(app, tenant.org_id, [AlertSpec("SlowPages", "web", severity="info")])
    (incident,) = await incidents(app, tenant.org_id)
    assert (incident.severity, incident.title) == ("info", "web: SlowPages")
    await fire(app, tenant.org_id, [AlertSpec("ApiErrors", "api", 10 * S, severity="warning")])
    (incident,) = await incidents(app, tenant.org_id)
    assert incident.severity == "warning"
    assert incident.title == "api: ApiErrors — 1 more service affected"


async def test_alerts_that_raise_the_severity_note_it_once_on_the_timeline(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant
) -> None:
    await build_shop(client, tenant.headers["admin-a"])
    await fire(app, tenant.org_id, [AlertSpec("SlowPages", "web", severity="info")])
    await fire(app, tenant.org_id, [AlertSpec("SlowSearch", "web", 5 * S, severity="info")])
    await fire(app, tenant.org_id, [AlertSpec("ApiErrors", "api", 10 * S, severity="warning"),
                                    AlertSpec("ApiDown", "api", 11 * S, severity="critical")])  # fmt: skip
    (incident,) = await incidents(app, tenant.org_id)
    assert incident.severity == "critical"
    async with app.state.runtime.sessions() as s:
        changes = list(
            await s.scalars(
                select(IncidentEvent).where(
                    IncidentEvent.incident_id == incident.id,
                    IncidentEvent.kind == "severity_changed",
                )
            )
        )
    # Opening at "info" and a second "info" alert change nothing; one batch, one entry.
    assert [(e.actor, e.data["from"], e.data["to"]) for e in changes] == [
        ("system", "info", "critical")
    ]
    assert changes[0].summary == "Severity raised to critical by its alerts"
