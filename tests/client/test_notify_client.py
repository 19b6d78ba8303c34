"""`client.notify` for rules, policies, schedules and maintenance without a server
(httpx.MockTransport): names resolved to ids, partial updates that keep every field (those
of a newer server too), and models that accept fields they do not know."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import httpx
import pytest

from loom.client import ApiError, LoomClient

RULE_ID = str(uuid.uuid4())
RULE = {
    "id": RULE_ID, "name": "critical", "team": None, "position": 10,
    "events": ["incident.opened"], "severities": ["critical"], "services": [],
    "environments": ["prod"], "channels": ["pager"], "policy": None, "stop": False,
    "enabled": True, "max_per_hour": 10, "created_by": "a@b.c",
    "created_at": "2026-11-27T10:00:00Z",
    # Conditions of a newer server than this client knows.
    "labels": {"team": "db"}, "time_of_day": {"from": "22:00", "to": "06:00"},
}  # fmt: skip


class FakeApi:
    """Answers the few calls these tests make, and records them."""

    def __init__(self) -> None:
        self.calls: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.calls.append(request)
        path = request.url.path.removeprefix("/api/v1")
        if request.method == "GET" and path == "/notify/rules":
            return httpx.Response(200, json={"items": [RULE], "next_cursor": None})
        if path == f"/notify/rules/{RULE_ID}":
            if request.method == "PUT":
                return httpx.Response(200, json={**RULE, **json.loads(request.content)})
            return httpx.Response(200, json=RULE)
        if request.method == "GET" and path == "/notify/policies":
            level = {"delay_minutes": 5, "channels": [], "schedules": ["db-oncall"]}
            policy = {"id": str(uuid.uuid4()), "name": "on-call", "levels": [level],
                      "repeat": 0, "created_at": "2026-11-27T10:00:00Z"}  # fmt: skip
            return httpx.Response(200, json={"items": [policy], "next_cursor": None})
        if request.url.raw_path == b"/api/v1/notify/schedules/db%20oncall/overrides":
            sent = json.loads(request.content)
            return httpx.Response(201, json={"id": str(uuid.uuid4()), **sent})
        return httpx.Response(404, json={"error": {"code": "NOT_FOUND", "message": "nope"}})


@pytest.fixture
def api() -> FakeApi:
    return FakeApi()


@pytest.fixture
def client(api: FakeApi) -> LoomClient:
    return LoomClient("http://loom.test", "loom_x", transport=httpx.MockTransport(api))


def test_update_rule_by_name_sends_back_every_field_but_the_servers(
    client: LoomClient, api: FakeApi
) -> None:
    changed = client.notify.update_rule("critical", enabled=False)
    assert changed.enabled is False
    put = api.calls[-1]
    assert (put.method, put.url.path) == ("PUT", f"/api/v1/notify/rules/{RULE_ID}")
    sent = json.loads(put.content)
    assert sent["enabled"] is False and sent["environments"] == ["prod"]
    assert sent["labels"] == {"team": "db"} and sent["time_of_day"]["from"] == "22:00"
    assert not {"id", "created_by", "created_at"} & set(sent)


def test_unknown_names_are_a_404_api_error(client: LoomClient) -> None:
    with pytest.raises(ApiError) as caught:
        client.notify.rule("nope")
    assert (caught.value.status, caught.value.message) == (404, "no rule named 'nope'")
    with pytest.raises(ApiError) as caught:
        client.notify.policy("nope")
    assert caught.value.status == 404


def test_policy_levels_keep_targets_the_client_does_not_know(client: LoomClient) -> None:
    (level,) = client.notify.policy("on-call").levels
    assert level.delay_minutes == 5 and level.channels == []
    assert level.model_extra == {"schedules": ["db-oncall"]}


def test_override_quotes_the_schedule_and_sends_iso_times(client: LoomClient, api: FakeApi) -> None:
    start = datetime(2026, 11, 28, 9, tzinfo=UTC)
    end = datetime(2026, 11, 28, 17, tzinfo=UTC)
    made = client.notify.add_override("db oncall", "ann@example.com", start, end)
    assert (made.user, made.starts_at, made.ends_at) == ("ann@example.com", start, end)
    sent = json.loads(api.calls[-1].content)
    assert sent == {"user": "ann@example.com", "starts_at": "2026-11-28T09:00:00Z",
                    "ends_at": "2026-11-28T17:00:00Z"}  # fmt: skip
