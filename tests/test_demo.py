"""Demo data loads once, into an empty database only; its approver signs in with the
password printed (once) at that first start."""

from __future__ import annotations

import re

import httpx
import pytest
from fastapi import FastAPI

from loom.app import create_app, prepare_database
from loom.demo import APPROVER
from loom.settings import Settings
from tests.conftest import ADMIN_EMAIL, bearer, make_settings, token_for


async def test_demo_data_loads_on_first_start_only(
    database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    settings: Settings = make_settings(database_url, demo_data=True)
    app: FastAPI = create_app(settings, background=False)
    async with app.router.lifespan_context(app):
        printed = capsys.readouterr().err
        await prepare_database(app.state.runtime)  # a second start must not seed again
        assert "Demo approver" not in capsys.readouterr().err
        headers = bearer(await token_for(app, ADMIN_EMAIL))
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            teams = (await client.get("/api/v1/teams", headers=headers)).json()["items"]
            users = (await client.get("/api/v1/users", headers=headers)).json()["items"]
            password = re.search(rf"{APPROVER[0]} .*\n  password \(shown once\): (\S+)", printed)
            assert password, printed
            login = {"email": APPROVER[0], "password": password[1]}
            session = await client.post("/api/v1/auth/login", json=login)
            wrong = await client.post("/api/v1/auth/login", json={**login, "password": "nope"})
    slugs = [t["slug"] for t in teams]
    assert sorted(slugs) == ["checkout", "data", "payments", "platform", "search"]
    emails = {u["email"] for u in users}
    assert {"alice@loom.local", "bob@loom.local", "carol@loom.local", APPROVER[0]} <= emails
    assert session.status_code == 200, session.text
    assert wrong.status_code == 401
