"""Fixtures of the JIRA tests, imported by them: a fake JIRA, settings naming it, the
HTTP client factory on a clock the test moves, and contexts of one task."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest
from pydantic import BaseModel

from loom.actions.base import ActionContext
from loom.demo.fakes.jira import FakeJira
from loom.platform.http import HttpClients
from loom.settings import Settings


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class NoConfig(BaseModel):
    pass


@pytest.fixture
def jira() -> Iterator[FakeJira]:
    with FakeJira() as fake:
        yield fake


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def jira_settings(fake: FakeJira, **instance: Any) -> Settings:
    """Settings with JIRA instance `main` at the fake (API token auth unless overridden);
    nothing in allowed_hosts: the instance's own host must be let through."""
    main = {"base_url": fake.url, "email": fake.email, "token": fake.token,
            "default_project": "OPS", **instance}  # fmt: skip
    return Settings(
        env="test",
        allowed_hosts=[],
        http={"breaker_failure_threshold": 3, "breaker_cooldown_seconds": 30},
        server={"public_url": "https://loom.acme.test"},
        integrations={"jira": {"main": main}},
    )


@pytest.fixture
def settings(jira: FakeJira) -> Settings:
    return jira_settings(jira)


@pytest.fixture
async def http(settings: Settings, clock: FakeClock) -> AsyncIterator[HttpClients]:
    clients = HttpClients.from_settings(settings, clock=clock)
    yield clients
    await clients.aclose()


MakeCtx = Callable[..., ActionContext[Any]]


def context(http: HttpClients, settings: Settings, **extra: Any) -> ActionContext[Any]:
    """A context of one task, for a test that builds its own settings."""
    values: dict[str, Any] = {
        "request_id": uuid.UUID(int=0xA1),
        "task_id": uuid.UUID(int=0xB2),
        "attempt": 1,
        "config": NoConfig(),
        "http": http,
        "settings": settings,
        "env": {},
        **extra,
    }
    return ActionContext(**values)


@pytest.fixture
def make_ctx(http: HttpClients, settings: Settings) -> MakeCtx:
    def make(config: BaseModel | None = None, **extra: Any) -> ActionContext[Any]:
        return context(http, settings, config=config or NoConfig(), **extra)

    return make
