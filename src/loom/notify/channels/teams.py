"""Microsoft Teams channel: an Adaptive Card (an incident's, or a request's event's)
posted to a channel's incoming webhook or a Power Automate "Workflows" webhook ("Send
webhook alerts to a channel").

Both take the same message (`{"type": "message", "attachments": [<adaptive card>]}`).
Workflows answers 202 with an empty body; the legacy Office 365 connector answers 200
with `1`, and reports its own throttling as a 200 whose body names "HTTP error 429",
which is read here as the 429 it is. The webhook URL is the credential (whoever holds it
can post), so it is a secret and never appears in an error.

Wire format: https://learn.microsoft.com/en-us/microsoftteams/platform/webhooks-and-connectors/how-to/connectors-using
(section "Send adaptive cards using an incoming webhook", and "Rate limiting for
connectors"); card elements: https://adaptivecards.io/explorer/
"""

from __future__ import annotations

from typing import Any, ClassVar

import httpx
from pydantic import BaseModel, ConfigDict, ValidationError

from loom.notify.channels.base import (
    Outcome,
    PermanentFailure,
    Target,
    TransientFailure,
    check,
    excerpt,
    request,
)
from loom.notify.message import IncidentMessage, Message, NotifyEvent, RequestMessage

#: Secret settings: the webhook URL (incoming webhook or Workflows trigger URL).
SECRET_FIELDS: tuple[str, ...] = ("webhook_url",)

CARD_VERSION = "1.4"
#: What the legacy connector answers instead of a 429 status.
CONNECTOR_THROTTLED = "HTTP error 429"


class Config(BaseModel):
    """Non-secret settings of a Teams channel."""

    model_config = ConfigDict(extra="forbid")

    #: Show the "View in Loom" button (off for channels read outside the network).
    link_button: bool = True


def message_body(message: Message, config: Config | None = None) -> dict[str, Any]:
    """The JSON Teams receives for `message`."""
    config = config or Config()
    card: dict[str, Any] = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": CARD_VERSION,
        "body": (
            _request_card_body(message)
            if isinstance(message, RequestMessage)
            else _card_body(message)
        ),
    }
    if config.link_button:
        card["actions"] = [{"type": "Action.OpenUrl", "title": "View in Loom", "url": message.url}]
    return {
        "type": "message",
        "attachments": [
            {
                "contentType": "application/vnd.microsoft.card.adaptive",
                "contentUrl": None,
                "content": card,
            }
        ],
    }


class TeamsSender:
    """Posts one card per call; Teams gives nothing to update later, so no `remote_ref`."""

    kind: ClassVar[str] = "teams"

    async def send(self, target: Target, message: Message, *, http: httpx.AsyncClient) -> Outcome:
        config = _config(target)
        url = target.secrets.get("webhook_url", "")
        if not _is_http_url(url):
            raise PermanentFailure("teams: the webhook URL is not set or not an http(s) URL")
        response = await request(http, "teams", "POST", url, json=message_body(message, config))
        check(response, "teams")
        if CONNECTOR_THROTTLED in response.text:
            raise TransientFailure(
                "teams: throttled (HTTP error 429 in the connector's answer)",
                http_status=response.status_code,
                response=excerpt(response),
            )
        return Outcome(http_status=response.status_code, response=excerpt(response))


def _config(target: Target) -> Config:
    try:
        return Config.model_validate(target.config)
    except ValidationError as exc:
        fields = ", ".join(".".join(map(str, e["loc"])) or "config" for e in exc.errors())
        raise PermanentFailure(f"teams: invalid settings ({fields})") from None


def _card_body(message: IncidentMessage) -> list[dict[str, Any]]:
    headline: dict[str, Any] = {
        "type": "TextBlock",
        "text": message.headline(),
        "weight": "Bolder",
        "size": "Medium",
        "wrap": True,
    }
    colour = _colour(message)
    if colour:
        headline["color"] = colour
    facts = [
        ("Severity", message.severity),
        ("Status", message.status),
        ("Root cause", message.root_cause),
        ("Duration", message.duration_text()),
        ("Impact", message.impact()),
        ("Environment", message.environment),
    ]
    body: list[dict[str, Any]] = [
        headline,
        {
            "type": "FactSet",
            "facts": [{"title": title, "value": value} for title, value in facts if value],
        },
    ]
    notes = []
    if message.root_cause_reason:
        notes.append(f"Probable root cause: {message.root_cause_reason}")
    change = message.related_change
    if change is not None:
        summary = f"[{change.summary}]({change.url})" if change.url else change.summary
        notes.append(f"Related change: {summary} (score {change.score})")
    if message.actor and message.event in (NotifyEvent.ACKNOWLEDGED, NotifyEvent.RESOLVED):
        notes.append(f"{message.event.value.removeprefix('incident.').capitalize()} by "
                     f"{message.actor}")  # fmt: skip
    if notes:
        body.append({"type": "TextBlock", "text": "\n\n".join(notes), "wrap": True})
    return body


def _colour(message: IncidentMessage) -> str | None:
    """Resolved is good news whatever the severity; else critical is Attention (red)."""
    if message.event is NotifyEvent.RESOLVED:
        return "Good"
    return {"critical": "Attention", "warning": "Warning"}.get(message.severity)


def _is_http_url(value: str) -> bool:
    try:
        url = httpx.URL(value)
    except httpx.InvalidURL:
        return False
    return url.scheme in ("http", "https") and bool(url.host)


def _request_card_body(message: RequestMessage) -> list[dict[str, Any]]:
    """A request's event: the headline (red for a failure), its facts, the error."""
    headline: dict[str, Any] = {
        "type": "TextBlock",
        "text": message.headline(),
        "weight": "Bolder",
        "size": "Medium",
        "wrap": True,
    }
    if message.event is NotifyEvent.REQUEST_FAILED:
        headline["color"] = "Attention"
    facts = [{"title": title, "value": value} for title, value in message.facts() if value]
    body: list[dict[str, Any]] = [headline, {"type": "FactSet", "facts": facts}]
    if message.error:
        body.append({"type": "TextBlock", "text": f"Error: {message.error}", "wrap": True})
    return body
