"""Fixtures of the demo's tests: a clock the demo's ticker reads (so nothing moves until a
test says so), and the app `make serve` runs: demo data, demo integrations and the
sample catalog, synced, then the registry's demo deployments and checks, with API
clients for the admin and the demo approver."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from loom.app import create_app
from loom.catalog.sync import sync
from loom.demo import APPROVER, EXTRAS_KEY, registry
from loom.demo.integrations import DemoIntegrations
from loom.platform.runtime import Runtime
from tests.conftest import ADMIN_EMAIL, bearer, make_settings, token_for

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "catalog"


class Clock:
    """Monotonic seconds that move only when the test moves them."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Demo:
    app: FastAPI
    runtime: Runtime
    integrations: DemoIntegrations
    clock: Clock
    admin: httpx.AsyncClient
    approver: httpx.AsyncClient

    def tick(self, seconds: float) -> None:
        """Let `seconds` pass for the demo's ticker, then let it do its round."""
        self.clock.now += seconds
        self.integrations.ticker.tick()


def api_client(app: FastAPI, token: str) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app)
    return httpx.AsyncClient(
        transport=transport, base_url="http://loom.test", headers=bearer(token)
    )


@pytest.fixture
async def demo(database_url: str) -> AsyncIterator[Demo]:
    settings = make_settings(database_url, demo_data=True, catalog={"source": str(EXAMPLES)})
    app = create_app(settings, background=False)
    async with app.router.lifespan_context(app):
        runtime = app.state.runtime
        record = await sync(runtime, trigger="test")
        assert record.status == "ok", record.problems
        await registry.seed(runtime)  # what `make serve` does after its initial sync
        integrations = runtime.extras[EXTRAS_KEY]
        clock = Clock()
        integrations.ticker.clock = clock  # the background ticker too: nothing moves by itself
        async with (
            api_client(app, await token_for(app, ADMIN_EMAIL)) as admin,
            api_client(app, await token_for(app, APPROVER[0])) as approver,
        ):
            yield Demo(app, runtime, integrations, clock, admin, approver)
