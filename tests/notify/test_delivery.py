"""Delivery of notifications through the queue: a test message, retries with back-off
(and the remote's Retry-After), dead deliveries, one channel failing beside another, an
attempt never made twice, and each attempt in the notification log."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import FastAPI

from loom.demo.fakes.server import FakeServer, Reply
from tests.notify.conftest import Notifier

CHANNELS = "/api/v1/notify/channels"
LOG = "/api/v1/notify/notifications"


async def make_channel(
    client: httpx.AsyncClient, headers: dict[str, str], url: str, name: str = "ops-hook",
    **extra: Any,
) -> dict[str, Any]:  # fmt: skip
    body = {"name": name, "kind": "webhook", "config": {"url": url}, **extra}
    response = await client.post(CHANNELS, json=body, headers=headers)
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()
    return data


async def send_test(client: httpx.AsyncClient, headers: dict[str, str], channel: str) -> str:
    response = await client.post(f"{CHANNELS}/{channel}/test", headers=headers)
    assert response.status_code == 202, response.text
    return str(response.json()["delivery_id"])


async def attempts(
    client: httpx.AsyncClient, headers: dict[str, str], delivery: str
) -> list[dict[str, Any]]:
    response = await client.get(LOG, params={"delivery": delivery}, headers=headers)
    assert response.status_code == 200, response.text
    return sorted(response.json()["items"], key=lambda r: r["attempt"])


async def test_a_test_message_goes_through_the_queue_and_is_logged(
    app: FastAPI, client: httpx.AsyncClient, admin_headers: dict[str, str],
    notifier: Notifier, fake: FakeServer,
) -> None:  # fmt: skip
    fake.route("POST", "/hook", Reply(200, body="accepted"))
    channel = await make_channel(client, admin_headers, fake.url + "/hook")
    delivery = await send_test(client, admin_headers, channel["id"])
    assert fake.calls == []  # never sent inside the API request
    assert await notifier.run() == 1
    assert [c.path for c in fake.calls] == ["/hook"]
    (row,) = await attempts(client, admin_headers, delivery)
    assert row["status"] == "sent" and row["attempt"] == 1 and row["http_status"] == 200
    assert row["channel"] == "ops-hook" and row["event"] == "test"
    assert row["target"] == f"127.0.0.1:{fake.port}"


async def test_a_transient_failure_is_retried_after_a_back_off(
    app: FastAPI, client: httpx.AsyncClient, admin_headers: dict[str, str],
    notifier: Notifier, fake: FakeServer,
) -> None:  # fmt: skip
    fake.route("POST", "/hook", Reply(503, body="try later"))
    channel = await make_channel(client, admin_headers, fake.url + "/hook")
    delivery = await send_test(client, admin_headers, channel["id"])
    await notifier.run()
    fake.route("POST", "/hook", Reply(200))
    assert await notifier.run() == 0  # the next attempt waits for its back-off (2 s)
    notifier.clock.advance(2.5)
    assert await notifier.run() == 1
    first, second = await attempts(client, admin_headers, delivery)
    assert (first["status"], first["http_status"], first["response"]) == (
        "retrying",
        503,
        "try later",
    )
    assert (second["status"], second["attempt"]) == ("sent", 2)
    assert len(fake.calls) == 2


async def test_retry_after_is_honoured(
    app: FastAPI, client: httpx.AsyncClient, admin_headers: dict[str, str],
    notifier: Notifier, fake: FakeServer,
) -> None:  # fmt: skip
    fake.route("POST", "/hook", Reply(429, headers={"Retry-After": "30"}))
    channel = await make_channel(client, admin_headers, fake.url + "/hook")
    await send_test(client, admin_headers, channel["id"])
    await notifier.run()
    fake.route("POST", "/hook", Reply(200))
    notifier.clock.advance(20)
    assert await notifier.run() == 0
    notifier.clock.advance(11)
    assert await notifier.run() == 1


async def test_a_permanent_failure_is_dead_at_once(
    app: FastAPI, client: httpx.AsyncClient, admin_headers: dict[str, str],
    notifier: Notifier, fake: FakeServer,
) -> None:  # fmt: skip
    fake.route("POST", "/hook", Reply(404, body="no such hook"))
    channel = await make_channel(client, admin_headers, fake.url + "/hook")
    delivery = await send_test(client, admin_headers, channel["id"])
    await notifier.run()
    notifier.clock.advance(1000)
    assert await notifier.run() == 0
    (row,) = await attempts(client, admin_headers, delivery)
    assert row["status"] == "dead" and row["http_status"] == 404
    dead = await client.get(LOG, params={"status": "dead"}, headers=admin_headers)
    assert [r["delivery_id"] for r in dead.json()["items"]] == [delivery]


async def test_the_last_attempt_of_a_failing_channel_is_dead(
    app: FastAPI, client: httpx.AsyncClient, admin_headers: dict[str, str],
    notifier: Notifier, fake: FakeServer,
) -> None:  # fmt: skip
    fake.route("POST", "/hook", Reply(500))
    channel = await make_channel(client, admin_headers, fake.url + "/hook")
    delivery = await send_test(client, admin_headers, channel["id"])
    for _ in range(10):
        await notifier.run()
        notifier.clock.advance(301)
    rows = await attempts(client, admin_headers, delivery)
    attempts_allowed = app.state.runtime.settings.notify.max_attempts
    assert [r["status"] for r in rows] == ["retrying"] * (attempts_allowed - 1) + ["dead"]
    # Each attempt called out, but those the circuit breaker refused once the host had
    # failed often enough.
    assert 1 < len(fake.calls) <= attempts_allowed


async def test_a_failing_channel_does_not_hold_up_another(
    app: FastAPI, client: httpx.AsyncClient, admin_headers: dict[str, str],
    notifier: Notifier, fake: FakeServer,
) -> None:  # fmt: skip
    fake.route("POST", "/down", Reply(500))
    fake.route("POST", "/up", Reply(200))
    down = await make_channel(client, admin_headers, fake.url + "/down", name="down")
    up = await make_channel(client, admin_headers, fake.url + "/up", name="up")
    failing = await send_test(client, admin_headers, down["id"])
    working = await send_test(client, admin_headers, up["id"])
    await notifier.run()
    assert [r["status"] for r in await attempts(client, admin_headers, working)] == ["sent"]
    assert [r["status"] for r in await attempts(client, admin_headers, failing)] == ["retrying"]


async def test_an_attempt_already_logged_is_not_made_again(
    app: FastAPI, client: httpx.AsyncClient, admin_headers: dict[str, str],
    notifier: Notifier, fake: FakeServer,
) -> None:  # fmt: skip
    """A consumer that crashed after committing its attempt but before deleting the
    message gets it again: the attempt is not repeated."""
    from loom.notify.consumer import NotifyConsumers

    fake.route("POST", "/hook", Reply(200))
    channel = await make_channel(client, admin_headers, fake.url + "/hook")
    delivery = await send_test(client, admin_headers, channel["id"])
    (message,) = await notifier.queue.receive(1, 60)
    consumers = NotifyConsumers(app.state.runtime)
    await consumers.process(message)
    await consumers.process(message)  # the same delivery once more
    assert len(fake.calls) == 1
    assert len(await attempts(client, admin_headers, delivery)) == 1


async def test_mail_goes_only_to_an_allowed_smtp_host(
    app: FastAPI, client: httpx.AsyncClient, admin_headers: dict[str, str], notifier: Notifier
) -> None:
    body = {"name": "mail", "kind": "email", "config": {
        "host": "smtp.example.com", "sender": "loom@example.com",
        "recipients": ["oncall@example.com"],
    }}  # fmt: skip
    made = await client.post(CHANNELS, json=body, headers=admin_headers)
    assert made.status_code == 201, made.text
    delivery = await send_test(client, admin_headers, made.json()["id"])
    await notifier.run()
    (row,) = await attempts(client, admin_headers, delivery)
    assert row["status"] == "dead" and "allowed_hosts" in row["error"]
