"""PagerDuty channel: one Events API v2 alert event per incident event.

The alert's `dedup_key` is `loom-<incident id>`, so the trigger, the acknowledge and the
resolve of one incident land on the same PagerDuty alert. Trigger events carry the
payload (summary, source, severity, links...); acknowledge and resolve carry only the
routing key, the action and the dedup key, as the documentation shows them.

A failed request is a `warning` trigger on its own alert (`loom-request-<request id>`: a
request that fails again after a retry lands on the same alert); Loom never resolves it
(the request has no resolution to send), people do. Approvals page nobody: the
dispatcher queues no approval.needed for a PagerDuty channel.

Wire format: https://developer.pagerduty.com/docs/events-api-v2/trigger-events/
Answers and retries: https://developer.pagerduty.com/docs/events-api-v2/overview/
"""

from __future__ import annotations

from typing import Any, ClassVar

import httpx
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from loom.notify.channels.base import (
    DeliveryFailure,
    Outcome,
    PermanentFailure,
    Target,
    check,
    excerpt,
    request,
)
from loom.notify.message import IncidentMessage, Message, NotifyEvent, RequestMessage

EVENTS_URL = "https://events.pagerduty.com/v2/enqueue"
#: PagerDuty's limits on `payload.summary` and `dedup_key`.
SUMMARY_MAX = 1024
DEDUP_KEY_MAX = 255

#: Secret settings: the Events API v2 integration key of the PagerDuty service.
SECRET_FIELDS: tuple[str, ...] = ("routing_key",)

ACTIONS: dict[NotifyEvent, str] = {
    NotifyEvent.OPENED: "trigger",
    NotifyEvent.SEVERITY_RAISED: "trigger",
    NotifyEvent.REOPENED: "trigger",
    NotifyEvent.TEST: "trigger",
    NotifyEvent.ACKNOWLEDGED: "acknowledge",
    NotifyEvent.RESOLVED: "resolve",
}

#: Loom severity → PagerDuty's (critical | error | warning | info).
SEVERITIES = {"critical": "critical", "warning": "warning", "info": "info"}


class Config(BaseModel):
    """Non-secret settings of a PagerDuty channel."""

    model_config = ConfigDict(extra="forbid")

    #: Where events go; only changed for PagerDuty's EU service region or a test fake.
    events_url: str = EVENTS_URL

    @field_validator("events_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        url = httpx.URL(value)
        if url.scheme not in ("http", "https") or not url.host:
            raise ValueError("events_url must be an http(s) URL")
        return value


def dedup_key(message: IncidentMessage) -> str:
    """Stable per incident, so every event of it reaches the same PagerDuty alert."""
    return f"loom-{message.incident_id}"[:DEDUP_KEY_MAX]


def event_body(message: Message, routing_key: str) -> dict[str, Any]:
    """The JSON PagerDuty receives for `message`."""
    if isinstance(message, RequestMessage):
        return request_event_body(message, routing_key)
    action = ACTIONS[message.event]
    body: dict[str, Any] = {
        "routing_key": routing_key,
        "event_action": action,
        "dedup_key": dedup_key(message),
    }
    if action != "trigger":
        return body
    payload: dict[str, Any] = {
        "summary": _cut(message.headline(), SUMMARY_MAX),
        "source": message.root_cause or "loom",
        "severity": SEVERITIES.get(message.severity, "error"),
        "timestamp": message.at.isoformat(),
    }
    if message.root_cause:
        payload["component"] = message.root_cause
    if message.environment:
        payload["group"] = message.environment
    payload["class"] = message.event.value
    payload["custom_details"] = _details(message)
    body["payload"] = payload
    body["links"] = [{"href": message.url, "text": f"Open {message.ref} in Loom"}]
    body["client"] = "Loom"
    body["client_url"] = message.url
    return body


class PagerDutySender:
    """Sends one Events API v2 event per call; `remote_ref` is the alert's dedup key."""

    kind: ClassVar[str] = "pagerduty"

    async def send(self, target: Target, message: Message, *, http: httpx.AsyncClient) -> Outcome:
        config = _config(target)
        if isinstance(message, IncidentMessage) and message.event not in ACTIONS:
            # "incident.updated": PagerDuty deduplicates on its own (registry.KindSpec
            # never routes it here); refuse rather than guess an action.
            raise PermanentFailure(f"pagerduty: '{message.event.value}' is not sent to PagerDuty")
        routing_key = target.secrets.get("routing_key", "")
        if not routing_key:
            raise PermanentFailure("pagerduty: the routing key (integration key) is not set")
        body = event_body(message, routing_key)
        response = await request(http, "pagerduty", "POST", config.events_url, json=body)
        try:
            check(response, "pagerduty")
        except DeliveryFailure as exc:
            # PagerDuty does not echo the key today; the scrub keeps it that way for us.
            exc.response = exc.response.replace(routing_key, "***")
            raise
        return Outcome(
            remote_ref=_answered_key(response) or body["dedup_key"],
            http_status=response.status_code,
            response=excerpt(response).replace(routing_key, "***"),
        )


def _config(target: Target) -> Config:
    try:
        return Config.model_validate(target.config)
    except ValidationError as exc:
        fields = ", ".join(".".join(map(str, e["loc"])) or "config" for e in exc.errors())
        raise PermanentFailure(f"pagerduty: invalid settings ({fields})") from None


def _details(message: IncidentMessage) -> dict[str, Any]:
    details: dict[str, Any] = {
        "ref": message.ref,
        "status": message.status,
        "services": list(message.services),
        "impact": message.impact(),
        "url": message.url,
    }
    if message.root_cause_reason:
        details["root_cause_reason"] = message.root_cause_reason
    change = message.related_change
    if change is not None:
        details["related_change"] = {"summary": change.summary, "score": change.score}
        if change.url:
            details["related_change"]["url"] = change.url
    return details


def _answered_key(response: httpx.Response) -> str | None:
    try:
        answer = response.json()
    except ValueError:
        return None
    key = answer.get("dedup_key") if isinstance(answer, dict) else None
    return key if isinstance(key, str) and key else None


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def request_event_body(message: RequestMessage, routing_key: str) -> dict[str, Any]:
    """A failed request as a `warning` trigger on the request's own alert."""
    if message.event is not NotifyEvent.REQUEST_FAILED:
        raise PermanentFailure(f"pagerduty: {message.event.value} pages nobody")
    details = {label.lower().replace(" ", "_"): value for label, value in message.facts()}
    if message.error:
        details["error"] = message.error
    details["url"] = message.url
    return {
        "routing_key": routing_key,
        "event_action": "trigger",
        "dedup_key": f"loom-request-{message.request_id}"[:DEDUP_KEY_MAX],
        "payload": {
            "summary": _cut(message.headline(), SUMMARY_MAX),
            "source": message.entry_id or "loom",
            "severity": "warning",
            "timestamp": message.at.isoformat(),
            "group": message.team,
            "class": message.event.value,
            "custom_details": details,
        },
        "links": [{"href": message.url, "text": f"Open {message.ref} in Loom"}],
        "client": "Loom",
        "client_url": message.url,
    }
