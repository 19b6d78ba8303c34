"""The Teams channel against a fake channel webhook that validates Adaptive Cards."""

from __future__ import annotations

import dataclasses
import socket
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from pydantic import ValidationError

from loom.demo.fakes.teams import FakeTeams
from loom.notify.channels.base import PermanentFailure, Target, TransientFailure
from loom.notify.channels.teams import SECRET_FIELDS, Config, TeamsSender
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
    at=OPENED + timedelta(minutes=12),
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
def teams() -> Iterator[FakeTeams]:
    with FakeTeams() as fake:
        yield fake


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=5) as client:
        yield client


def target(url: str, **config: object) -> Target:
    return Target("teams", config, {"webhook_url": url})


async def test_card_shape(teams: FakeTeams, http: httpx.AsyncClient) -> None:
    outcome = await TeamsSender().send(target(teams.webhook_url), MESSAGE, http=http)
    assert (outcome.remote_ref, outcome.http_status, outcome.response) == (None, 202, "")
    assert teams.calls[0].headers["content-type"] == "application/json"
    assert teams.calls[0].json() == {
        "type": "message",
        "attachments": [
            {
                "contentType": "application/vnd.microsoft.card.adaptive",
                "contentUrl": None,
                "content": {
                    "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                    "type": "AdaptiveCard",
                    "version": "1.4",
                    "body": [
                        {
                            "type": "TextBlock",
                            "text": "[CRITICAL] INC-42 orders-db: PostgresDown",
                            "weight": "Bolder",
                            "size": "Medium",
                            "wrap": True,
                            "color": "Attention",
                        },
                        {
                            "type": "FactSet",
                            "facts": [
                                {"title": "Severity", "value": "critical"},
                                {"title": "Status", "value": "triggered"},
                                {"title": "Root cause", "value": "orders-db"},
                                {"title": "Duration", "value": "12 min"},
                                {
                                    "title": "Impact",
                                    "value": "3 services affected, 14 alerts (9 firing)",
                                },
                                {"title": "Environment", "value": "production"},
                            ],
                        },
                        {
                            "type": "TextBlock",
                            "text": "Probable root cause: the database is down and 5 services "
                            "depend on it\n\nRelated change: [deployment of orders-db 15.2 → "
                            "15.3](https://ci/1) (score 82)",
                            "wrap": True,
                        },
                    ],
                    "actions": [
                        {
                            "type": "Action.OpenUrl",
                            "title": "View in Loom",
                            "url": "https://loom.acme.test/incidents/INC-42",
                        }
                    ],
                },
            }
        ],
    }
    assert len(teams.cards) == 1  # the fake accepted it as a valid Adaptive Card


@pytest.mark.parametrize(
    ("severity", "event", "colour"),
    [
        ("critical", NotifyEvent.OPENED, "Attention"),
        ("critical", NotifyEvent.ACKNOWLEDGED, "Attention"),
        ("warning", NotifyEvent.OPENED, "Warning"),
        ("info", NotifyEvent.OPENED, None),
        ("critical", NotifyEvent.RESOLVED, "Good"),
    ],
)
async def test_headline_colour(
    teams: FakeTeams, http: httpx.AsyncClient, severity: str, event: NotifyEvent, colour: str | None
) -> None:
    message = dataclasses.replace(MESSAGE, severity=severity, event=event)
    await TeamsSender().send(target(teams.webhook_url), message, http=http)
    assert teams.cards[0]["body"][0].get("color") == colour


async def test_sparse_incident_and_actor(teams: FakeTeams, http: httpx.AsyncClient) -> None:
    bare = dataclasses.replace(
        MESSAGE,
        event=NotifyEvent.RESOLVED,
        root_cause=None,
        root_cause_reason=None,
        environment=None,
        related_change=None,
        actor="ana@acme.test",
    )
    await TeamsSender().send(target(teams.webhook_url, link_button=False), bare, http=http)
    card = teams.cards[0]
    assert card["body"][0]["text"].endswith("— resolved")
    titles = [fact["title"] for fact in card["body"][1]["facts"]]
    assert titles == ["Severity", "Status", "Duration", "Impact"]
    assert card["body"][2]["text"] == "Resolved by ana@acme.test"
    assert "actions" not in card


async def test_legacy_connector_answer(http: httpx.AsyncClient) -> None:
    with FakeTeams(legacy=True) as legacy:
        outcome = await TeamsSender().send(target(legacy.webhook_url), MESSAGE, http=http)
        assert (outcome.http_status, outcome.response) == (200, "1")
        legacy.rate_limit(1)
        # The connector says 200 but its text names the 429: worth retrying.
        with pytest.raises(TransientFailure, match="throttled") as failure:
            await TeamsSender().send(target(legacy.webhook_url), MESSAGE, http=http)
        assert "HTTP error 429" in failure.value.response
        assert len(legacy.cards) == 1


async def test_rejected_card_is_permanent(teams: FakeTeams, http: httpx.AsyncClient) -> None:
    teams.fail(400, body="Bad payload: AdaptiveCard 'version' must be one of 1.0, 1.1")
    with pytest.raises(PermanentFailure) as failure:
        await TeamsSender().send(target(teams.webhook_url), MESSAGE, http=http)
    assert failure.value.http_status == 400
    assert "Bad payload" in failure.value.response
    assert teams.path not in str(failure.value)


async def test_unknown_webhook_is_permanent(teams: FakeTeams, http: httpx.AsyncClient) -> None:
    wrong = teams.url + "/workflows/0000/triggers/manual/paths/invoke"
    with pytest.raises(PermanentFailure) as failure:
        await TeamsSender().send(target(wrong), MESSAGE, http=http)
    assert failure.value.http_status == 404
    assert "/workflows/0000" not in str(failure.value)


async def test_throttled_is_transient_with_retry_after(
    teams: FakeTeams, http: httpx.AsyncClient
) -> None:
    teams.rate_limit(1, retry_after=7)
    with pytest.raises(TransientFailure) as failure:
        await TeamsSender().send(target(teams.webhook_url), MESSAGE, http=http)
    assert (failure.value.http_status, failure.value.retry_after) == (429, 7.0)
    assert teams.cards == []
    await TeamsSender().send(target(teams.webhook_url), MESSAGE, http=http)
    assert len(teams.cards) == 1


async def test_server_error_is_transient(teams: FakeTeams, http: httpx.AsyncClient) -> None:
    teams.fail(500)
    with pytest.raises(TransientFailure) as failure:
        await TeamsSender().send(target(teams.webhook_url), MESSAGE, http=http)
    assert failure.value.http_status == 500


async def test_refused_connection_is_transient_and_hides_the_url(
    http: httpx.AsyncClient,
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}/workflows/s3cr3t/triggers/manual/paths/invoke?sig=s3cr3t"
    with pytest.raises(TransientFailure) as failure:
        await TeamsSender().send(target(url), MESSAGE, http=http)
    assert "s3cr3t" not in str(failure.value)
    assert failure.value.__cause__ is None


@pytest.mark.parametrize("url", ["", "not a url", "ftp://teams.example/hook"])
async def test_missing_or_bad_webhook_url_is_permanent(
    teams: FakeTeams, http: httpx.AsyncClient, url: str
) -> None:
    with pytest.raises(PermanentFailure, match="webhook URL"):
        await TeamsSender().send(target(url), MESSAGE, http=http)
    assert teams.calls == []


@pytest.mark.parametrize(
    ("card", "problem"),
    [
        ({"type": "AdaptiveCard", "version": "1.4", "body": []}, None),
        ({"type": "AdaptiveCard", "version": "2.0", "body": []}, "'version'"),
        ({"type": "AdaptiveCard", "version": "1.4", "body": [{"type": "Table"}]}, "'Table'"),
        ({"type": "AdaptiveCard", "version": "1.4", "body": [{"type": "TextBlock"}]}, "'text'"),
        (
            {"type": "AdaptiveCard", "version": "1.4",
             "body": [{"type": "TextBlock", "text": "x", "color": "red"}]},
            "'color'",
        ),
        (
            {"type": "AdaptiveCard", "version": "1.4",
             "body": [{"type": "Container", "items": [{"type": "FactSet", "facts": [{}]}]}]},
            "FactSet",
        ),
        (
            {"type": "AdaptiveCard", "version": "1.4", "body": [],
             "actions": [{"type": "Action.Http", "url": "https://x"}]},
            "'Action.Http'",
        ),
    ],
)  # fmt: skip
async def test_fake_rejects_malformed_cards(
    teams: FakeTeams, http: httpx.AsyncClient, card: dict[str, object], problem: str | None
) -> None:
    message = {
        "type": "message",
        "attachments": [
            {"contentType": "application/vnd.microsoft.card.adaptive", "content": card}
        ],
    }
    response = await http.post(teams.webhook_url, json=message)
    if problem is None:
        assert response.status_code == 202
        return
    assert response.status_code == 400
    assert response.text.startswith("Bad payload:") and problem in response.text
    assert teams.cards == []


def test_config_and_secret_fields() -> None:
    assert Config().link_button is True
    with pytest.raises(ValidationError):
        Config.model_validate({"webhook_url": "https://secret.example/hook"})
    assert SECRET_FIELDS == ("webhook_url",)


async def test_bad_settings_are_permanent(teams: FakeTeams, http: httpx.AsyncClient) -> None:
    with pytest.raises(PermanentFailure, match=r"invalid settings \(link_button\)"):
        await TeamsSender().send(
            target(teams.webhook_url, link_button="perhaps"), MESSAGE, http=http
        )
    assert teams.calls == []


async def test_host_not_allowed_is_permanent_and_open_circuit_transient(
    teams: FakeTeams,
) -> None:
    refusing = HttpClients(HttpSettings(), ["*.webhook.office.com"])
    try:
        with pytest.raises(PermanentFailure, match="refused") as refused:
            await TeamsSender().send(target(teams.webhook_url), MESSAGE, http=refusing.client("n"))
        assert teams.path not in str(refused.value)
    finally:
        await refusing.aclose()
    assert teams.connections == 0

    clients = HttpClients(HttpSettings(breaker_failure_threshold=1), ["127.0.0.1"])
    try:
        teams.fail(503)
        with pytest.raises(TransientFailure):
            await TeamsSender().send(target(teams.webhook_url), MESSAGE, http=clients.client("n"))
        with pytest.raises(TransientFailure, match="circuit open") as failure:
            await TeamsSender().send(target(teams.webhook_url), MESSAGE, http=clients.client("n"))
        assert failure.value.retry_after is not None and failure.value.retry_after > 0
        assert teams.path not in str(failure.value)
    finally:
        await clients.aclose()
    assert len(teams.calls) == 1
