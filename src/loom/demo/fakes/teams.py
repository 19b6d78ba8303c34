"""A fake Microsoft Teams channel webhook (Power Automate "Workflows" trigger URL, or the
legacy incoming webhook) on a real local HTTP server.

`POST <webhook path>` takes `{"type": "message", "attachments": [...]}` whose
attachments are Adaptive Cards (`contentType` application/vnd.microsoft.card.adaptive,
`content` an AdaptiveCard of version 1.0-1.5 whose body elements are TextBlock,
FactSet, ColumnSet, Container or Image, and whose actions are Action.OpenUrl,
Action.Submit, Action.ShowCard or Action.ToggleVisibility). A valid card is kept in
`cards` and answered 202 with an empty body (Workflows) or, with `legacy=True`, 200
`1` (the Office 365 connector). A malformed message is answered 400 with a text saying
what is wrong. Any other path is a 404: the webhook URL is the credential.

`rate_limit()` answers 429 with Retry-After (or, with `legacy=True`, the connector's 200
whose body names "HTTP error 429"), `fail()` any status.

    with FakeTeams() as teams:
        ... secret webhook_url=teams.webhook_url ...
        assert teams.cards[0]["body"][0]["text"] == "..."

Wire format: https://learn.microsoft.com/en-us/microsoftteams/platform/webhooks-and-connectors/how-to/connectors-using
and https://adaptivecards.io/explorer/

Demo fake, not for production: a stand-in for the tests and for the demo that `make serve`
starts (see loom.demo). It keeps everything in memory and checks credentials only as far
as the wire format needs.
"""

from __future__ import annotations

import json
import secrets
import threading
from dataclasses import dataclass
from typing import Any

from loom.demo.fakes.server import FakeServer, RecordedCall, Reply

ADAPTIVE = "application/vnd.microsoft.card.adaptive"
VERSIONS = ("1.0", "1.1", "1.2", "1.3", "1.4", "1.5")
ELEMENTS = ("TextBlock", "FactSet", "ColumnSet", "Container", "Image")
ACTIONS = ("Action.OpenUrl", "Action.Submit", "Action.ShowCard", "Action.ToggleVisibility")
#: Allowed values of TextBlock properties (Adaptive Cards compares them case-insensitively).
TEXT_ENUMS = {
    "weight": ("default", "lighter", "bolder"),
    "size": ("default", "small", "medium", "large", "extralarge"),
    "color": ("default", "dark", "light", "accent", "good", "warning", "attention"),
}
LEGACY_THROTTLED = (
    "Webhook message delivery failed with error: Microsoft Teams endpoint returned "
    "HTTP error 429 with ContextId tcid=0,server=msgapi-production-fake,cv=fake."
)


class CardError(ValueError):
    """What makes a posted message unacceptable."""


@dataclass
class _Fault:
    status: int
    times: int
    body: str
    headers: dict[str, str]


class FakeTeams(FakeServer):
    """See the module docstring."""

    def __init__(self, *, legacy: bool = False) -> None:
        super().__init__()
        self.legacy = legacy
        token = secrets.token_hex(8)
        #: The webhook's path: unguessable, like the real ones.
        self.path = (
            f"/webhookb2/{token}/IncomingWebhook/{token[:6]}"
            if legacy
            else f"/workflows/{token}/triggers/manual/paths/invoke"
        )
        #: The cards accepted, oldest first (the `content` of each attachment).
        self.cards: list[dict[str, Any]] = []
        self._faults: list[_Fault] = []
        self._mutex = threading.Lock()
        self.route("POST", self.path, self._post)

    def __enter__(self) -> FakeTeams:
        self.start()
        return self

    @property
    def webhook_url(self) -> str:
        return self.url + self.path

    def rate_limit(self, times: int = 1, *, retry_after: float = 5) -> None:
        if self.legacy:
            fault = _Fault(200, times, LEGACY_THROTTLED, {})
        else:
            fault = _Fault(429, times, "", {"Retry-After": f"{retry_after:g}"})
        with self._mutex:
            self._faults.append(fault)

    def fail(self, status: int = 500, *, times: int = 1, body: str = "") -> None:
        with self._mutex:
            self._faults.append(_Fault(status, times, body, {}))

    def _post(self, call: RecordedCall) -> Reply:
        with self._mutex:
            fault = next((f for f in self._faults if f.times > 0), None)
            if fault is not None:
                fault.times -= 1
                return Reply(fault.status, body=fault.body, headers=fault.headers)
            try:
                cards = adaptive_cards(json.loads(call.body))
            except ValueError as exc:  # CardError and bad JSON alike
                return Reply(400, body=f"Bad payload: {exc}", headers=_TEXT)
            self.cards.extend(cards)
        return Reply(200, body="1", headers=_TEXT) if self.legacy else Reply(202)


_TEXT = {"Content-Type": "text/plain; charset=utf-8"}


def adaptive_cards(message: Any) -> list[dict[str, Any]]:
    """The cards of a Teams webhook message; CardError if it is malformed."""
    if not isinstance(message, dict) or message.get("type") != "message":
        raise CardError("'type' must be 'message'")
    attachments = message.get("attachments")
    if not isinstance(attachments, list) or not attachments:
        raise CardError("'attachments' must be a non-empty array")
    cards = []
    for attachment in attachments:
        if not isinstance(attachment, dict) or attachment.get("contentType") != ADAPTIVE:
            raise CardError(f"attachment 'contentType' must be '{ADAPTIVE}'")
        cards.append(_check_card(attachment.get("content")))
    return cards


def _check_card(card: Any) -> dict[str, Any]:
    if not isinstance(card, dict) or card.get("type") != "AdaptiveCard":
        raise CardError("attachment 'content' must be an object of type 'AdaptiveCard'")
    if card.get("version") not in VERSIONS:
        raise CardError(f"AdaptiveCard 'version' must be one of {', '.join(VERSIONS)}")
    body = card.get("body", [])
    if not isinstance(body, list):
        raise CardError("AdaptiveCard 'body' must be an array")
    for element in body:
        _check_element(element)
    actions = card.get("actions", [])
    if not isinstance(actions, list):
        raise CardError("AdaptiveCard 'actions' must be an array")
    for action in actions:
        kind = action.get("type") if isinstance(action, dict) else None
        if kind not in ACTIONS:
            raise CardError(f"unknown action type {kind!r}")
        if kind == "Action.OpenUrl" and not isinstance(action.get("url"), str):
            raise CardError("Action.OpenUrl requires 'url'")
    return card


def _check_element(element: Any) -> None:
    kind = element.get("type") if isinstance(element, dict) else None
    if kind not in ELEMENTS or not isinstance(element, dict):
        raise CardError(f"unknown element type {kind!r}")
    if kind == "TextBlock":
        if not isinstance(element.get("text"), str):
            raise CardError("TextBlock requires 'text'")
        for name, allowed in TEXT_ENUMS.items():
            value = element.get(name)
            if value is not None and str(value).lower() not in allowed:
                raise CardError(f"TextBlock '{name}' has an invalid value {value!r}")
    elif kind == "FactSet":
        facts = element.get("facts")
        if not isinstance(facts, list) or not all(
            isinstance(f, dict) and isinstance(f.get("title"), str)
            and isinstance(f.get("value"), str) for f in facts
        ):  # fmt: skip
            raise CardError("FactSet 'facts' must be an array of {title, value} strings")
    elif kind == "Container":
        _check_items(element.get("items"), "Container")
    elif kind == "ColumnSet":
        columns = element.get("columns", [])
        if not isinstance(columns, list):
            raise CardError("ColumnSet 'columns' must be an array")
        for column in columns:
            if not isinstance(column, dict) or column.get("type", "Column") != "Column":
                raise CardError("ColumnSet 'columns' must hold Column objects")
            _check_items(column.get("items", []), "Column")
    elif kind == "Image" and not isinstance(element.get("url"), str):
        raise CardError("Image requires 'url'")


def _check_items(items: Any, owner: str) -> None:
    if not isinstance(items, list):
        raise CardError(f"{owner} 'items' must be an array")
    for item in items:
        _check_element(item)
