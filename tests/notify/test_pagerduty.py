"""The PagerDuty channel against a fake Events API v2 that validates and keeps alerts."""

from __future__ import annotations

import dataclasses
import socket
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime

import httpx
import pytest
from pydantic import ValidationError

from loom.demo.fakes.pagerduty import FakePagerDuty
from loom.notify.channels.base import PermanentFailure, Target, TransientFailure
from loom.notify.channels.pagerduty import SECRET_FIELDS, Config, PagerDutySender
from loom.notify.message import IncidentMessage, NotifyEvent, RelatedChange
from loom.platform.http import HttpClients
from loom.settings import HttpSettings

OPENED = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)
MESSAGE = IncidentMessage(
    event=NotifyEvent.OPENED,
    incident_id="0b7e4c1a",
    ref="INC-42",
    title="orders-db: PostgresDown",
    status="triggered",
    severity="critical",
    opened_at=OPENED,
    at=OPENED,
    url="https://loom.acme.test/incidents/INC-42",
    environment="production",
    root_cause="orders-db",
    root_cause_reason="the database is down and 5 services depend on it",
    services=("orders-db", "orders", "checkout"),
    alert_count=14,
    firing_count=9,
    related_change=RelatedChange("deployment of orders-db 15.2 → 15.3", 82, "https://ci/1"),
)


@pytest.fixture
def pd() -> Iterator[FakePagerDuty]:
    with FakePagerDuty() as fake:
        yield fake


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=5) as client:
        yield client


def target(pd: FakePagerDuty, routing_key: str | None = None) -> Target:
    key = pd.routing_key if routing_key is None else routing_key
    return Target("pagerduty", {"events_url": pd.events_url}, {"routing_key": key})


def event(message: IncidentMessage, kind: NotifyEvent, **changes: object) -> IncidentMessage:
    return dataclasses.replace(message, event=kind, **changes)  # type: ignore[arg-type]


async def test_trigger_acknowledge_resolve_reach_one_alert(
    pd: FakePagerDuty, http: httpx.AsyncClient
) -> None:
    sender = PagerDutySender()
    opened = await sender.send(target(pd), MESSAGE, http=http)
    assert (opened.remote_ref, opened.http_status) == ("loom-0b7e4c1a", 202)
    assert pd.state("loom-0b7e4c1a") == "triggered"
    assert pd.calls[0].json() == {
        "routing_key": pd.routing_key,
        "event_action": "trigger",
        "dedup_key": "loom-0b7e4c1a",
        "payload": {
            "summary": "[CRITICAL] INC-42 orders-db: PostgresDown",
            "source": "orders-db",
            "severity": "critical",
            "timestamp": "2026-11-27T08:00:00+00:00",
            "component": "orders-db",
            "group": "production",
            "class": "incident.opened",
            "custom_details": {
                "ref": "INC-42",
                "status": "triggered",
                "services": ["orders-db", "orders", "checkout"],
                "impact": "3 services affected, 14 alerts (9 firing)",
                "url": "https://loom.acme.test/incidents/INC-42",
                "root_cause_reason": "the database is down and 5 services depend on it",
                "related_change": {
                    "summary": "deployment of orders-db 15.2 → 15.3",
                    "score": 82,
                    "url": "https://ci/1",
                },
            },
        },
        "links": [
            {"href": "https://loom.acme.test/incidents/INC-42", "text": "Open INC-42 in Loom"}
        ],
        "client": "Loom",
        "client_url": "https://loom.acme.test/incidents/INC-42",
    }

    acked = await sender.send(target(pd), event(MESSAGE, NotifyEvent.ACKNOWLEDGED), http=http)
    assert pd.state("loom-0b7e4c1a") == "acknowledged"
    resolved = await sender.send(target(pd), event(MESSAGE, NotifyEvent.RESOLVED), http=http)
    assert pd.state("loom-0b7e4c1a") == "resolved"

    assert acked.remote_ref == resolved.remote_ref == "loom-0b7e4c1a"
    for call, action in zip(pd.calls[1:], ("acknowledge", "resolve"), strict=True):
        assert call.json() == {
            "routing_key": pd.routing_key,
            "event_action": action,
            "dedup_key": "loom-0b7e4c1a",
        }
    assert [e["event_action"] for e in pd.alerts["loom-0b7e4c1a"].events] == [
        "trigger",
        "acknowledge",
        "resolve",
    ]


@pytest.mark.parametrize(
    "kind", [NotifyEvent.SEVERITY_RAISED, NotifyEvent.REOPENED, NotifyEvent.TEST]
)
async def test_other_events_trigger(
    pd: FakePagerDuty, http: httpx.AsyncClient, kind: NotifyEvent
) -> None:
    await PagerDutySender().send(target(pd), event(MESSAGE, kind), http=http)
    sent = pd.calls[0].json()
    assert (sent["event_action"], sent["payload"]["class"]) == ("trigger", kind.value)
    assert pd.state("loom-0b7e4c1a") == "triggered"


@pytest.mark.parametrize(
    ("ours", "theirs"),
    [("critical", "critical"), ("warning", "warning"), ("info", "info"), ("page", "error")],
)
async def test_severity_mapping(
    pd: FakePagerDuty, http: httpx.AsyncClient, ours: str, theirs: str
) -> None:
    await PagerDutySender().send(
        target(pd), event(MESSAGE, NotifyEvent.OPENED, severity=ours), http=http
    )
    assert pd.alerts["loom-0b7e4c1a"].payload["severity"] == theirs


async def test_minimal_incident_uses_loom_as_source(
    pd: FakePagerDuty, http: httpx.AsyncClient
) -> None:
    bare = dataclasses.replace(
        MESSAGE, root_cause=None, root_cause_reason=None, environment=None, related_change=None
    )
    await PagerDutySender().send(target(pd), bare, http=http)
    payload = pd.alerts["loom-0b7e4c1a"].payload
    assert payload["source"] == "loom"
    assert "component" not in payload and "group" not in payload
    assert set(payload["custom_details"]) == {"ref", "status", "services", "impact", "url"}


async def test_long_summary_is_cut_to_1024_characters(
    pd: FakePagerDuty, http: httpx.AsyncClient
) -> None:
    long = event(MESSAGE, NotifyEvent.OPENED, title="x" * 3000)
    await PagerDutySender().send(target(pd), long, http=http)
    summary = pd.alerts["loom-0b7e4c1a"].payload["summary"]
    assert len(summary) == 1024
    assert summary.startswith("[CRITICAL] INC-42 xxx") and summary.endswith("x…")


async def test_rejected_event_is_permanent_and_never_names_the_key(
    pd: FakePagerDuty, http: httpx.AsyncClient
) -> None:
    short_key = "not-a-32-character-key"
    with pytest.raises(PermanentFailure) as failure:
        await PagerDutySender().send(target(pd, short_key), MESSAGE, http=http)
    assert failure.value.http_status == 400
    assert "Event object is invalid" in failure.value.response
    assert "Length of 'routing_key' is incorrect" in failure.value.response
    assert short_key not in str(failure.value) + failure.value.response
    assert pd.alerts == {}


async def test_unknown_routing_key_is_permanent(pd: FakePagerDuty, http: httpx.AsyncClient) -> None:
    other = "0123456789abcdef0123456789abcdef"
    with pytest.raises(PermanentFailure) as failure:
        await PagerDutySender().send(target(pd, other), MESSAGE, http=http)
    assert "Invalid routing key" in failure.value.response
    assert other not in str(failure.value) + failure.value.response


async def test_missing_routing_key_is_permanent_without_a_call(
    pd: FakePagerDuty, http: httpx.AsyncClient
) -> None:
    with pytest.raises(PermanentFailure, match="routing key"):
        await PagerDutySender().send(target(pd, ""), MESSAGE, http=http)
    assert pd.calls == []


async def test_throttled_event_is_transient(pd: FakePagerDuty, http: httpx.AsyncClient) -> None:
    pd.rate_limit(1)
    with pytest.raises(TransientFailure) as failure:
        await PagerDutySender().send(target(pd), MESSAGE, http=http)
    assert (failure.value.http_status, failure.value.retry_after) == (429, None)
    assert "throttle event" in failure.value.response
    assert pd.alerts == {}
    # The next attempt goes through.
    assert (await PagerDutySender().send(target(pd), MESSAGE, http=http)).http_status == 202


async def test_throttle_with_retry_after_is_kept(
    pd: FakePagerDuty, http: httpx.AsyncClient
) -> None:
    pd.rate_limit(1, retry_after=30)
    with pytest.raises(TransientFailure) as failure:
        await PagerDutySender().send(target(pd), MESSAGE, http=http)
    assert failure.value.retry_after == 30.0


@pytest.mark.parametrize("status", [500, 502, 503])
async def test_server_errors_are_transient(
    pd: FakePagerDuty, http: httpx.AsyncClient, status: int
) -> None:
    pd.fail(status)
    with pytest.raises(TransientFailure) as failure:
        await PagerDutySender().send(target(pd), MESSAGE, http=http)
    assert failure.value.http_status == status
    assert pd.routing_key not in str(failure.value)


async def test_refused_connection_is_transient(http: httpx.AsyncClient) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    key = "R0ut1ngKeyF0rL00mT3sts0000000001"
    closed = Target(
        "pagerduty", {"events_url": f"http://127.0.0.1:{port}/v2/enqueue"}, {"routing_key": key}
    )
    with pytest.raises(TransientFailure) as failure:
        await PagerDutySender().send(closed, MESSAGE, http=http)
    assert failure.value.http_status is None
    assert key not in str(failure.value)
    assert failure.value.__cause__ is None


async def test_host_not_allowed_is_permanent_and_open_circuit_transient(
    pd: FakePagerDuty,
) -> None:
    refusing = HttpClients(HttpSettings(), ["events.pagerduty.com"])
    try:
        with pytest.raises(PermanentFailure, match=r"refused 127\.0\.0\.1"):
            await PagerDutySender().send(target(pd), MESSAGE, http=refusing.client("notify"))
    finally:
        await refusing.aclose()
    assert pd.calls == []

    clients = HttpClients(HttpSettings(breaker_failure_threshold=1), ["127.0.0.1"])
    try:
        http = clients.client("notify")
        pd.fail(500)
        with pytest.raises(TransientFailure):
            await PagerDutySender().send(target(pd), MESSAGE, http=http)
        with pytest.raises(TransientFailure, match="circuit open") as failure:
            await PagerDutySender().send(target(pd), MESSAGE, http=http)
        assert failure.value.retry_after is not None and failure.value.retry_after > 0
    finally:
        await clients.aclose()
    assert len(pd.calls) == 1


def test_config_and_secret_fields() -> None:
    assert Config().events_url == "https://events.pagerduty.com/v2/enqueue"
    assert Config(events_url="https://events.eu.pagerduty.com/v2/enqueue").events_url.startswith(
        "https://events.eu."
    )
    with pytest.raises(ValidationError):
        Config(events_url="ftp://events.pagerduty.com/v2/enqueue")
    with pytest.raises(ValidationError):
        Config.model_validate({"routing_key": "secret-in-the-wrong-place"})
    assert SECRET_FIELDS == ("routing_key",)


async def test_bad_settings_are_permanent(pd: FakePagerDuty, http: httpx.AsyncClient) -> None:
    bad = Target("pagerduty", {"events_url": "mailto:pd@acme.test"}, {"routing_key": "k" * 32})
    with pytest.raises(PermanentFailure, match=r"invalid settings \(events_url\)"):
        await PagerDutySender().send(bad, MESSAGE, http=http)
    assert pd.calls == []


async def test_fake_follows_pagerduty_alert_lifecycle(
    pd: FakePagerDuty, http: httpx.AsyncClient
) -> None:
    sender = PagerDutySender()
    # Acknowledging or resolving an unknown alert is accepted and dropped.
    await sender.send(target(pd), event(MESSAGE, NotifyEvent.ACKNOWLEDGED), http=http)
    assert pd.alerts == {} and len(pd.events) == 1
    await sender.send(target(pd), MESSAGE, http=http)
    await sender.send(target(pd), event(MESSAGE, NotifyEvent.RESOLVED), http=http)
    first = pd.alerts["loom-0b7e4c1a"]
    # A trigger after the resolve opens a new alert under the same dedup key.
    await sender.send(target(pd), event(MESSAGE, NotifyEvent.REOPENED), http=http)
    second = pd.alerts["loom-0b7e4c1a"]
    assert second is not first
    assert (first.state, second.state) == ("resolved", "triggered")
    assert second.payload["class"] == "incident.reopened"


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({"event_action": "trigger"}, "Length of 'routing_key' is incorrect"),
        ({"event_action": "snooze"}, "'event_action' is invalid"),
        ({"event_action": "resolve"}, "'dedup_key' is required"),
        ({"event_action": "resolve", "dedup_key": "k" * 256}, "at most 255"),
        ({"event_action": "trigger"}, "'payload' is missing"),
        ({"event_action": "trigger", "payload": {"summary": "s", "source": "x"}},
         "'payload.severity' is missing"),
        ({"event_action": "trigger",
          "payload": {"summary": "s", "source": "x", "severity": "high"}},
         "'payload.severity' is invalid"),
        ({"event_action": "trigger",
          "payload": {"summary": "s" * 1025, "source": "x", "severity": "info"}},
         "longer than 1024"),
    ],
)  # fmt: skip
async def test_fake_rejects_invalid_events(
    pd: FakePagerDuty, http: httpx.AsyncClient, body: dict[str, object], error: str
) -> None:
    if "Length" not in error:
        body = {"routing_key": pd.routing_key, **body}
    response = await http.post(pd.events_url, json=body)
    assert response.status_code == 400
    answer = response.json()
    assert (answer["status"], answer["message"]) == ("invalid event", "Event object is invalid")
    assert any(error in problem for problem in answer["errors"])
    assert pd.events == []
