"""Demo data loads once, into an empty database only."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from loom.app import create_app, prepare_database
from loom.settings import Settings
from tests.conftest import ADMIN_EMAIL, bearer, make_settings, token_for


async def test_demo_data_loads_on_first_start_only(database_url: str) -> None:
    settings: Settings = make_settings(database_url, demo_data=True)
    app: FastAPI = create_app(settings, background=False)
    async with app.router.lifespan_context(app):
        await prepare_database(app.state.runtime)  # a second start must not seed again
        headers = bearer(await token_for(app, ADMIN_EMAIL))
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            teams = (await client.get("/api/v1/teams", headers=headers)).json()["items"]
            users = (await client.get("/api/v1/users", headers=headers)).json()["items"]
    slugs = [t["slug"] for t in teams]
    assert sorted(slugs) == ["checkout", "data", "payments", "platform", "search"]
    assert {"alice@loom.local", "bob@loom.local", "carol@loom.local"} <= {u["email"] for u in users}
