"""calls: the one HTTP call every integration action makes — the client of the named
integration, answers parsed, statuses checked only when asked, excerpts masked."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from pydantic import BaseModel

from loom.actions.base import ActionContext
from loom.actions.calls import body_excerpt, send
from loom.audit.masking import MASK
from loom.demo.fakes import FakeServer, Reply
from loom.platform.http import HttpClients
from loom.settings import Settings


class Empty(BaseModel):
    pass


@pytest.fixture
def server() -> Iterator[FakeServer]:
    with FakeServer() as fake:
        yield fake


@pytest.fixture
async def ctx() -> AsyncIterator[ActionContext[Empty]]:
    settings = Settings(env="test", allowed_hosts=["127.0.0.1"])
    http = HttpClients.from_settings(settings)
    yield ActionContext(
        request_id=uuid.uuid4(),
        task_id=uuid.uuid4(),
        attempt=1,
        config=Empty(),
        http=http,
        settings=settings,
        secrets={"pat": "ghp_abcdef123456"},
    )
    await http.aclose()


async def test_without_expected_statuses_any_answer_is_returned(
    server: FakeServer, ctx: ActionContext[Empty]
) -> None:
    server.route("GET", "/repos/acme/x", Reply(404, json={"message": "Not Found"}))
    result = await send(ctx, "github:main", "GET", server.url + "/repos/acme/x")
    assert (result.status, result.body) == (404, {"message": "Not Found"})
    assert result.headers["content-type"] == "application/json"
    assert list(ctx.http.breaker_states()) == [f"github:main 127.0.0.1:{server.port}"]


async def test_a_body_that_claims_json_but_is_not_stays_text(
    server: FakeServer, ctx: ActionContext[Empty]
) -> None:
    server.route(
        "GET", "/x", Reply(body="<html>oops", headers={"Content-Type": "application/json"})
    )
    result = await send(ctx, "rest-api", "GET", server.url + "/x")
    assert result.body == "<html>oops"


def test_excerpts_mask_secret_keys_and_known_values(ctx: ActionContext[Empty]) -> None:
    body: Any = {"message": "Bad credentials ghp_abcdef123456", "api_key": "zzz", "n": [1, 2]}
    assert body_excerpt(ctx, body) == (
        f'{{"message": "Bad credentials {MASK}", "api_key": "{MASK}", "n": [1, 2]}}'
    )
    assert body_excerpt(ctx, "line one\n\n   line two\t") == "line one line two"
    assert body_excerpt(ctx, "") == "(empty body)"
    cut = body_excerpt(ctx, "y" * 1000)
    assert len(cut) == 300 and cut.endswith("…")
