"""Alert payloads to `AlertIn`: Alertmanager v4, generic JSON, health-check events."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import pytest

from loom.errors import RejectedInput
from loom.incidents import normalize
from loom.incidents.kinds import AlertStatus, Severity

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)

#: As Alertmanager 0.27 posts it (notify/webhook Message: template.Data + version,
#: groupKey, truncatedAlerts).
ALERTMANAGER: dict[str, Any] = {
    "receiver": "loom",
    "status": "firing",
    "alerts": [
        {
            "status": "firing",
            "labels": {
                "alertname": "ProbeFailure", "instance": "https://api.example.org",
                "job": "http_checks", "severity": "critical", "service": "api",
                "env": "production",
            },
            "annotations": {
                "description": "Instance https://api.example.org has been down for 5m.",
                "summary": "BlackBox Probe Failure: https://api.example.org",
            },
            "startsAt": "2026-11-27T11:52:26.739266876+01:00",
            "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "http://prometheus.example.org:9090/graph?g0.expr=probe_success+%3D%3D+0",
            "fingerprint": "1a30ba71cca2921f",
        },
        {
            "status": "resolved",
            "labels": {"alertname": "DiskFull", "instance": "db-1", "priority": "P4"},
            "annotations": {"description": "disk is full"},
            "startsAt": "2026-11-27T10:00:00Z",
            "endsAt": "2026-11-27T11:00:00.5Z",
            "generatorURL": "",
            "fingerprint": "bc97ff14869b13e3",
        },
    ],
    "groupLabels": {"alertname": "ProbeFailure"},
    "commonLabels": {"monitor": "master"},
    "commonAnnotations": {},
    "externalURL": "http://alertmanager.example.org:9093",
    "version": "4",
    "groupKey": '{}/{severity="critical"}:{alertname="ProbeFailure"}',
    "truncatedAlerts": 0,
}  # fmt: skip


def test_alertmanager_v4_payload_becomes_alerts() -> None:
    parsed = normalize.alertmanager(copy.deepcopy(ALERTMANAGER), now=NOW)
    assert parsed.rejected == []
    firing, resolved = parsed.items
    assert firing.fingerprint == "1a30ba71cca2921f"
    assert firing.status is AlertStatus.FIRING
    assert firing.severity is Severity.CRITICAL
    assert firing.name == "ProbeFailure"
    assert firing.summary == "BlackBox Probe Failure: https://api.example.org"
    assert firing.labels["monitor"] == "master"  # common labels are kept
    assert firing.environment == "production"
    assert firing.starts_at == datetime(2026, 11, 27, 10, 52, 26, 739266, tzinfo=UTC)
    assert firing.ends_at is None  # Go's zero time is unset
    assert firing.generator_url is not None and firing.generator_url.startswith("http://prom")
    assert resolved.status is AlertStatus.RESOLVED
    assert resolved.severity is Severity.INFO  # priority P4
    assert resolved.summary == "disk is full"  # no summary: the description
    assert resolved.ends_at == datetime(2026, 11, 27, 11, 0, 0, 500000, tzinfo=UTC)
    assert resolved.generator_url == "http://alertmanager.example.org:9093"


def test_firing_alert_without_start_takes_now() -> None:
    payload = copy.deepcopy(ALERTMANAGER)
    del payload["alerts"][0]["startsAt"]
    assert normalize.alertmanager(payload, now=NOW).items[0].starts_at == NOW


def test_bad_alerts_are_named_by_index_and_field_and_the_good_kept() -> None:
    payload = copy.deepcopy(ALERTMANAGER)
    payload["alerts"][0]["startsAt"] = "2026-11-27T11:52:26"  # no zone
    payload["alerts"].append({"status": "burning", "labels": {"alertname": "X"}})
    payload["alerts"].append({"status": "firing", "labels": {"job": "x"}})
    payload["alerts"].append("not an object")
    payload["alerts"].append({"status": "firing", "labels": {"alertname": "Y", "n": 3}})
    parsed = normalize.alertmanager(payload, now=NOW)
    assert [i.name for i in parsed.items] == ["DiskFull"]
    assert [(r.index, r.field) for r in parsed.rejected] == [
        (0, "alerts[0].startsAt"),
        (2, "alerts[2].status"),
        (3, "alerts[3].labels.alertname"),
        (4, "alerts[4]"),
        (5, "alerts[5].labels.n"),
    ]
    assert "time zone" in parsed.rejected[0].issue


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ([], "body"),
        ({"receiver": "x"}, "alerts"),
        ({"alerts": {}}, "alerts"),
        ({"version": "3", "alerts": []}, "version"),
        ({"alerts": [], "commonLabels": []}, "commonLabels"),
    ],
)
def test_malformed_alertmanager_bodies_are_refused_naming_the_field(
    payload: Any, field: str
) -> None:
    with pytest.raises(RejectedInput) as caught:
        normalize.alertmanager(payload, now=NOW)
    assert caught.value.details[0].field == field


def test_too_many_alerts_in_one_batch_is_refused() -> None:
    payload = {"alerts": [{"title": f"a{i}"} for i in range(3)]}
    with pytest.raises(RejectedInput) as caught:
        normalize.generic(payload, now=NOW, max_items=2)
    assert caught.value.details[0].field == "alerts"


def test_not_json_is_refused() -> None:
    with pytest.raises(RejectedInput) as caught:
        normalize.load_json(b"{nope")
    assert caught.value.details[0].field == "body"


def test_generic_single_alert_with_defaults() -> None:
    parsed = normalize.generic(
        {"title": "Queue backing up", "service": "billing", "labels": {"queue": "invoices"},
         "description": "lag 10m", "environment": "staging", "url": "https://grafana/x"},
        now=NOW,
    )  # fmt: skip
    (item,) = parsed.items
    assert item.status is AlertStatus.FIRING
    assert item.severity is Severity.WARNING  # absent
    assert item.service == "billing"
    assert item.environment == "staging"
    assert item.summary == "lag 10m"
    assert item.annotations == {"description": "lag 10m"}
    assert item.generator_url == "https://grafana/x"
    assert item.starts_at == NOW
    assert len(item.fingerprint) == 64


def test_generic_default_fingerprint_is_stable_and_depends_on_labels_and_service() -> None:
    def fp(**fields: Any) -> str:
        return normalize.generic({"title": "t", **fields}, now=NOW).items[0].fingerprint

    assert fp(labels={"a": "1", "b": "2"}) == fp(labels={"b": "2", "a": "1"})
    assert fp(labels={"a": "1"}) != fp(labels={"a": "2"})
    assert fp(service="x") != fp(service="y")
    assert fp(fingerprint="mine") == "mine"


def test_generic_batch_names_bad_items() -> None:
    parsed = normalize.generic(
        {"alerts": [{"name": "ok", "status": "resolved", "ends_at": "2026-11-27T11:00:00Z"},
                    {"severity": "high"}, {"title": "x", "labels": "nope"},
                    {"title": "y", "starts_at": "yesterday"}]},
        now=NOW,
    )  # fmt: skip
    assert [i.name for i in parsed.items] == ["ok"]
    assert parsed.items[0].ends_at == datetime(2026, 11, 27, 11, tzinfo=UTC)
    assert [r.field for r in parsed.rejected] == [
        "alerts[1].title", "alerts[2].labels", "alerts[3].starts_at",
    ]  # fmt: skip


def test_generic_single_bad_alert_names_the_bare_field() -> None:
    parsed = normalize.generic({"status": "firing"}, now=NOW)
    assert [(r.index, r.field) for r in parsed.rejected] == [(0, "title")]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        *[(v, Severity.CRITICAL) for v in
          ("critical", "CRIT", "page", "P1", "high", "error", "fatal", "emergency")],
        *[(v, Severity.WARNING) for v in ("warning", "warn", "Medium", "p2", "p3")],
        *[(v, Severity.INFO) for v in ("info", "low", "none", "p4", "p5", "informational")],
    ],
)  # fmt: skip
def test_severity_table(raw: str, expected: Severity) -> None:
    assert normalize.severity_of(raw) is expected
    item = normalize.generic({"title": "t", "severity": raw}, now=NOW).items[0]
    assert item.severity is expected
    assert normalize.RAW_SEVERITY_LABEL not in item.labels


def test_unknown_severity_is_a_warning_keeping_the_raw_value() -> None:
    item = normalize.generic({"title": "t", "severity": "sev-9"}, now=NOW).items[0]
    assert item.severity is Severity.WARNING
    assert item.labels[normalize.RAW_SEVERITY_LABEL] == "sev-9"
    labelled = normalize.generic({"title": "t", "labels": {"severity": "odd"}}, now=NOW)
    assert labelled.items[0].severity is Severity.WARNING
    assert labelled.items[0].labels["severity"] == "odd"


@pytest.mark.parametrize(
    ("state", "status", "severity"),
    [
        ("failing", AlertStatus.FIRING, Severity.CRITICAL),
        ("degraded", AlertStatus.FIRING, Severity.WARNING),
        ("passing", AlertStatus.RESOLVED, Severity.CRITICAL),
    ],
)
def test_health_check_event(state: str, status: AlertStatus, severity: Severity) -> None:
    parsed = normalize.health_check(
        {"service": "api", "check": "http", "status": state, "previous": "failing",
         "at": "2026-11-27T11:59:00Z", "message": "HTTP 503", "url": "https://api/health"},
        now=NOW,
    )  # fmt: skip
    (item,) = parsed.items
    assert item.fingerprint == "health:api:http"
    assert item.status is status
    assert item.severity is severity
    assert item.labels["alertname"] == "HealthCheckFailing"
    assert item.labels["service"] == "api" and item.labels["check"] == "http"
    assert item.service == "api"
    assert item.summary == "HTTP 503"
    at = datetime(2026, 11, 27, 11, 59, tzinfo=UTC)
    assert (item.starts_at if status is AlertStatus.FIRING else item.ends_at) == at


def test_health_check_event_bad_fields() -> None:
    parsed = normalize.health_check(
        {"events": [{"service": "api", "check": "http", "status": "on fire"}, {"check": "x"}]},
        now=NOW,
    )
    assert [r.field for r in parsed.rejected] == ["events[0].status", "events[1].service"]


def test_values_the_database_cannot_hold_are_refused_per_item() -> None:
    payload = copy.deepcopy(ALERTMANAGER)
    payload["alerts"][0]["generatorURL"] = "http://x/" + "a" * 2000
    payload["alerts"][1]["labels"]["instance"] = "db\x00-1"
    payload["alerts"].append({"status": "firing", "labels": {"alertname": "Far"},
                              "startsAt": "9999-12-31T23:59:59-14:00"})  # fmt: skip
    payload["alerts"].append({"status": "firing", "labels": {"alertname": "Long"},
                              "fingerprint": "f" * 201})  # fmt: skip
    parsed = normalize.alertmanager(payload, now=NOW)
    assert parsed.items == []
    assert [r.field for r in parsed.rejected] == [
        "alerts[0].generatorURL", "alerts[1].labels.instance", "alerts[2].startsAt",
        "alerts[3].fingerprint",
    ]  # fmt: skip
