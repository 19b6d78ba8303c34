"""Helpers for the health check tests: settings that allow the local target, a clock
the tests move, a local HTTP target, and checks registered over the API."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import update

from loom.demo.fakes.server import FakeServer, RecordedCall, Reply
from loom.services.check_models import ServiceCheck
from loom.settings import Settings
from tests.conftest import make_settings
from tests.services.support import SERVICES, register

T0 = datetime(2026, 11, 27, 12, 0, 0, tzinfo=UTC)


def check_settings(database_url: str, **health: Any) -> Settings:
    return make_settings(
        database_url,
        allowed_hosts=["127.0.0.1"],
        health_checks={"concurrency": 50, **health},
    )


class Clock:
    """A clock the test sets: `clock()` is its time."""

    def __init__(self, at: datetime = T0) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at

    def advance(self, seconds: float) -> None:
        self.at += timedelta(seconds=seconds)


class Concurrency:
    """A handler that answers after `delay` and records how many calls overlapped."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.now = 0
        self.most = 0
        self._lock = threading.Lock()

    def __call__(self, _call: RecordedCall) -> Reply:
        with self._lock:
            self.now += 1
            self.most = max(self.most, self.now)
        time.sleep(self.delay)
        with self._lock:
            self.now -= 1
        return Reply(json={"status": "ok"})


@pytest.fixture
def target() -> Iterator[FakeServer]:
    with FakeServer() as server:
        server.route("GET", "/healthy", Reply(json={"status": "ok", "db": {"up": [True]}}))
        server.route("HEAD", "/healthy", Reply())
        server.route("GET", "/broken", Reply(503, json={"status": "down"}))
        server.route("GET", "/slow", Reply(json={"status": "ok"}, delay=0.3))
        yield server


async def add_check(
    client: httpx.AsyncClient, auth: dict[str, str], slug: str, url: str, **fields: Any
) -> dict[str, Any]:
    """Add a check (`fields` may include the check's own `headers`)."""
    body = {"name": fields.pop("name", url.rsplit("/", 1)[-1] or "root"), "url": url, **fields}
    response = await client.post(f"{SERVICES}/{slug}/checks", json=body, headers=auth)
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()
    return data


async def service_with_checks(
    client: httpx.AsyncClient, headers: dict[str, str], slug: str, urls: list[str], **fields: Any
) -> list[dict[str, Any]]:
    await register(client, headers, slug)
    return [
        await add_check(client, headers, slug, url, name=f"check-{i}", **fields)
        for i, url in enumerate(urls)
    ]


async def set_next_run(app: FastAPI, at: datetime) -> None:
    async with app.state.runtime.sessions() as s, s.begin():
        await s.execute(update(ServiceCheck).values(next_run_at=at))
