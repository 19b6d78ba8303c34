"""A request's message in every channel's format (checked by the fakes of the real
services where there is one), and through the queue's JSON and back."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import pytest

from loom.demo.fakes.pagerduty import FakePagerDuty
from loom.demo.fakes.slack import FakeSlack
from loom.demo.fakes.teams import FakeTeams
from loom.notify import delivery
from loom.notify.channels import email_body, webhook_body
from loom.notify.channels.base import PermanentFailure, Target
from loom.notify.channels.pagerduty import PagerDutySender
from loom.notify.channels.slack import SlackSender
from loom.notify.channels.teams import TeamsSender
from loom.notify.message import IncidentMessage, NotifyEvent, RequestMessage

AT = datetime(2026, 11, 27, 9, 30, tzinfo=UTC)
FAILED = RequestMessage(
    event=NotifyEvent.REQUEST_FAILED, request_id="1a2b3c4d-0000-4000-8000-000000000001",
    entry_id="postgres", entry_name="PostgreSQL <database>", team="shop",
    requester="rita@example.com", state="failed", at=AT,
    url="https://loom.example.com/ui/requests/1a2b3c4d-0000-4000-8000-000000000001",
    failed_task="2 (create-db)", error='quota "exceeded" for <vol-7>',
)  # fmt: skip
APPROVAL = dataclasses.replace(
    FAILED, event=NotifyEvent.APPROVAL_NEEDED, state="processing", failed_task=None,
    error=None, approvers="team payments", waiting_for="waiting for approval (0 of 1)",
)  # fmt: skip


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=5) as client:
        yield client


def test_a_request_message_goes_through_the_queue_json_and_back() -> None:
    for message in (FAILED, APPROVAL):
        body = json.loads(json.dumps(delivery.message_body(message)))
        assert body["type"] == "request"
        assert delivery.message_from(body) == message


def test_an_untagged_body_is_an_incidents() -> None:
    incident = IncidentMessage(
        event=NotifyEvent.OPENED, incident_id="0b7e4c1a", ref="INC-1", title="down",
        status="triggered", severity="critical", opened_at=AT, at=AT, url="http://x/1",
        services=("orders",),
    )  # fmt: skip
    body = delivery.message_body(incident)
    assert body.pop("type") == "incident"  # queued before requests had messages: no tag
    assert delivery.message_from(body) == incident


async def test_slack_shows_the_facts_the_error_and_a_view_button(
    http: httpx.AsyncClient,
) -> None:
    with FakeSlack() as slack:
        target = Target("slack", {"mode": "webhook"}, {"webhook_url": slack.webhook_url})
        await SlackSender().send(target, FAILED, http=http)
        (message,) = slack.messages("#incidents")
    assert message.text == "Request failed: PostgreSQL <database> for team shop"
    dumped = json.dumps(message.blocks)
    assert "PostgreSQL &lt;database&gt; (postgres)" in dumped
    assert 'quota \\"exceeded\\" for &lt;vol-7&gt;' in dumped
    assert "2 (create-db)" in dumped
    assert "loom_ack" not in dumped  # nothing to acknowledge


async def test_teams_card_is_valid_and_red_for_a_failure(http: httpx.AsyncClient) -> None:
    with FakeTeams() as teams:
        target = Target("teams", {}, {"webhook_url": teams.webhook_url})
        await TeamsSender().send(target, FAILED, http=http)
        await TeamsSender().send(target, APPROVAL, http=http)
        failed, approval = teams.cards
    assert failed["body"][0]["color"] == "Attention"
    facts = {f["title"]: f["value"] for f in failed["body"][1]["facts"]}
    assert facts["Failed task"] == "2 (create-db)" and facts["Team"] == "shop"
    assert "quota" in failed["body"][2]["text"]
    assert "color" not in approval["body"][0]
    assert {f["title"]: f["value"] for f in approval["body"][1]["facts"]}["Approvers"] == (
        "team payments"
    )
    assert failed["actions"][0]["url"] == FAILED.url


async def test_pagerduty_triggers_a_warning_per_request_and_never_for_approvals(
    http: httpx.AsyncClient,
) -> None:
    with FakePagerDuty() as pd:
        target = Target("pagerduty", {"events_url": pd.events_url}, {"routing_key": pd.routing_key})
        outcome = await PagerDutySender().send(target, FAILED, http=http)
        key = f"loom-request-{FAILED.request_id}"
        assert outcome.remote_ref == key and pd.state(key) == "triggered"
        payload = pd.calls[0].json()["payload"]
        assert payload["severity"] == "warning"
        assert payload["custom_details"]["error"] == FAILED.error
        with pytest.raises(PermanentFailure):
            await PagerDutySender().send(target, APPROVAL, http=http)
        assert len(pd.calls) == 1


def test_email_escapes_the_request_and_links_it() -> None:
    mail = email_body.build(FAILED, sender="loom@example.com", recipients=["a@example.com"],
                            previous=None)  # fmt: skip
    assert mail["Subject"] == "Request failed: PostgreSQL <database> for team shop"
    assert mail["X-Loom-Request"] == FAILED.request_id
    plain = email_body.plain_text(FAILED)
    assert 'Error: quota "exceeded" for <vol-7>' in plain
    assert f"Open the request: {FAILED.url}" in plain
    html = email_body.html_text(FAILED)
    assert "&lt;vol-7&gt;" in html and "<vol-7>" not in html
    assert "Open the request in Loom" in html


def test_webhook_body_and_templates_of_request_events() -> None:
    body = webhook_body.payload(FAILED)
    assert (body["event"], body["request"]["error"]) == ("request.failed", FAILED.error)
    assert "incident" not in body
    template = '{"e": "{{ .event }}", "why": "{{ .request.error }}", "who": "{{ .incident.ref }}"}'
    rendered = json.loads(webhook_body.render(template, FAILED))
    assert rendered == {"e": "request.failed", "why": FAILED.error, "who": ""}
    with pytest.raises(webhook_body.TemplateInvalid, match="no request field 'nope'"):
        webhook_body.validate_template('{"x": "{{ .request.nope }}"}')
