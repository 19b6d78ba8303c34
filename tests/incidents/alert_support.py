"""Helpers for the alert tests: register a source, post alerts as it, read alerts."""

from __future__ import annotations

import json
from typing import Any

import httpx

from loom.incidents import sources

SOURCES = "/api/v1/alert-sources"
ALERTS = "/api/v1/alerts"


async def make_source(
    client: httpx.AsyncClient, headers: dict[str, str], kind: str = "alertmanager", name: str = ""
) -> dict[str, Any]:
    """A new source's id, token and hmac_secret."""
    body = {"name": name or f"{kind.replace('_', '-')}-1", "kind": kind}
    response = await client.post(SOURCES, json=body, headers=headers)
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()
    return data


def as_source(source: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {source['token']}"}


def signed(source: dict[str, Any], body: bytes) -> dict[str, str]:
    return {
        "X-Loom-Source": source["id"],
        "X-Loom-Signature-256": sources.sign(source["hmac_secret"], body),
        "Content-Type": "application/json",
    }


def am_alert(name: str, status: str = "firing", **labels: str) -> dict[str, Any]:
    fingerprint = labels.pop("fingerprint", name)
    return {
        "status": status,
        "labels": {"alertname": name, **labels},
        "annotations": {"summary": f"{name} is happening"},
        "startsAt": "2026-11-27T11:00:00Z",
        "endsAt": "2026-11-27T11:30:00Z" if status == "resolved" else "0001-01-01T00:00:00Z",
        "generatorURL": "http://prometheus:9090/graph",
        "fingerprint": fingerprint,
    }


def am_payload(*alerts: dict[str, Any]) -> dict[str, Any]:
    return {
        "receiver": "loom", "status": "firing", "alerts": list(alerts),
        "groupLabels": {}, "commonLabels": {}, "commonAnnotations": {},
        "externalURL": "http://alertmanager:9093", "version": "4", "groupKey": "{}:{}",
        "truncatedAlerts": 0,
    }  # fmt: skip


async def post_am(
    client: httpx.AsyncClient, source: dict[str, Any], *alerts: dict[str, Any]
) -> httpx.Response:
    return await client.post(
        f"{ALERTS}/alertmanager", content=json.dumps(am_payload(*alerts)),
        headers={**as_source(source), "Content-Type": "application/json"},
    )  # fmt: skip


async def list_alerts(
    client: httpx.AsyncClient, headers: dict[str, str], **params: Any
) -> list[dict[str, Any]]:
    response = await client.get(ALERTS, params=params, headers=headers)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items
