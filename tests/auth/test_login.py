"""Password login sets the signed session cookie; bad credentials do not."""

from __future__ import annotations

import httpx

from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD


async def test_login_sets_session_that_authenticates(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/v1/auth/login", json={"email": ADMIN_EMAIL.upper(), "password": ADMIN_PASSWORD}
    )
    assert response.status_code == 200
    cookie = response.headers["set-cookie"]
    assert (
        "loom_session=" in cookie
        and "httponly" in cookie.lower()
        and "samesite=lax" in cookie.lower()
    )
    me = await client.get("/api/v1/me")
    assert (
        me.status_code == 200
        and me.json()["email"] == ADMIN_EMAIL
        and me.json()["via"] == "session"
    )
    await client.post("/api/v1/auth/logout")
    assert (await client.get("/api/v1/me")).status_code == 401


async def test_wrong_password_and_unknown_user_look_the_same(client: httpx.AsyncClient) -> None:
    wrong = await client.post("/api/v1/auth/login", json={"email": ADMIN_EMAIL, "password": "nope"})
    unknown = await client.post("/api/v1/auth/login", json={"email": "x@y.z", "password": "nope"})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json()["error"]["message"] == unknown.json()["error"]["message"]
    assert "set-cookie" not in wrong.headers


async def test_forged_session_cookie_is_ignored(client: httpx.AsyncClient) -> None:
    client.cookies.set("loom_session", "eyJ1aWQiOiAiMSJ9.forged.signature")
    assert (await client.get("/api/v1/me")).status_code == 401


async def test_login_missing_field_is_named(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/v1/auth/login", json={"email": ADMIN_EMAIL})
    assert response.status_code == 422
    assert response.json()["error"]["details"][0]["field"] == "password"


async def test_repeated_failures_lock_the_account_for_a_while(client: httpx.AsyncClient) -> None:
    for _ in range(5):
        wrong = await client.post(
            "/api/v1/auth/login", json={"email": ADMIN_EMAIL, "password": "x"}
        )
        assert wrong.status_code == 401
    locked = await client.post(
        "/api/v1/auth/login", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}
    )
    assert locked.status_code == 429
    assert locked.json()["error"]["code"] == "RATE_LIMITED"
    other = await client.post("/api/v1/auth/login", json={"email": "x@y.z", "password": "x"})
    assert other.status_code == 401  # other accounts are unaffected
