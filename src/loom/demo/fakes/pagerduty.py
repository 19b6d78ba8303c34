"""A stateful fake PagerDuty Events API v2 on a real local HTTP server.

`POST /v2/enqueue` validates the event as PagerDuty documents it: a 32-character
`routing_key` (one the fake knows, else "Invalid routing key"), `event_action` one of
trigger | acknowledge | resolve, a `dedup_key` of at most 255 characters (required to
acknowledge or resolve), and for triggers a `payload` with `summary` (≤ 1024
characters), `source` and `severity` (critical | error | warning | info). A valid event
is answered 202 `{"status": "success", "message": "Event processed", "dedup_key"}`, an
invalid one 400 `{"status": "invalid event", "message": "Event object is invalid",
"errors": [...]}`.

Alerts are kept by dedup key, triggered → acknowledged → resolved. As in PagerDuty, a
trigger on a resolved alert opens a new one, and an acknowledge or resolve with no open
alert is accepted and dropped. `rate_limit()` answers 429 with PagerDuty's throttle body,
`fail()` any status.

    with FakePagerDuty() as pd:
        ... Config(events_url=pd.events_url), secret routing_key=pd.routing_key ...
        assert pd.alerts["loom-…"].state == "resolved"

Wire format: https://developer.pagerduty.com/docs/events-api-v2/trigger-events/

Demo fake, not for production: a stand-in for the tests and for the demo that `make serve`
starts (see loom.demo). It keeps everything in memory and checks credentials only as far
as the wire format needs.
"""

from __future__ import annotations

import json
import threading
import uuid
from dataclasses import dataclass, field
from typing import Any

from loom.demo.fakes.server import FakeServer, RecordedCall, Reply

ACTIONS = ("trigger", "acknowledge", "resolve")
SEVERITIES = ("critical", "error", "warning", "info")
THROTTLED = {
    "status": "throttle event",
    "message": "Requests for this service are arriving too quickly.  Please retry later.",
}


@dataclass
class Alert:
    """One PagerDuty alert and the events applied to it, oldest first."""

    dedup_key: str
    routing_key: str
    state: str = "triggered"  # triggered | acknowledged | resolved
    events: list[dict[str, Any]] = field(default_factory=list)

    @property
    def payload(self) -> dict[str, Any]:
        """The payload of the latest trigger."""
        triggers = [e for e in self.events if e["event_action"] == "trigger"]
        return dict(triggers[-1].get("payload") or {}) if triggers else {}


@dataclass
class _Fault:
    status: int
    times: int
    body: Any
    headers: dict[str, str]


class FakePagerDuty(FakeServer):
    """See the module docstring."""

    def __init__(self, routing_key: str = "R0ut1ngKeyF0rL00mT3sts0000000001") -> None:
        super().__init__()
        #: Integration keys the fake accepts (PagerDuty answers others "Invalid routing key").
        self.routing_keys = {routing_key}
        self.routing_key = routing_key
        #: The open or latest alert of each dedup key.
        self.alerts: dict[str, Alert] = {}
        #: Every valid event received, in order (dropped ones included).
        self.events: list[dict[str, Any]] = []
        self._faults: list[_Fault] = []
        self._mutex = threading.Lock()
        self.route("POST", "/v2/enqueue", self._enqueue)

    def __enter__(self) -> FakePagerDuty:
        self.start()
        return self

    @property
    def events_url(self) -> str:
        return self.url + "/v2/enqueue"

    def rate_limit(self, times: int = 1, *, retry_after: float | None = None) -> None:
        """Throttle the next `times` events (PagerDuty sends no Retry-After, usually)."""
        headers = {} if retry_after is None else {"Retry-After": f"{retry_after:g}"}
        with self._mutex:
            self._faults.append(_Fault(429, times, THROTTLED, headers))

    def fail(self, status: int = 500, *, times: int = 1, body: Any = None) -> None:
        """Answer the next `times` events with `status` (and `body`), taking no effect."""
        with self._mutex:
            self._faults.append(_Fault(status, times, body, {}))

    def state(self, dedup_key: str) -> str | None:
        with self._mutex:
            alert = self.alerts.get(dedup_key)
            return alert.state if alert else None

    # --- HTTP -----------------------------------------------------------------------

    def _enqueue(self, call: RecordedCall) -> Reply:
        with self._mutex:
            fault = next((f for f in self._faults if f.times > 0), None)
            if fault is not None:
                fault.times -= 1
                return _fault_reply(fault)
            try:
                event = json.loads(call.body)
            except ValueError:
                return _invalid(["Event object is not valid JSON"])
            problems = self._problems(event)
            if problems:
                return _invalid(problems)
            key = event.get("dedup_key") or uuid.uuid4().hex
            self.events.append(event)
            self._apply(key, event)
            return Reply(
                202, json={"status": "success", "message": "Event processed", "dedup_key": key}
            )

    def _problems(self, event: Any) -> list[str]:
        if not isinstance(event, dict):
            return ["Event object must be a JSON object"]
        problems: list[str] = []
        key = event.get("routing_key")
        if not isinstance(key, str) or len(key) != 32:
            problems.append("Length of 'routing_key' is incorrect (should be 32 characters)")
        elif key not in self.routing_keys:
            problems.append("Invalid routing key")
        action = event.get("event_action")
        if action not in ACTIONS:
            problems.append("'event_action' is invalid (must be trigger, acknowledge or resolve)")
        dedup = event.get("dedup_key")
        if dedup is not None and (not isinstance(dedup, str) or len(dedup) > 255):
            problems.append("'dedup_key' must be a string of at most 255 characters")
        if action in ("acknowledge", "resolve") and not dedup:
            problems.append("'dedup_key' is required for acknowledge and resolve events")
        if action == "trigger":
            problems.extend(_payload_problems(event.get("payload")))
        return problems

    def _apply(self, key: str, event: dict[str, Any]) -> None:
        alert = self.alerts.get(key)
        is_open = alert is not None and alert.state != "resolved"
        action = event["event_action"]
        if action == "trigger":
            if alert is None or not is_open:
                alert = self.alerts[key] = Alert(key, event["routing_key"])
            alert.events.append(event)
            return
        # Acknowledge and resolve apply to the open alert of the same routing key only.
        if alert is None or not is_open or alert.routing_key != event["routing_key"]:
            return
        alert.events.append(event)
        alert.state = "acknowledged" if action == "acknowledge" else "resolved"


def _payload_problems(payload: Any) -> list[str]:
    if not isinstance(payload, dict):
        return ["'payload' is missing or not an object"]
    problems: list[str] = []
    for name in ("summary", "source", "severity"):
        if not isinstance(payload.get(name), str) or not payload[name].strip():
            problems.append(f"'payload.{name}' is missing or blank")
    summary = payload.get("summary")
    if isinstance(summary, str) and len(summary) > 1024:
        problems.append("'payload.summary' is longer than 1024 characters")
    severity = payload.get("severity")
    if isinstance(severity, str) and severity and severity not in SEVERITIES:
        problems.append("'payload.severity' is invalid (must be critical, error, warning or info)")
    details = payload.get("custom_details")
    if details is not None and not isinstance(details, dict | list | str):
        problems.append("'payload.custom_details' must be an object")
    return problems


def _invalid(errors: list[str]) -> Reply:
    return Reply(
        400,
        json={"status": "invalid event", "message": "Event object is invalid", "errors": errors},
    )


def _fault_reply(fault: _Fault) -> Reply:
    if fault.body is None:
        return Reply(fault.status, body="", headers=fault.headers)
    if isinstance(fault.body, str):
        return Reply(fault.status, body=fault.body, headers=fault.headers)
    return Reply(fault.status, json=fault.body, headers=fault.headers)
