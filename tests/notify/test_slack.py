"""The Slack channel against FakeSlack: webhook and bot-token posts, update in place,
Block Kit shape and limits, and how each failure is classified."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from loom.demo.fakes.server import FakeServer, Reply
from loom.demo.fakes.slack import FakeSlack
from loom.notify.channels.base import PermanentFailure, Target, TransientFailure
from loom.notify.channels.slack import SECRET_FIELDS, Config, SlackSender
from loom.notify.message import IncidentMessage, NotifyEvent, RelatedChange
from loom.platform.http import HttpClients
from loom.settings import HttpSettings

OPENED = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)
MESSAGE = IncidentMessage(
    event=NotifyEvent.OPENED,
    incident_id="7f3c2a9e-0b1d-4c55-9a0e-3f1b2c4d5e6f",
    ref="INC-42",
    title="orders-db: PostgresDown",
    status="triggered",
    severity="critical",
    opened_at=OPENED,
    at=OPENED + timedelta(minutes=12),
    url="https://loom.acme.test/incidents/INC-42",
    environment="production",
    root_cause="orders-db",
    root_cause_reason="its alert fired first & 5 dependants followed",
    services=("orders-db", "orders", "checkout"),
    alert_count=14,
    firing_count=9,
    related_change=RelatedChange(
        "deployment of orders 1.4.2 → 1.4.3", 87, "https://ci.acme.test/runs/9"
    ),
    org="acme",
)


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        yield fake


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=5) as client:
        yield client


def bot(
    slack: FakeSlack,
    *,
    channel: str = "#incidents",
    token: str | None = None,
    previous: str | None = None,
) -> Target:
    return Target(
        kind="slack",
        config={"mode": "bot", "channel": channel, "api_base": slack.api_base},
        secrets={"bot_token": slack.token if token is None else token},
        previous=previous,
    )


def webhook(url: str) -> Target:
    return Target(kind="slack", config={"mode": "webhook"}, secrets={"webhook_url": url})


def texts(blocks: list[dict[str, Any]]) -> str:
    """Every text of the blocks, one per line."""
    found: list[str] = []
    for block in blocks:
        for obj in [block.get("text"), *block.get("fields", []), *block.get("elements", [])]:
            if isinstance(obj, dict) and isinstance(obj.get("text"), str):
                found.append(obj["text"])
    return "\n".join(found)


def action_ids(blocks: list[dict[str, Any]]) -> list[str]:
    return [e["action_id"] for b in blocks if b["type"] == "actions" for e in b["elements"]]


async def test_webhook_posts_text_and_blocks(slack: FakeSlack, http: httpx.AsyncClient) -> None:
    outcome = await SlackSender().send(webhook(slack.webhook_url), MESSAGE, http=http)

    assert (outcome.remote_ref, outcome.http_status, outcome.response) == (None, 200, "ok")
    (call,) = slack.calls
    assert call.headers["content-type"].startswith("application/json")
    body = call.json()
    assert body["text"] == "[CRITICAL] INC-42 orders-db: PostgresDown"
    assert [b["type"] for b in body["blocks"]] == [
        "header",
        "section",
        "section",
        "context",
        "actions",
    ]
    assert body["blocks"][0]["text"] == {"type": "plain_text", "text": body["text"], "emoji": True}
    (shown,) = slack.messages("#incidents")
    assert shown.blocks == body["blocks"] and shown.via != "bot"


async def test_webhook_unknown_path_is_permanent_and_hides_the_url(
    slack: FakeSlack, http: httpx.AsyncClient
) -> None:
    url = f"{slack.url}/services/T0LOOM/B0GONE/revokedS3cretPart"
    with pytest.raises(PermanentFailure) as caught:
        await SlackSender().send(webhook(url), MESSAGE, http=http)
    assert caught.value.http_status == 404
    assert "no_service" in str(caught.value)
    assert "revokedS3cretPart" not in str(caught.value) + caught.value.response


async def test_fields_buttons_and_severity_emoji(slack: FakeSlack, http: httpx.AsyncClient) -> None:
    await SlackSender().send(webhook(slack.webhook_url), MESSAGE, http=http)
    blocks = slack.calls[0].json()["blocks"]

    fields = [f["text"] for f in blocks[1]["fields"]]
    assert fields[0] == "*Severity*\n:red_circle: Critical"
    labels = [f.split("\n")[0] for f in fields]
    assert labels == [
        "*Severity*",
        "*Status*",
        "*Root cause*",
        "*Services*",
        "*Duration*",
        "*Impact*",
        "*Environment*",
    ]
    assert "*Duration*\n12 min" in fields
    assert "*Impact*\n3 services affected, 14 alerts (9 firing)" in fields
    buttons = blocks[-1]["elements"]
    assert buttons[0] == {
        "type": "button",
        "text": {"type": "plain_text", "text": "Acknowledge", "emoji": True},
        "action_id": "loom_ack",
        "value": MESSAGE.incident_id,
        "style": "primary",
    }
    assert buttons[1]["url"] == MESSAGE.url and buttons[1]["text"]["text"] == "View"
    assert (buttons[2]["action_id"], buttons[2]["value"]) == ("loom_runbook", MESSAGE.incident_id)

    warning = dataclasses.replace(MESSAGE, severity="warning")
    await SlackSender().send(webhook(slack.webhook_url), warning, http=http)
    assert (
        slack.calls[1]
        .json()["blocks"][1]["fields"][0]["text"]
        .endswith(":large_orange_circle: Warning")
    )


async def test_root_cause_and_related_change_in_blocks(
    slack: FakeSlack, http: httpx.AsyncClient
) -> None:
    await SlackSender().send(bot(slack), MESSAGE, http=http)
    (shown,) = slack.messages("incidents")
    text = texts(shown.blocks)

    assert "*Probable root cause:* `orders-db` — its alert fired first &amp; 5 dependants" in text
    assert (
        "*Related change:* <https://ci.acme.test/runs/9|deployment of orders 1.4.2 → 1.4.3> "
        "(score 87%)"
    ) in text


async def test_long_header_is_cut_to_slacks_limit(
    slack: FakeSlack, http: httpx.AsyncClient
) -> None:
    long = dataclasses.replace(MESSAGE, title="x" * 400, root_cause_reason="why " * 2000)
    # The fake, like Slack, rejects the whole message when a text is over its limit.
    await SlackSender().send(bot(slack), long, http=http)

    (shown,) = slack.messages("incidents")
    header = shown.blocks[0]["text"]["text"]
    assert len(header) == 150 and header.startswith("[CRITICAL] INC-42 xxx")
    assert header.endswith("…")
    assert len(shown.blocks[2]["text"]["text"]) == 3000
    assert shown.text == long.headline()  # the notification text stays whole


async def test_bot_posts_then_updates_the_same_message(
    slack: FakeSlack, http: httpx.AsyncClient
) -> None:
    sender = SlackSender()
    opened = await sender.send(bot(slack), MESSAGE, http=http)
    channel, ts = opened.remote_ref.split(":") if opened.remote_ref else ("", "")
    assert channel == "C0INCIDENT" and ts.startswith("1700000000.")
    assert "loom_ack" in action_ids(slack.message(channel, ts).blocks)

    acked = dataclasses.replace(
        MESSAGE, event=NotifyEvent.ACKNOWLEDGED, status="acknowledged", actor="ana@acme.test"
    )
    outcome = await sender.send(bot(slack, previous=opened.remote_ref), acked, http=http)
    assert outcome.remote_ref == opened.remote_ref
    (shown,) = slack.messages("#incidents")
    assert shown.edits == 1 and shown.text.endswith("— acknowledged")
    assert "*Acknowledged by*\nana@acme.test" in texts(shown.blocks)

    resolved = dataclasses.replace(acked, event=NotifyEvent.RESOLVED, status="resolved")
    await sender.send(bot(slack, previous=outcome.remote_ref), resolved, http=http)
    (shown,) = slack.messages("#incidents")
    assert shown.edits == 2 and shown.blocks[0]["text"]["text"].endswith("— resolved")
    assert action_ids(shown.blocks) == ["loom_view", "loom_runbook"]

    paths = [c.path for c in slack.calls]
    assert paths == ["/api/chat.postMessage", "/api/chat.update", "/api/chat.update"]
    update = slack.calls[1]
    assert update.headers["authorization"] == f"Bearer {slack.token}"
    assert {k: update.json()[k] for k in ("channel", "ts")} == {"channel": channel, "ts": ts}


async def test_update_of_a_deleted_message_posts_a_new_one(
    slack: FakeSlack, http: httpx.AsyncClient
) -> None:
    target = bot(slack, previous="C0INCIDENT:1600000000.000001")
    outcome = await SlackSender().send(target, MESSAGE, http=http)

    (shown,) = slack.messages("#incidents")
    assert outcome.remote_ref == f"C0INCIDENT:{shown.ts}"
    assert [c.path for c in slack.calls] == ["/api/chat.update", "/api/chat.postMessage"]


@pytest.mark.parametrize(
    ("token", "channel", "error"),
    [
        ("xoxb-9999-wrongWrongWrong", "#incidents", "invalid_auth"),
        (None, "#no-such-channel", "channel_not_found"),
    ],
)
async def test_refusals_are_permanent_and_keep_the_token_out(
    slack: FakeSlack, http: httpx.AsyncClient, token: str | None, channel: str, error: str
) -> None:
    target = bot(slack, channel=channel, token=token)
    with pytest.raises(PermanentFailure) as caught:
        await SlackSender().send(target, MESSAGE, http=http)
    assert str(caught.value) == f"slack chat.postMessage: {error}"
    assert caught.value.http_status == 200
    for secret in (slack.token, "xoxb-9999-wrongWrongWrong"):
        assert secret not in str(caught.value) + caught.value.response + repr(caught.value)
    assert slack.messages("#incidents") == []


async def test_archived_channel_is_permanent(http: httpx.AsyncClient) -> None:
    with FakeSlack(archived=("C0INCIDENT",)) as slack:
        with pytest.raises(PermanentFailure, match="is_archived"):
            await SlackSender().send(bot(slack), MESSAGE, http=http)
        with pytest.raises(PermanentFailure, match="channel_is_archived") as caught:
            await SlackSender().send(webhook(slack.webhook_url), MESSAGE, http=http)
        assert caught.value.http_status == 410


async def test_unset_token_is_permanent_before_any_call(
    slack: FakeSlack, http: httpx.AsyncClient
) -> None:
    with pytest.raises(PermanentFailure, match="bot_token"):
        await SlackSender().send(bot(slack, token=""), MESSAGE, http=http)
    assert slack.calls == []
    # What Slack itself answers a call without credentials.
    response = await http.post(
        f"{slack.api_base}/chat.postMessage", json={"channel": "#incidents", "text": "hi"}
    )
    assert response.json() == {"ok": False, "error": "not_authed"}


async def test_rate_limited_is_transient_with_retry_after(
    slack: FakeSlack, http: httpx.AsyncClient
) -> None:
    slack.rate_limit(times=1, retry_after=30)
    with pytest.raises(TransientFailure) as caught:
        await SlackSender().send(bot(slack), MESSAGE, http=http)
    assert (caught.value.http_status, caught.value.retry_after) == (429, 30.0)
    assert "ratelimited" in caught.value.response
    # The fault is spent: the next attempt goes through.
    assert (await SlackSender().send(bot(slack), MESSAGE, http=http)).remote_ref


@pytest.mark.parametrize("mode", ["bot", "webhook"])
async def test_server_errors_are_transient(
    slack: FakeSlack, http: httpx.AsyncClient, mode: str
) -> None:
    slack.fail(500, error="internal_error")
    target = bot(slack) if mode == "bot" else webhook(slack.webhook_url)
    with pytest.raises(TransientFailure) as caught:
        await SlackSender().send(target, MESSAGE, http=http)
    assert caught.value.http_status == 500 and caught.value.retry_after is None
    assert "w3bh00kS3cret" not in str(caught.value)


async def test_ok_false_internal_error_is_transient(
    slack: FakeSlack, http: httpx.AsyncClient
) -> None:
    slack.fail(200, error="internal_error")
    with pytest.raises(TransientFailure, match="internal_error") as caught:
        await SlackSender().send(bot(slack), MESSAGE, http=http)
    assert caught.value.http_status == 200


async def test_connection_refused_is_transient(http: httpx.AsyncClient) -> None:
    with FakeServer() as gone:
        url = f"{gone.url}/services/T0LOOM/B0LOOM/refusedS3cret"
    with pytest.raises(TransientFailure) as caught:
        await SlackSender().send(webhook(url), MESSAGE, http=http)
    assert "ConnectError" in str(caught.value)
    assert "refusedS3cret" not in str(caught.value)
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


async def test_host_not_allowed_is_permanent_and_circuit_open_transient(
    slack: FakeSlack,
) -> None:
    clients = HttpClients(HttpSettings(breaker_failure_threshold=1), ["127.0.0.1"])
    http = clients.client("notify:slack")
    try:
        with pytest.raises(PermanentFailure, match="not in allowed_hosts"):
            await SlackSender().send(webhook("https://hooks.slack.invalid/x"), MESSAGE, http=http)
        slack.fail(503, error="service_unavailable")
        with pytest.raises(TransientFailure):
            await SlackSender().send(bot(slack), MESSAGE, http=http)
        calls = len(slack.calls)
        with pytest.raises(TransientFailure, match="circuit open") as caught:
            await SlackSender().send(bot(slack), MESSAGE, http=http)
        assert caught.value.retry_after and caught.value.retry_after > 0
        assert len(slack.calls) == calls  # refused before anything was sent
    finally:
        await http.aclose()


def test_config_and_secret_fields() -> None:
    assert SECRET_FIELDS == ("webhook_url", "bot_token")
    assert Config.model_validate({}).mode == "webhook"
    assert Config.model_validate({"mode": "bot", "channel": "C0123"}).api_base == (
        "https://slack.com/api"
    )
    with pytest.raises(ValueError, match="channel"):
        Config.model_validate({"mode": "bot"})
    with pytest.raises(ValueError):
        Config.model_validate({"mode": "webhook", "webhook_url": "https://hooks.slack.com/x"})


async def test_bad_settings_are_permanent(slack: FakeSlack, http: httpx.AsyncClient) -> None:
    target = Target(kind="slack", config={"mode": "bot"}, secrets={"bot_token": slack.token})
    with pytest.raises(PermanentFailure, match="channel"):
        await SlackSender().send(target, MESSAGE, http=http)
    assert slack.calls == []


@pytest.mark.parametrize(
    "blocks",
    [
        [{"type": "banner", "text": {"type": "plain_text", "text": "hi"}}],
        [{"type": "header", "text": {"type": "mrkdwn", "text": "*hi*"}}],
        [{"type": "header", "text": {"type": "plain_text", "text": "x" * 151}}],
        [{"type": "section", "fields": [{"type": "mrkdwn", "text": "f"}] * 11}],
        [
            {
                "type": "actions",
                "elements": [{"type": "button", "text": {"type": "plain_text", "text": "Go"}}],
            }
        ],
    ],
)
async def test_fake_slack_rejects_malformed_blocks(
    slack: FakeSlack, http: httpx.AsyncClient, blocks: list[dict[str, Any]]
) -> None:
    hook = await http.post(slack.webhook_url, json={"text": "hi", "blocks": blocks})
    assert (hook.status_code, hook.text) == (400, "invalid_payload")
    api = await http.post(
        f"{slack.api_base}/chat.postMessage",
        headers={"Authorization": f"Bearer {slack.token}"},
        json={"channel": "C0INCIDENT", "text": "hi", "blocks": blocks},
    )
    assert api.json() == {"ok": False, "error": "invalid_blocks"}
    assert slack.messages("C0INCIDENT") == []


async def test_an_answer_echoing_the_webhook_url_is_scrubbed(http: httpx.AsyncClient) -> None:
    # A proxy's error page may quote the URL asked for: the webhook's credential.
    with FakeServer() as proxy:
        proxy.route(
            "POST",
            r"/services/.*",
            lambda call: Reply(502, body=f"<h1>Bad gateway for {proxy.url}{call.path}</h1>"),
        )
        url = f"{proxy.url}/services/T0LOOM/B0LOOM/echoedS3cret"
        with pytest.raises(TransientFailure) as caught:
            await SlackSender().send(webhook(url), MESSAGE, http=http)
    assert "Bad gateway for ***" in caught.value.response
    assert "echoedS3cret" not in str(caught.value) + caught.value.response
