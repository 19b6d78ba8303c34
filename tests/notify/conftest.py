"""Fixtures of the notify tests: settings that let calls reach local fakes, the
notifications queue on a clock the test moves, and a way to run its consumers."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pytest
from fastapi import FastAPI

from loom.db.types import utcnow
from loom.demo.fakes.server import FakeServer
from loom.notify.consumer import NotifyConsumers
from loom.notify.delivery import NOTIFY_QUEUE
from loom.queue.sql import SqlQueue
from loom.settings import Settings
from tests.conftest import make_settings


@dataclass
class Clock:
    moment: datetime = field(default_factory=utcnow)

    def __call__(self) -> datetime:
        return self.moment

    def advance(self, seconds: float) -> None:
        self.moment += timedelta(seconds=seconds)


@pytest.fixture
def settings(database_url: str) -> Settings:
    return make_settings(database_url, allowed_hosts=["127.0.0.1"])


@pytest.fixture
def clock() -> Clock:
    return Clock()


@dataclass
class Notifier:
    """The app's notifications queue (on `clock`) and its consumers, run on demand."""

    app: FastAPI
    queue: SqlQueue
    clock: Clock

    async def run(self) -> int:
        """Process every message due now; how many attempts were made."""
        consumers = NotifyConsumers(self.app.state.runtime)
        made = 0
        while messages := await self.queue.receive(10, 60):
            for message in messages:
                await consumers.process(message)
                made += 1
        return made


@pytest.fixture
def notifier(app: FastAPI, clock: Clock) -> Notifier:
    runtime = app.state.runtime
    queue = SqlQueue(runtime.sessions, NOTIFY_QUEUE, now=clock)
    runtime.extras.setdefault("queues", {})[NOTIFY_QUEUE] = queue
    return Notifier(app, queue, clock)


@pytest.fixture
def fake() -> Iterator[FakeServer]:
    with FakeServer() as server:
        yield server
