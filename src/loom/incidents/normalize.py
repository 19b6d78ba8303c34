"""Incoming alert payloads to one shape, `AlertIn`, without touching the database.

Three formats: the Prometheus Alertmanager webhook (version 4), a generic JSON alert (one
object or `{"alerts": [...]}`), and a health-check event of the service registry. A payload
that is not the expected shape as a whole raises `RejectedInput` (a 400 naming the field);
a batch whose items are partly bad keeps the good ones and lists the bad ones by index,
field path (`alerts[3].startsAt`) and issue.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

from loom.errors import RejectedInput
from loom.incidents.kinds import AlertStatus, Severity

#: Labels that carry the environment, tried in order.
ENVIRONMENT_LABELS = ("environment", "env")
#: Labels whose value is the raw severity, tried in order.
SEVERITY_LABELS = ("severity", "priority")
#: Where an unknown severity's raw value is kept when it did not come from a label.
RAW_SEVERITY_LABEL = "severity_raw"
HEALTH_CHECK_ALERTNAME = "HealthCheckFailing"

_SEVERITIES: dict[str, Severity] = {
    **dict.fromkeys(
        ("critical", "crit", "page", "p1", "high", "error", "fatal", "emergency"),
        Severity.CRITICAL,
    ),
    **dict.fromkeys(("warning", "warn", "medium", "p2", "p3"), Severity.WARNING),
    **dict.fromkeys(("info", "low", "none", "p4", "p5", "informational"), Severity.INFO),
}
_HEALTH = {
    "failing": (AlertStatus.FIRING, Severity.CRITICAL),
    "degraded": (AlertStatus.FIRING, Severity.WARNING),
    "passing": (AlertStatus.RESOLVED, None),
}
# Column sizes of `models.Alert`.
_MAX = {
    "fingerprint": 200, "name": 200, "title": 200, "environment": 63,
    "url": 2000, "generatorURL": 2000, "externalURL": 2000,
}  # fmt: skip
_MAX_LABELS = 100
_MAX_LABEL_VALUE = 2000


@dataclass
class AlertIn:
    """One alert as a source reported it, normalised."""

    fingerprint: str
    status: AlertStatus
    severity: Severity
    name: str
    summary: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    #: The service the payload names outright (generic `service`, health-check events);
    #: label rules (`service_mapping`) are tried after it.
    service: str | None = None
    environment: str | None = None
    generator_url: str | None = None
    #: None when a resolve did not say when it started (a firing alert always has one).
    starts_at: datetime | None = None
    ends_at: datetime | None = None


@dataclass(frozen=True)
class Rejected:
    """One bad item of a batch."""

    index: int
    field: str
    issue: str

    def as_dict(self) -> dict[str, Any]:
        return {"index": self.index, "field": self.field, "issue": self.issue}


@dataclass
class Parsed:
    items: list[AlertIn] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)


class BadItem(Exception):
    """An item's field is wrong (caught per item)."""

    def __init__(self, field_name: str, issue: str) -> None:
        super().__init__(f"{field_name}: {issue}")
        self.field = field_name
        self.issue = issue


def severity_of(raw: object) -> Severity | None:
    """The normalised severity of a raw value, or None when it is not one we know."""
    if raw is None:
        return None
    return _SEVERITIES.get(str(raw).strip().lower())


def load_json(body: bytes) -> Any:
    """The JSON document of a request body (400 `body` when it is not JSON)."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        raise RejectedInput.on("body", "not valid JSON") from None


# ------------------------------------------------------------------ field readers


def _str(obj: Mapping[str, Any], key: str, path: str, *, required: bool = False) -> str | None:
    value = obj.get(key)
    if value is None or value == "":
        if required:
            raise BadItem(path + key, "required")
        return None
    if not isinstance(value, str):
        raise BadItem(path + key, "must be a string")
    if "\x00" in value:
        raise BadItem(path + key, "must not contain NUL characters")
    limit = _MAX.get(key)
    if limit is not None and len(value) > limit:
        raise BadItem(path + key, f"at most {limit} characters")
    return value


def _mapping(
    obj: Mapping[str, Any], key: str, path: str, *, coerce: bool = False
) -> dict[str, str]:
    value = obj.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise BadItem(path + key, "must be an object of strings")
    if len(value) > _MAX_LABELS:
        raise BadItem(path + key, f"at most {_MAX_LABELS} entries")
    out: dict[str, str] = {}
    for name, item in value.items():
        if isinstance(item, bool | int | float) and coerce:
            item = json.dumps(item)
        if not isinstance(item, str):
            raise BadItem(f"{path}{key}.{name}", "must be a string")
        if "\x00" in item or "\x00" in name:
            raise BadItem(f"{path}{key}.{name}", "must not contain NUL characters")
        if len(item) > _MAX_LABEL_VALUE:
            raise BadItem(f"{path}{key}.{name}", f"at most {_MAX_LABEL_VALUE} characters")
        out[str(name)] = item
    return out


def parse_time(value: object, field_name: str) -> datetime | None:
    """An RFC 3339 time with its zone, in UTC; None when absent or Go's zero time."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise BadItem(field_name, "must be an RFC 3339 time string")
    text = value.strip()
    if text.startswith("0001-01-01"):
        return None
    # Go writes up to 9 fractional digits; Python reads at most 6.
    head, dot, rest = text.partition(".")
    if dot:
        digits = len(rest) - len(rest.lstrip("0123456789"))
        text = f"{head}.{rest[: min(digits, 6)]}{rest[digits:]}"
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise BadItem(field_name, "not an RFC 3339 time (2026-01-31T12:00:00Z)") from None
    if parsed.tzinfo is None:
        raise BadItem(field_name, "must carry a time zone (Z or +hh:mm)")
    try:
        return parsed.astimezone(UTC)
    except OverflowError:
        raise BadItem(field_name, "out of range") from None


def _status(value: object, field_name: str, default: AlertStatus | None = None) -> AlertStatus:
    if value is None and default is not None:
        return default
    if isinstance(value, str) and value.lower() in ("firing", "resolved"):
        return AlertStatus(value.lower())
    raise BadItem(field_name, "must be 'firing' or 'resolved'")


def _severity(explicit: object, labels: dict[str, str]) -> Severity:
    """From `explicit` (a payload field) or the severity labels; unknown -> warning, with
    the raw value kept in the labels."""
    raw: object = explicit
    if raw is None:
        raw = next((labels[k] for k in SEVERITY_LABELS if labels.get(k)), None)
        if raw is None:
            return Severity.WARNING
        return severity_of(raw) or Severity.WARNING  # the raw value is already a label
    known = severity_of(raw)
    if known is None:
        labels[RAW_SEVERITY_LABEL] = str(raw)[:_MAX_LABEL_VALUE]
        return Severity.WARNING
    return known


def _environment(labels: Mapping[str, str], explicit: str | None = None) -> str | None:
    value = explicit or next((labels[k] for k in ENVIRONMENT_LABELS if labels.get(k)), None)
    return value[: _MAX["environment"]] if value else None


def _times(
    item: AlertIn, raw: Mapping[str, Any], path: str, keys: tuple[str, str], now: datetime
) -> None:
    item.starts_at = parse_time(raw.get(keys[0]), path + keys[0])
    item.ends_at = parse_time(raw.get(keys[1]), path + keys[1])
    if item.status is AlertStatus.FIRING:
        item.starts_at = item.starts_at or now
        # Alertmanager sends a firing alert's expected end; it is not an end yet.
        item.ends_at = None
    elif item.ends_at is None:
        item.ends_at = now


def _items(payload: Any, path: str = "alerts") -> list[Any]:
    if not isinstance(payload, dict):
        raise RejectedInput.on("body", "must be a JSON object")
    alerts = payload.get(path)
    if not isinstance(alerts, list):
        raise RejectedInput.on(path, "required: a list of alerts")
    return alerts


def _collect(raw_items: Sequence[Any], parse_one: Any, path: str, max_items: int) -> Parsed:
    if len(raw_items) > max_items:
        raise RejectedInput.on(path, f"at most {max_items} alerts in one request")
    out = Parsed()
    for index, raw in enumerate(raw_items):
        prefix = f"{path}[{index}]." if path else ""
        try:
            if not isinstance(raw, dict):
                raise BadItem(prefix.rstrip(".") or "body", "must be an object")
            out.items.append(parse_one(raw, prefix))
        except BadItem as bad:
            out.rejected.append(Rejected(index, bad.field, bad.issue))
    return out


# ------------------------------------------------------------------ formats


def alertmanager(payload: Any, *, now: datetime, max_items: int = 1000) -> Parsed:
    """The Alertmanager webhook body (`version` "4"): every alert of the group."""
    alerts = _items(payload)
    version = payload.get("version")
    if version is not None and str(version) != "4":
        raise RejectedInput.on("version", f"version 4 of the webhook is supported, not {version!r}")
    try:
        common = _mapping(payload, "commonLabels", "")
        external = _str(payload, "externalURL", "")
    except BadItem as bad:
        raise RejectedInput.on(bad.field, bad.issue) from None

    def one(raw: dict[str, Any], path: str) -> AlertIn:
        labels = {**common, **_mapping(raw, "labels", path)}
        annotations = _mapping(raw, "annotations", path)
        name = labels.get("alertname")
        if not name:
            raise BadItem(path + "labels.alertname", "required")
        status = _status(raw.get("status"), path + "status")
        fingerprint = _str(raw, "fingerprint", path) or _hash("am", name, labels)
        item = AlertIn(
            fingerprint=fingerprint, status=status, severity=_severity(None, labels),
            name=name[: _MAX["name"]],
            summary=annotations.get("summary") or annotations.get("description") or "",
            labels=labels, annotations=annotations, environment=_environment(labels),
            generator_url=_str(raw, "generatorURL", path) or external,
        )  # fmt: skip
        _times(item, raw, path, ("startsAt", "endsAt"), now)
        return item

    return _collect(alerts, one, "alerts", max_items)


def generic(payload: Any, *, now: datetime, max_items: int = 1000) -> Parsed:
    """One alert object, or `{"alerts": [...]}` of them."""
    if isinstance(payload, dict) and "alerts" in payload:
        raw_items, path = _items(payload), "alerts"
    elif isinstance(payload, dict):
        raw_items, path = [payload], ""
    else:
        raise RejectedInput.on("body", 'must be an alert object or {"alerts": [...]}')

    def one(raw: dict[str, Any], prefix: str) -> AlertIn:
        name = _str(raw, "title", prefix) or _str(raw, "name", prefix)
        if not name:
            raise BadItem(prefix + "title", "required (title or name)")
        if len(name) > _MAX["name"]:
            raise BadItem(prefix + "title", f"at most {_MAX['name']} characters")
        labels = _mapping(raw, "labels", prefix, coerce=True)
        annotations = _mapping(raw, "annotations", prefix, coerce=True)
        description = _str(raw, "description", prefix)
        if description and "description" not in annotations:
            annotations["description"] = description
        service = _str(raw, "service", prefix)
        status = _status(raw.get("status"), prefix + "status", AlertStatus.FIRING)
        severity = raw.get("severity")
        if severity is not None and not isinstance(severity, str | int):
            raise BadItem(prefix + "severity", "must be a string")
        fingerprint = _str(raw, "fingerprint", prefix) or _hash(
            "gen", name, {**labels, "__service__": service or ""}
        )
        item = AlertIn(
            fingerprint=fingerprint, status=status, severity=_severity(severity, labels),
            name=name, summary=annotations.get("summary") or description or "",
            labels=labels, annotations=annotations, service=service,
            environment=_environment(labels, _str(raw, "environment", prefix)),
            generator_url=_str(raw, "url", prefix),
        )  # fmt: skip
        _times(item, raw, prefix, ("starts_at", "ends_at"), now)
        return item

    return _collect(raw_items, one, path, max_items)


def health_check_event(raw: dict[str, Any], prefix: str = "", *, now: datetime) -> AlertIn:
    """One endpoint-check status change as an alert: `health:<service>:<check>`."""
    service = _str(raw, "service", prefix, required=True)
    check = _str(raw, "check", prefix, required=True)
    assert service is not None and check is not None
    state = raw.get("status")
    if state not in _HEALTH:
        raise BadItem(prefix + "status", "must be 'passing', 'degraded' or 'failing'")
    status, severity = _HEALTH[state]
    if severity is None:
        severity = Severity.WARNING if raw.get("previous") == "degraded" else Severity.CRITICAL
    at = parse_time(raw.get("at"), prefix + "at") or now
    message = _str(raw, "message", prefix) or ""
    labels = {"alertname": HEALTH_CHECK_ALERTNAME, "service": service, "check": check}
    if isinstance(raw.get("previous"), str):
        labels["previous"] = raw["previous"]
    return AlertIn(
        fingerprint=f"health:{service}:{check}"[: _MAX["fingerprint"]], status=status,
        severity=severity, name=HEALTH_CHECK_ALERTNAME,
        summary=message or f"health check '{check}' of {service} is {state}",
        labels=labels, annotations={"message": message} if message else {}, service=service,
        generator_url=_str(raw, "url", prefix),
        starts_at=at if status is AlertStatus.FIRING else None,
        ends_at=at if status is AlertStatus.RESOLVED else None,
    )  # fmt: skip


def health_check(payload: Any, *, now: datetime, max_items: int = 1000) -> Parsed:
    """One health-check event, or `{"events": [...]}` of them."""
    if isinstance(payload, dict) and "events" in payload:
        raw_items, path = _items(payload, "events"), "events"
    elif isinstance(payload, dict):
        raw_items, path = [payload], ""
    else:
        raise RejectedInput.on("body", "must be a health-check event object")
    return _collect(
        raw_items, lambda raw, prefix: health_check_event(raw, prefix, now=now), path, max_items
    )


def _hash(kind: str, name: str, labels: Mapping[str, str]) -> str:
    text = json.dumps([kind, name, sorted(labels.items())], separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()
