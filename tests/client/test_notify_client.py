"""`client.notify` for rules, policies, schedules, overrides, contact methods and
maintenance without a server (httpx.MockTransport): names resolved to ids, partial updates
that keep every field (those of a newer server too), and models that accept fields they do
not know."""

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


OVERRIDE = {"id": str(uuid.uuid4()), "user": "ann@example.com",
            "starts_at": "2026-11-28T09:00:00Z", "ends_at": "2026-11-28T17:00:00Z",
            "created_by": "bob@example.com", "reason": "a field of a newer server"}  # fmt: skip
CONTACT = {"id": str(uuid.uuid4()), "user": "ann@example.com", "kind": "slack",
           "address": "U0ANN", "channel": "slack-bot", "position": 0,
           "created_at": "2026-11-27T10:00:00Z"}  # fmt: skip


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
        quoted = request.url.raw_path.partition(b"?")[0]  # the path as sent (still quoted)
        if quoted == b"/api/v1/notify/schedules/db%20oncall/overrides":
            if request.method == "GET":
                return httpx.Response(200, json={"items": [OVERRIDE], "next_cursor": None})
            sent = json.loads(request.content)
            return httpx.Response(201, json={"id": str(uuid.uuid4()), **sent})
        if request.method == "DELETE":
            return httpx.Response(204)
        if path == "/notify/contact-methods":
            if request.method == "GET":
                return httpx.Response(200, json={"items": [CONTACT], "next_cursor": None})
            return httpx.Response(201, json={**CONTACT, **json.loads(request.content)})
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


def test_overrides_are_listed_with_include_past_and_removed_by_id(
    client: LoomClient, api: FakeApi
) -> None:
    (found,) = client.notify.overrides("db oncall")
    assert (found.user, found.created_by) == ("ann@example.com", "bob@example.com")
    assert found.model_extra == {"reason": "a field of a newer server"}
    assert api.calls[-1].url.params["include_past"] == "false"
    client.notify.overrides("db oncall", include_past=True)
    assert api.calls[-1].url.params["include_past"] == "true"
    client.notify.delete_override("db oncall", OVERRIDE["id"])
    removed = api.calls[-1]
    assert removed.method == "DELETE"
    assert removed.url.raw_path.decode() == (
        f"/api/v1/notify/schedules/db%20oncall/overrides/{OVERRIDE['id']}"
    )


def test_contact_methods_for_someone_and_created_with_the_fields_given(
    client: LoomClient, api: FakeApi
) -> None:
    (found,) = client.notify.contact_methods(user="ann@example.com")
    assert (found.kind, found.address, found.channel) == ("slack", "U0ANN", "slack-bot")
    assert api.calls[-1].url.params["user"] == "ann@example.com"
    client.notify.contact_methods()
    assert "user" not in api.calls[-1].url.params
    made = client.notify.create_contact_method("email", "ann@home.test", "mail")
    assert (made.kind, made.address) == ("email", "ann@home.test")
    # The server's defaults apply to what is not given (the caller, position 0).
    assert json.loads(api.calls[-1].content) == {"kind": "email", "address": "ann@home.test",
                                                 "channel": "mail"}  # fmt: skip
    client.notify.delete_contact_method(CONTACT["id"])
    assert (api.calls[-1].method, api.calls[-1].url.path) == (
        "DELETE", f"/api/v1/notify/contact-methods/{CONTACT['id']}",
    )  # fmt: skip
