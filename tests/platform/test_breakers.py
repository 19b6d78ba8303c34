"""Circuit breakers of outgoing calls, seen by operators: their state in the readiness
body (shown, never making Loom "not ready") and as `loom_http_circuit_state` metrics."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from loom.platform.http import http_clients
from tests.platform.test_metrics import value

JIRA = "jira:main"
HOST = "acme.atlassian.net"


def _open_a_breaker(app: FastAPI) -> None:
    runtime = app.state.runtime
    breaker = http_clients(runtime).breaker(JIRA, HOST)
    for _ in range(runtime.settings.http.breaker_failure_threshold):
        breaker.record_failure()
    http_clients(runtime).breaker("rest-api", "dns.internal.example")  # created closed


async def test_ready_shows_each_breaker_and_stays_ready_when_one_is_open(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    before = (await client.get("/api/v1/health/ready")).json()
    assert before["breakers"] == {}
    _open_a_breaker(app)
    response = await client.get("/api/v1/health/ready")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["breakers"] == {f"{JIRA} {HOST}": "open", "rest-api dns.internal.example": "closed"}


async def test_breaker_states_are_metrics(
    app: FastAPI, client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    _open_a_breaker(app)
    text = (await client.get("/metrics", headers=admin_headers)).text
    name = "loom_http_circuit_state"
    assert value(text, name, integration=JIRA, host=HOST, state="open") == 1
    assert value(text, name, integration=JIRA, host=HOST, state="closed") == 0
    assert value(text, name, integration=JIRA, host=HOST, state="half-open") == 0
    closed = {"integration": "rest-api", "host": "dns.internal.example", "state": "closed"}
    assert value(text, name, **closed) == 1
