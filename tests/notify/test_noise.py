"""Noise control by pattern: incidents of one recurring problem share a pattern (and
different problems do not), and a rule's hourly limit counts per pattern, so a problem
that keeps reopening as new incidents is muted past the limit while another is not."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from fastapi import FastAPI

from loom.demo.fakes.server import FakeServer, Reply
from loom.incidents.models import Incident
from loom.notify.consumer import NotifyConsumers
from loom.notify.noise import pattern
from tests.incidents.alert_support import as_source, make_source
from tests.notify.conftest import Notifier

NOTIFY = "/api/v1/notify"
ORG = uuid.uuid4()
ORDERS_DB = uuid.uuid4()


def incident(
    *, number: int = 1, title: str = "orders-db: PostgresDown", org: uuid.UUID = ORG,
    environment: str | None = "prod", root: str | None = "orders-db",
    names: dict[str, int] | None = None,
) -> Incident:  # fmt: skip
    names = {"PostgresDown": 3, "ReplicationLag": 1} if names is None else names
    stats: dict[str, Any] = {"alerts": sum(names.values()), "names": names}
    if root:
        stats["services"] = {str(ORDERS_DB): {"first_seen": "2026-11-27T03:00:00+00:00",
                                              "alerts": 3, "firing": 3, "names": names}}  # fmt: skip
    return Incident(
        id=uuid.uuid4(), org_id=org, number=number, title=title, environment=environment,
        root_cause=[{"service": root, "score": 90}] if root else [],
        root_cause_service_id=ORDERS_DB if root else None, stats=stats,
    )  # fmt: skip


def test_the_same_recurring_problem_shares_a_pattern() -> None:
    first = pattern(incident(), ["orders-db", "orders"])
    again = incident(number=42, title="orders-db: PostgresDown — 5 more services affected",
                     names={"PostgresDown": 9, "HighLatency": 4})  # fmt: skip
    assert pattern(again, ["orders", "orders-db", "api"]) == first
    assert len(first) == 64


def test_another_problem_has_another_pattern() -> None:
    first = pattern(incident(), ["orders-db"])
    others = [
        incident(root="payments-db"),
        incident(environment="staging"),
        incident(names={"DiskFull": 2}),
        incident(org=uuid.uuid4()),
    ]
    assert all(pattern(other, ["orders-db"]) != first for other in others)


def test_without_root_cause_or_alerts_the_services_and_title_decide() -> None:
    def bare(title: str) -> Incident:
        return incident(title=title, root=None, names={})

    disk = pattern(bare("Disk 91% full on db-1"), ["db", "api"])
    assert pattern(bare("Disk 95% full on db-2"), ["api", "db"]) == disk
    assert pattern(bare("Disk 95% full on db-2"), ["api"]) != disk
    assert pattern(bare("Certificate expires in 3 days"), ["db", "api"]) != disk


async def test_incidents_of_one_pattern_share_the_hourly_limit(
    app: FastAPI, client: httpx.AsyncClient, admin_headers: dict[str, str],
    notifier: Notifier, fake: FakeServer,
) -> None:  # fmt: skip
    fake.route("POST", "/hook", Reply(200))
    channel = {"name": "hook", "kind": "webhook", "config": {"url": fake.url + "/hook"}}
    assert (await client.post(NOTIFY + "/channels", json=channel, headers=admin_headers)).is_success
    rule = {"name": "chatty", "max_per_hour": 2, "channels": ["hook"],
            "events": ["incident.opened"]}  # fmt: skip
    assert (await client.post(NOTIFY + "/rules", json=rule, headers=admin_headers)).is_success
    source = await make_source(client, admin_headers, "generic")
    # Three incidents of the same problem (no service or label links them, so each
    # opens its own), and one of another problem.
    opened = []
    for title, fingerprint in (("DiskFull", "d1"), ("DiskFull", "d2"), ("DiskFull", "d3"),
                               ("CertificateExpiring", "c1")):  # fmt: skip
        body = {"title": title, "fingerprint": fingerprint, "severity": "warning"}
        fired = await client.post("/api/v1/alerts", json=body, headers=as_source(source))
        assert fired.status_code == 200, fired.text
        opened += fired.json()["incidents"]
    assert len(set(opened)) == 4

    assert await NotifyConsumers(app.state.runtime).dispatch_once() == 3
    await notifier.run()
    refs = [c.json()["incident"]["ref"] for c in fake.calls]
    assert sorted(refs) == sorted(f"INC-{n}" for n in (opened[0], opened[1], opened[3]))
    log = await client.get(NOTIFY + "/notifications", params={"status": "muted"},
                           headers=admin_headers)  # fmt: skip
    (muted,) = log.json()["items"]
    assert muted["incident_id"] is not None and muted["event"] == "incident.opened"
    assert muted["error"] == (
        "rule 'chatty' fired 2 times in the last hour for incidents like this one"
    )
    # Read again by a replica that remembers nothing: counted once, nothing more.
    assert await NotifyConsumers(app.state.runtime).dispatch_once() == 0
