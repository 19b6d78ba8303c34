"""Queue test fixtures: a `QueueHarness` over one backend, with a clock tests can move."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from loom.db.engine import create_sessionmaker
from loom.db.types import utcnow
from loom.queue.protocol import Queue
from loom.queue.sql import SqlQueue


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "not_on_sqs(reason): the contract test does not apply to the sqs backend"
    )
    config.addinivalue_line("markers", "postgres_only: runs on the PostgreSQL backend only")


@dataclass
class FakeClock:
    """A UTC clock that only moves when told to."""

    moment: datetime = field(default_factory=utcnow)

    def __call__(self) -> datetime:
        return self.moment

    def advance(self, seconds: float) -> None:
        self.moment += timedelta(seconds=seconds)


@dataclass
class QueueHarness:
    """One backend under test. `advance` moves the queue's clock (sql) or waits for real
    (sqs, whose clock is the server's: keep such waits to a second or two)."""

    backend: str
    queue: Queue
    clock: FakeClock | None = None
    sessions: async_sessionmaker[AsyncSession] | None = None
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def is_sqs(self) -> bool:
        return self.backend == "sqs"

    async def advance(self, seconds: float) -> None:
        if self.clock is not None:
            self.clock.advance(seconds)
        else:
            await asyncio.sleep(seconds)


@contextmanager
def moto_sqs() -> Iterator[Any]:
    """An SQS client inside moto's in-process mock of AWS."""
    boto3 = pytest.importorskip("boto3")
    moto = pytest.importorskip("moto")
    with moto.mock_aws():
        yield boto3.client(
            "sqs",
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )


def sql_harness(backend: str, engine: AsyncEngine, name: str = "tasks") -> QueueHarness:
    clock = FakeClock()
    sessions = create_sessionmaker(engine)
    return QueueHarness(backend, SqlQueue(sessions, name, now=clock), clock, sessions)
