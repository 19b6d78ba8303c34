"""Fixtures for the platform tests: apps built with extra settings, and a second
process-like Runtime on the same database."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack

import httpx
import pytest
from fastapi import FastAPI

from loom.app import create_app
from loom.platform.runtime import Runtime
from loom.settings import Settings
from tests.conftest import make_settings

AppFactory = Callable[..., Awaitable[tuple[FastAPI, httpx.AsyncClient]]]


@pytest.fixture
async def make_app(database_url: str) -> AsyncIterator[AppFactory]:
    """Build an app on the test database with setting overrides; returns it and a client."""
    async with AsyncExitStack() as stack:

        async def build(**overrides: object) -> tuple[FastAPI, httpx.AsyncClient]:
            application = create_app(make_settings(database_url, **overrides), background=False)
            await stack.enter_async_context(application.router.lifespan_context(application))
            client = await stack.enter_async_context(
                httpx.AsyncClient(
                    transport=httpx.ASGITransport(app=application), base_url="http://loom.test"
                )
            )
            return application, client

        yield build


@pytest.fixture
async def replicas(settings: Settings) -> AsyncIterator[Callable[[int], list[Runtime]]]:
    """replicas(n): n Runtimes on the same (migrated) test database, each with its own
    engine and pool, as separate processes would have."""
    built: list[Runtime] = []

    def build(count: int) -> list[Runtime]:
        runtimes = [Runtime.build(settings) for _ in range(count)]
        built.extend(runtimes)
        return runtimes

    try:
        yield build
    finally:
        for runtime in built:
            await runtime.close()
