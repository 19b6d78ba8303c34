"""Route templates: what metrics, spans and logs call a request."""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from starlette.types import Receive, Scope, Send

from loom.platform.routes import UNMATCHED, route_template


@pytest.fixture
def templates(app: FastAPI) -> tuple[httpx.AsyncClient, list[str]]:
    """A client whose every request records the template of the route it matched."""
    seen: list[str] = []

    async def recording(scope: Scope, receive: Receive, send: Send) -> None:
        await app(scope, receive, send)
        if scope["type"] == "http":
            seen.append(route_template(scope))

    transport = httpx.ASGITransport(app=recording)
    return httpx.AsyncClient(transport=transport, base_url="http://loom.test"), seen


@pytest.mark.sqlite_only
@pytest.mark.parametrize(
    ("method", "path", "template"),
    [
        ("GET", "/api/v1/health", "/api/v1/health"),
        ("GET", "/api/v1/teams/0b7f0a3e-0000-4000-8000-000000000001", "/api/v1/teams/{team_id}"),
        ("GET", "/api/v1/teams/42/members", "/api/v1/teams/{team_id}/members"),
        ("DELETE", "/api/v1/teams/42", "/api/v1/teams/{team_id}"),  # 405: the route exists
        ("GET", "/api/v1/openapi.json", "/api/v1/openapi.json"),  # a plain Starlette route
        ("GET", "/metrics", "/metrics"),
        ("GET", "/static/some/file.css", "/static/{path}"),  # a mount
        ("GET", "/no/such/thing", UNMATCHED),
    ],
)
async def test_template_names_the_route_not_the_raw_path(
    templates: tuple[httpx.AsyncClient, list[str]], method: str, path: str, template: str
) -> None:
    client, seen = templates
    async with client:
        await client.request(method, path)
    assert seen == [template]


def test_a_scope_that_was_never_routed_is_unmatched() -> None:
    scope: MutableMapping[str, Any] = {"type": "http", "path": "/x"}
    assert route_template(scope) == UNMATCHED
