"""Idempotency-Key: a repeated POST returns the first result; a different body conflicts."""

from __future__ import annotations

import httpx
from fastapi import FastAPI
from sqlalchemy import select

from loom.api.idempotency import IdempotencyRecord
from tests.conftest import Tenant


async def test_repeat_returns_first_result_and_creates_once(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    headers = {**admin_headers, "Idempotency-Key": "k-1"}
    first = await client.post("/api/v1/tokens", json={"name": "once"}, headers=headers)
    again = await client.post("/api/v1/tokens", json={"name": "once"}, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    tokens = (await client.get("/api/v1/tokens", headers=admin_headers)).json()["items"]
    assert [t["name"] for t in tokens].count("once") == 1


async def test_same_key_different_body_is_conflict(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    headers = {**admin_headers, "Idempotency-Key": "k-2"}
    await client.post("/api/v1/tokens", json={"name": "a"}, headers=headers)
    response = await client.post("/api/v1/tokens", json={"name": "b"}, headers=headers)
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "IDEMPOTENCY_CONFLICT"


async def test_keys_are_scoped_to_the_caller(client: httpx.AsyncClient, tenant: Tenant) -> None:
    body = {"name": "mine"}
    a = await client.post(
        "/api/v1/tokens",
        json=body,
        headers={**tenant.headers["viewer-a"], "Idempotency-Key": "same"},
    )
    b = await client.post(
        "/api/v1/tokens",
        json=body,
        headers={**tenant.headers["viewer-b"], "Idempotency-Key": "same"},
    )
    assert a.status_code == b.status_code == 201
    assert a.json()["id"] != b.json()["id"]


async def test_validation_errors_are_replayed_too(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    headers = {**admin_headers, "Idempotency-Key": "k-3"}
    first = await client.post("/api/v1/tokens", json={"name": ""}, headers=headers)
    again = await client.post("/api/v1/tokens", json={"name": ""}, headers=headers)
    assert first.status_code == again.status_code == 422


async def test_stored_response_does_not_reveal_the_token(
    app: FastAPI, client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    response = await client.post(
        "/api/v1/tokens",
        json={"name": "secret"},
        headers={**admin_headers, "Idempotency-Key": "k-4"},
    )
    secret = response.json()["token"]
    async with app.state.runtime.sessions() as s:
        rows = (await s.scalars(select(IdempotencyRecord))).all()
    assert rows and all(secret not in (r.response_body or "") for r in rows)


async def test_oversized_key_is_refused(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    response = await client.post(
        "/api/v1/tokens",
        json={"name": "x"},
        headers={**admin_headers, "Idempotency-Key": "k" * 300},
    )
    assert response.status_code == 400


async def test_the_record_exists_before_the_client_has_the_answer(
    app: FastAPI, admin_headers: dict[str, str]
) -> None:
    """A client repeating the key the moment it has the first answer must get the replay,
    so the record is stored before the last byte of the response goes out."""
    body = b'{"name": "fast"}'
    headers = [(k.lower().encode(), v.encode()) for k, v in admin_headers.items()]
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
        "scheme": "http", "path": "/api/v1/tokens", "raw_path": b"/api/v1/tokens",
        "query_string": b"", "root_path": "", "client": ("127.0.0.1", 1), "server": ("t", 80),
        "headers": [*headers, (b"content-type", b"application/json"), (b"idempotency-key", b"k-fast")],
    }  # fmt: skip
    stored_when_sent: list[object] = []

    async def receive() -> dict[str, object]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, object]) -> None:
        if message["type"] == "http.response.body" and not message.get("more_body"):
            async with app.state.runtime.sessions() as s:
                stored_when_sent.extend(
                    (await s.scalars(select(IdempotencyRecord.status_code))).all()
                )

    await app(scope, receive, send)
    assert stored_when_sent == [201]
