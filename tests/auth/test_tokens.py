"""API tokens: shown once, stored hashed, scoped, expiring, revocable."""

from __future__ import annotations

import uuid
from datetime import timedelta

import httpx
from fastapi import FastAPI
from sqlalchemy import update

from loom.auth.models import ApiToken
from loom.auth.tokens import hash_token
from loom.db.types import utcnow
from tests.conftest import Tenant, bearer


async def _create(
    client: httpx.AsyncClient, headers: dict[str, str], **body: object
) -> httpx.Response:
    return await client.post("/api/v1/tokens", json={"name": "ci", **body}, headers=headers)


async def test_token_is_shown_once_and_stored_hashed(
    app: FastAPI, client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    created = await _create(client, admin_headers, scopes=["read"])
    assert created.status_code == 201
    secret = created.json()["token"]
    assert secret.startswith("loom_") and len(secret) > 40
    listed = (await client.get("/api/v1/tokens", headers=admin_headers)).json()["items"]
    assert all("token" not in t for t in listed)
    assert created.json()["prefix"] in {t["prefix"] for t in listed}
    async with app.state.runtime.sessions() as s:
        stored = await s.get(ApiToken, uuid.UUID(created.json()["id"]))
    assert stored is not None
    assert stored.token_hash == hash_token(secret) and secret not in stored.token_hash
    me = await client.get("/api/v1/me", headers=bearer(secret))
    assert me.status_code == 200 and me.json()["scopes"] == ["read"]


async def test_read_scope_cannot_mutate(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    secret = (await _create(client, admin_headers, scopes=["read"])).json()["token"]
    response = await _create(client, bearer(secret))
    assert response.status_code == 403
    assert "write" in response.json()["error"]["message"]


async def test_cannot_grant_admin_scope_without_admin_role(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    response = await _create(client, tenant.headers["admin-a"], scopes=["admin"])
    assert response.status_code == 422
    assert response.json()["error"]["details"][0]["field"] == "scopes"


async def test_revoked_token_stops_working(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    created = (await _create(client, admin_headers)).json()
    assert (await client.get("/api/v1/me", headers=bearer(created["token"]))).status_code == 200
    revoked = await client.delete(f"/api/v1/tokens/{created['id']}", headers=admin_headers)
    assert revoked.status_code == 204
    after = await client.get("/api/v1/me", headers=bearer(created["token"]))
    assert after.status_code == 401


async def test_expired_token_is_refused(
    app: FastAPI, client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    created = (await _create(client, admin_headers, expires_in_days=1)).json()
    async with app.state.runtime.sessions() as s, s.begin():
        await s.execute(
            update(ApiToken)
            .where(ApiToken.prefix == created["prefix"])
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
    response = await client.get("/api/v1/me", headers=bearer(created["token"]))
    assert response.status_code == 401


async def test_cannot_revoke_someone_elses_token(client: httpx.AsyncClient, tenant: Tenant) -> None:
    theirs = (await _create(client, tenant.headers["viewer-b"])).json()
    response = await client.delete(
        f"/api/v1/tokens/{theirs['id']}", headers=tenant.headers["admin-a"]
    )
    assert response.status_code == 404
    still = await client.get("/api/v1/me", headers=bearer(theirs["token"]))
    assert still.status_code == 200


async def test_bad_expiry_names_the_field(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    response = await _create(client, admin_headers, expires_in_days=0)
    assert response.status_code == 422
    assert response.json()["error"]["details"][0]["field"] == "expires_in_days"


async def test_default_lifetime_applies_unless_no_expiry_is_asked(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    default = (await _create(client, admin_headers)).json()
    assert default["expires_at"] is not None
    days = (await client.get("/api/v1/tokens", headers=admin_headers)).json()["items"][0][
        "expires_at"
    ]
    assert days == default["expires_at"]
    forever = (await _create(client, admin_headers, expires_in_days=None)).json()
    assert forever["expires_at"] is None


async def test_token_list_pages_and_hides_revoked_on_request(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    ids = [(await _create(client, admin_headers, name=f"t{i}")).json()["id"] for i in range(3)]
    await client.delete(f"/api/v1/tokens/{ids[0]}", headers=admin_headers)
    first = (await client.get("/api/v1/tokens", params={"limit": 2}, headers=admin_headers)).json()
    assert len(first["items"]) == 2 and first["next_cursor"]
    live = await client.get(
        "/api/v1/tokens", params={"include_revoked": "false", "limit": 100}, headers=admin_headers
    )
    assert ids[0] not in {t["id"] for t in live.json()["items"]}
