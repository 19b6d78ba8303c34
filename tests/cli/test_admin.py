"""`loom admin set-password`: the local recovery path for a lost password."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from tests.cli.conftest import run
from tests.conftest import ADMIN_EMAIL


async def _login(app: FastAPI, password: str) -> int:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        response = await client.post(
            "/api/v1/auth/login", json={"email": ADMIN_EMAIL, "password": password}
        )
    return response.status_code


@pytest.fixture
def local_db(app: FastAPI, database_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("LOOM_DATABASE_URL", database_url)
    return database_url


async def test_set_password_lets_the_admin_back_in(app: FastAPI, local_db: str) -> None:
    import asyncio

    new = "a-new-password-9"
    result = await asyncio.to_thread(
        run, "admin", "set-password", ADMIN_EMAIL, input=f"{new}\n{new}\n"
    )
    assert f"password set for {ADMIN_EMAIL}" in result.stdout
    assert await _login(app, new) == 200


async def test_short_password_and_unknown_user_are_refused(app: FastAPI, local_db: str) -> None:
    import asyncio

    short = await asyncio.to_thread(
        run, "admin", "set-password", ADMIN_EMAIL, "--password", "short", code=1
    )
    assert "at least 8" in short.stderr
    unknown = await asyncio.to_thread(
        run, "admin", "set-password", "nobody@x.y", "--password", "long-enough-1", code=1
    )
    assert "no user" in unknown.stderr
