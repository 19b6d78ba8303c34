"""Rule conditions on labels (those of the incident's first alert) and on the time of day
(local to a time zone, across midnight and daylight-saving changes), alone and through
the dispatcher."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
from fastapi import FastAPI

from loom.demo.fakes.server import FakeServer, Reply
from loom.notify.consumer import NotifyConsumers
from loom.notify.message import NotifyEvent
from loom.notify.models import Rule
from loom.notify.rules import Facts, matches
from tests.incidents.alert_support import as_source, make_source
from tests.notify.test_rules import events, post, webhook

OUT_OF_HOURS = {"from": "22:00", "to": "07:00", "time_zone": "Europe/Paris"}


def rule(**conditions: Any) -> Rule:
    return Rule(name="r", events=["incident.opened"], conditions=conditions, enabled=True,
                team_id=None, position=100, stop=False)  # fmt: skip


def facts(labels: dict[str, str] | None = None, at: datetime | None = None) -> Facts:
    return Facts(
        event=NotifyEvent.OPENED, severity="critical", services=frozenset({"orders-db"}),
        environment="production", team_ids=frozenset(), labels=labels or {},
        at=at or datetime(2026, 11, 27, 12, 0, tzinfo=UTC),
    )  # fmt: skip


def test_every_label_wanted_must_match_a_value_or_one_of_a_list() -> None:
    wanted = rule(labels={"team": "db", "region": ["eu-west-1", "eu-central-1"]})
    assert matches(wanted, facts({"team": "db", "region": "eu-central-1", "host": "db-1"}))
    assert not matches(wanted, facts({"team": "db", "region": "us-east-1"}))
    assert not matches(wanted, facts({"team": "web", "region": "eu-west-1"}))
    assert not matches(wanted, facts({"region": "eu-west-1"}))  # a key missing
    assert matches(rule(), facts({}))  # no label condition: any labels


def test_out_of_hours_wraps_midnight_in_its_time_zone() -> None:
    night = rule(time_of_day=OUT_OF_HOURS)

    def at(hour: int, minute: int = 0, day: int = 27) -> Facts:
        # 2026-11-27 is a Friday; Paris is UTC+1 in winter.
        return facts(at=datetime(2026, 11, day, hour, minute, tzinfo=UTC))

    assert not matches(night, at(20, 59))  # 21:59 in Paris
    assert matches(night, at(21, 0))  # 22:00
    assert matches(night, at(23, 30))  # 00:30 the next day
    assert matches(night, at(5, 59, day=28))  # 06:59
    assert not matches(night, at(6, 0, day=28))  # 07:00
    assert not matches(night, at(11, 0))  # midday


def test_weekdays_name_the_day_a_span_begins_on() -> None:
    friday_night = rule(time_of_day={**OUT_OF_HOURS, "weekdays": ["fri"]})
    # Saturday 03:00 in Paris belongs to Friday's night; Friday 03:00 to Thursday's.
    assert matches(friday_night, facts(at=datetime(2026, 11, 28, 2, 0, tzinfo=UTC)))
    assert not matches(friday_night, facts(at=datetime(2026, 11, 27, 2, 0, tzinfo=UTC)))
    weekend = rule(time_of_day={"from": "00:00", "to": "00:00", "weekdays": ["sat", "sun"]})
    assert matches(weekend, facts(at=datetime(2026, 11, 29, 23, 59, tzinfo=UTC)))  # Sunday
    assert not matches(weekend, facts(at=datetime(2026, 11, 30, 0, 0, tzinfo=UTC)))  # Monday


def test_local_hours_hold_across_daylight_saving_changes() -> None:
    office = rule(time_of_day={"from": "09:00", "to": "18:00", "time_zone": "Europe/Paris"})
    # Summer (UTC+2) and winter (UTC+1): 09:00 local is 07:00 UTC, then 08:00 UTC.
    assert matches(office, facts(at=datetime(2026, 7, 1, 7, 0, tzinfo=UTC)))
    assert not matches(office, facts(at=datetime(2026, 12, 1, 7, 30, tzinfo=UTC)))
    assert matches(office, facts(at=datetime(2026, 12, 1, 8, 0, tzinfo=UTC)))
    # The night clocks go back (25 October 2026, 03:00 -> 02:00): 01:30 UTC is 02:30
    # local, still out of hours; the night ends at 07:00 local, 06:00 UTC.
    night = rule(time_of_day=OUT_OF_HOURS)
    assert matches(night, facts(at=datetime(2026, 10, 25, 1, 30, tzinfo=UTC)))
    assert matches(night, facts(at=datetime(2026, 10, 25, 5, 59, tzinfo=UTC)))
    assert not matches(night, facts(at=datetime(2026, 10, 25, 6, 0, tzinfo=UTC)))


async def test_the_dispatcher_matches_the_labels_of_the_first_alert(
    app: FastAPI, client: httpx.AsyncClient, admin_headers: dict[str, str],
    notifier: Any, fake: FakeServer,
) -> None:  # fmt: skip
    for path in ("/db-eu", "/db-us"):
        fake.route("POST", path, Reply(200))
        await webhook(client, admin_headers, path.strip("/"), fake.url + path)
    for name, region in (("db-eu", ["eu-west-1", "eu-central-1"]), ("db-us", "us-east-1")):
        await post(client, "/rules", {
            "name": name, "events": ["incident.opened", "incident.acknowledged"],
            "labels": {"team": "db", "region": region}, "channels": [name],
        }, admin_headers)  # fmt: skip
    source = await make_source(client, admin_headers, "generic")
    fired = await client.post("/api/v1/alerts", json={
        "title": "PostgresDown", "severity": "critical",
        "labels": {"team": "db", "region": "eu-central-1", "host": "db-1"},
    }, headers=as_source(source))  # fmt: skip
    assert fired.status_code == 200, fired.text
    (number,) = fired.json()["incidents"]
    # A later alert of another region joins (same host): the first alert's labels count.
    later = await client.post("/api/v1/alerts", json={
        "title": "ReplicaLag", "severity": "warning",
        "labels": {"team": "db", "region": "us-east-1", "host": "db-1"},
    }, headers=as_source(source))  # fmt: skip
    assert later.json()["incidents"] == [number], later.text
    ack = await client.post(f"/api/v1/incidents/INC-{number}/ack", headers=admin_headers)
    assert ack.status_code == 200, ack.text

    assert await NotifyConsumers(app.state.runtime).dispatch_once() == 2
    await notifier.run()
    assert events(fake, "/db-eu") == ["incident.opened", "incident.acknowledged"]
    assert events(fake, "/db-us") == []
