"""The generic webhook channel against a real local receiver (`FakeWebhookReceiver`,
`FakeServer`): the default body, user templates in the sandbox, HMAC signatures, the
Authorization secret, and how answers map to retries."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import socket
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from loom.demo.fakes import FakeServer, RecordedCall, Reply
from loom.demo.fakes.webhook import FakeWebhookReceiver
from loom.notify.channels.base import PermanentFailure, Target, TransientFailure
from loom.notify.channels.webhook import Config, WebhookSender
from loom.notify.channels.webhook_body import (
    INCIDENT_FIELDS,
    TemplateInvalid,
    payload,
    validate_template,
)
from loom.notify.message import IncidentMessage, NotifyEvent, RelatedChange
from loom.platform.http import HttpClients
from loom.settings import HttpSettings

SECRET = "whsec-4f1a9c"
TOKEN = "Bearer tok-8d2e77"
OPENED = dt.datetime(2026, 11, 27, 8, 0, tzinfo=dt.UTC)


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=5) as client:
        yield client


def incident(**changes: Any) -> IncidentMessage:
    values: dict[str, Any] = {
        "event": NotifyEvent.OPENED,
        "incident_id": "0f3c",
        "ref": "INC-42",
        "title": 'orders-db: "PostgresDown"\n{"injected": true}',
        "status": "triggered",
        "severity": "critical",
        "opened_at": OPENED,
        "at": OPENED + dt.timedelta(minutes=12),
        "url": "https://loom.example.com/incidents/0f3c",
        "environment": "prod",
        "services": ("orders-db", "orders"),
        "alert_count": 3,
        "firing_count": 2,
        "root_cause": "orders-db",
        "root_cause_reason": "first to fire",
        "related_change": RelatedChange("deployment of orders 1.4.3", 80, None),
        "org": "acme",
    }
    values.update(changes)
    return IncidentMessage(**values)


def target(url: str, secrets: dict[str, str] | None = None, **config: Any) -> Target:
    return Target("webhook", {"url": url, **config}, secrets or {})


async def test_default_body_is_the_documented_object(http: httpx.AsyncClient) -> None:
    with FakeWebhookReceiver() as hook:
        outcome = await WebhookSender().send(target(hook.url + "/hooks/ops"), incident(), http=http)
        [call] = hook.calls

    assert (outcome.remote_ref, outcome.http_status) == (None, 200)
    assert json.loads(outcome.response) == {"ok": True, "id": 1}
    assert call.method == "POST"
    assert call.headers["content-type"] == "application/json"
    assert "authorization" not in call.headers and "x-loom-signature-256" not in call.headers
    assert call.json() == {
        "version": 1,
        "event": "incident.opened",
        "incident": {
            "id": "0f3c",
            "ref": "INC-42",
            "title": 'orders-db: "PostgresDown"\n{"injected": true}',
            "headline": '[CRITICAL] INC-42 orders-db: "PostgresDown"\n{"injected": true}',
            "status": "triggered",
            "severity": "critical",
            "environment": "prod",
            "opened_at": "2026-11-27T08:00:00+00:00",
            "at": "2026-11-27T08:12:00+00:00",
            "duration_seconds": 720,
            "duration_text": "12 min",
            "url": "https://loom.example.com/incidents/0f3c",
            "services": ["orders-db", "orders"],
            "impact": "2 services affected, 3 alerts (2 firing)",
            "alert_count": 3,
            "firing_count": 2,
            "root_cause": "orders-db",
            "root_cause_reason": "first to fire",
            "related_change": {"summary": "deployment of orders 1.4.3", "score": 80, "url": None},
            "actor": None,
            "org": "acme",
            "extra": {},
        },
    }
    assert tuple(payload(incident())["incident"]) == INCIDENT_FIELDS


async def test_user_template_renders_the_expected_json(http: httpx.AsyncClient) -> None:
    template = (
        '{"summary": "{{ .incident.ref }}: {{ .incident.title }}", "sev": {{ .incident.severity }},'
        ' "services": {{ .incident.services }}, "count": {{ .incident.alert_count }},'
        ' "first": "{% for s in .incident.services %}{% if loop.first %}{{ s | upper }}'
        '{% endif %}{% endfor %}", "event": {{ .event }}, "actor": {{ .incident.actor }}}'
    )
    with FakeWebhookReceiver() as hook:
        settings = target(
            hook.url + "/hooks/ops", method="PUT", headers={"X-Team": "sre"}, template=template
        )
        await WebhookSender().send(settings, incident(), http=http)
        [call] = hook.calls

    assert call.method == "PUT"
    assert call.headers["x-team"] == "sre"
    # The title's quotes and line break stay inside the string: the structure holds.
    assert call.json() == {
        "summary": 'INC-42: orders-db: "PostgresDown"\n{"injected": true}',
        "sev": "critical",
        "services": ["orders-db", "orders"],
        "count": 3,
        "first": "ORDERS-DB",
        "event": "incident.opened",
        "actor": None,
    }


async def test_template_rendering_invalid_json_is_permanent(http: httpx.AsyncClient) -> None:
    with FakeWebhookReceiver() as hook:
        settings = target(hook.url + "/hooks/ops", template='{"ref": {{ .incident.ref }}')
        with pytest.raises(PermanentFailure, match="webhook template did not render valid JSON"):
            await WebhookSender().send(settings, incident(), http=http)
        assert hook.server.connections == 0


@pytest.mark.parametrize(
    "template",
    [
        "{{ ''.__class__.__mro__ }}",
        '{"x": "{{ .incident.__class__ }}"}',
        '{"x": "{{ .incident.title.upper() }}"}',
        "{% set x = 1 %}{}",
        "{% include 'secrets.txt' %}",
        '{"x": {{ lipsum }}}',
    ],
)
async def test_template_escaping_the_sandbox_fails_safely(
    template: str, http: httpx.AsyncClient
) -> None:
    with pytest.raises(TemplateInvalid, match="webhook template"):
        validate_template(template)
    with pytest.raises(ValidationError):
        Config.model_validate({"url": "https://hooks.example.com/x", "template": template})
    with FakeWebhookReceiver() as hook:
        settings = target(hook.url + "/hooks/ops", template=template)
        with pytest.raises(PermanentFailure, match="webhook template"):
            await WebhookSender().send(settings, incident(), http=http)
        assert hook.server.connections == 0


def test_validate_template_names_unknown_fields() -> None:
    validate_template('{"r": {{ .incident.ref }}, "e": {{ .event }}, "v": {{ .version }}}')
    with pytest.raises(TemplateInvalid, match="no incident field 'reff'"):
        validate_template('{"r": {{ .incident.reff }}}')
    with pytest.raises(TemplateInvalid, match=r"\.current\.x: unknown name"):
        validate_template('{"r": {{ .current.x }}}')
    with pytest.raises(TemplateInvalid, match="line 2"):
        validate_template('{\n"r": {{ .incident.ref }\n}')


async def test_hmac_signature_verifies_over_the_exact_body(http: httpx.AsyncClient) -> None:
    with FakeWebhookReceiver(hmac_secret=SECRET) as hook:
        url = hook.url + "/hooks/ops"
        await WebhookSender().send(target(url, {"hmac_secret": SECRET}), incident(), http=http)
        [call] = hook.calls
        assert len(hook.deliveries) == 1  # the receiver accepted the signature

        expected = hmac.new(SECRET.encode(), call.body, hashlib.sha256).hexdigest()
        assert call.headers["x-loom-signature-256"] == f"sha256={expected}"
        assert abs(int(call.headers["x-loom-timestamp"]) - dt.datetime.now().timestamp()) < 60

        wrong = "not-" + SECRET
        with pytest.raises(PermanentFailure) as caught:
            await WebhookSender().send(target(url, {"hmac_secret": wrong}), incident(), http=http)
    assert caught.value.http_status == 401
    assert wrong not in str(caught.value) and wrong not in caught.value.response


async def test_authorization_secret_is_sent_and_never_echoed(http: httpx.AsyncClient) -> None:
    with FakeWebhookReceiver(authorization=TOKEN) as hook:
        await WebhookSender().send(
            target(hook.url + "/hooks/ops", {"authorization": TOKEN}), incident(), http=http
        )
        assert hook.calls[0].headers["authorization"] == TOKEN

    def echo(call: RecordedCall) -> Reply:  # a debugging endpoint echoing what it got
        return Reply(500, json={"error": "boom", "headers": call.headers})

    with FakeServer() as server:
        server.route("POST", "/hook", echo)
        secrets = {"authorization": TOKEN, "hmac_secret": SECRET}
        with pytest.raises(TransientFailure) as caught:
            await WebhookSender().send(target(server.url + "/hook", secrets), incident(), http=http)
    failure = caught.value
    assert failure.http_status == 500 and "boom" in failure.response
    for secret in (TOKEN, SECRET):
        assert secret not in str(failure) and secret not in failure.response


async def test_429_with_retry_after_is_transient(http: httpx.AsyncClient) -> None:
    with FakeWebhookReceiver() as hook:
        hook.fail(429, retry_after="7")
        with pytest.raises(TransientFailure) as caught:
            await WebhookSender().send(target(hook.url + "/hooks/ops"), incident(), http=http)
        assert (caught.value.http_status, caught.value.retry_after) == (429, 7.0)

        hook.fail(503)
        with pytest.raises(TransientFailure) as unavailable:
            await WebhookSender().send(target(hook.url + "/hooks/ops"), incident(), http=http)
        assert (unavailable.value.http_status, unavailable.value.retry_after) == (503, None)
        assert hook.deliveries == []


async def test_404_is_permanent(http: httpx.AsyncClient) -> None:
    with FakeWebhookReceiver() as hook, pytest.raises(PermanentFailure) as caught:
        await WebhookSender().send(target(hook.url + "/no/such/hook"), incident(), http=http)
    assert caught.value.http_status == 404


async def test_connection_refused_is_transient(http: httpx.AsyncClient) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(TransientFailure, match="ConnectError"):
        await WebhookSender().send(target(f"http://127.0.0.1:{port}/x"), incident(), http=http)


async def test_host_not_allowed_is_permanent() -> None:
    clients = HttpClients(HttpSettings(), allowed_hosts=["127.0.0.1"])
    with FakeWebhookReceiver() as hook:
        http = clients.client("notify:webhook")
        await WebhookSender().send(target(hook.url + "/hooks/ops"), incident(), http=http)
        assert len(hook.deliveries) == 1
        with pytest.raises(PermanentFailure, match="webhook"):
            await WebhookSender().send(target("https://hooks.example.com/x"), incident(), http=http)
    await http.aclose()


def test_config_refuses_bad_urls_and_secret_looking_headers() -> None:
    assert Config.model_validate({"url": "https://hooks.example.com/x"}).method == "POST"
    for bad in (
        {"url": "ftp://hooks.example.com/x"},
        {"url": "https://user:pw@hooks.example.com/x"},
        {"method": "GET"},
        {"headers": {"X-Api-Key": "k"}},
        {"headers": {"Authorization": "Bearer x"}},
        {"headers": {"X-Loom-Signature-256": "sha256=0"}},
        {"headers": {"X-Ok": "a\r\nX-Injected: 1"}},
    ):
        with pytest.raises(ValidationError):
            Config.model_validate({"url": "https://hooks.example.com/x", **bad})
