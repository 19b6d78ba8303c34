"""The HTTP core without a server (httpx.MockTransport): headers, error parsing, 503s."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from loom.client import ApiError, LoomClient, UnexpectedResponse
from loom.client.errors import FieldIssue

Handler = Callable[[httpx.Request], httpx.Response]


def client_for(handler: Handler, token: str | None = "loom_x") -> LoomClient:  # noqa: S107
    return LoomClient("http://loom.test/", token, transport=httpx.MockTransport(handler))


def test_requests_carry_token_correlation_id_and_api_prefix() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"status": "ok"})

    with client_for(handler) as client:
        client.platform.health()
    (request,) = seen
    assert request.url == "http://loom.test/api/v1/health"
    assert request.headers["authorization"] == "Bearer loom_x"
    assert request.headers["x-correlation-id"] == client.last_correlation_id


def test_no_authorization_header_without_a_token() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"status": "ok"})

    with client_for(handler, token=None) as client:
        client.platform.health()
    assert "authorization" not in seen[0].headers


def test_error_envelope_becomes_api_error() -> None:
    body = {
        "error": {
            "code": "VALIDATION_ERROR",
            "message": "invalid request: name: too short",
            "details": [{"field": "name", "issue": "too short"}],
            "correlation_id": "abc",
        }
    }
    reply = httpx.Response(422, json=body)
    with client_for(lambda r: reply) as client, pytest.raises(ApiError) as caught:
        client.identity.create_token("x")
    assert caught.value == ApiError(
        422,
        "VALIDATION_ERROR",
        "invalid request: name: too short",
        [FieldIssue("name", "too short")],
        "abc",
    )


def test_html_error_page_is_an_unexpected_response() -> None:
    page = httpx.Response(502, text="<html>Bad Gateway</html>", headers={"X-Correlation-ID": "p1"})
    with client_for(lambda r: page) as client, pytest.raises(UnexpectedResponse) as caught:
        client.identity.me()
    assert caught.value.status == 502
    assert "Bad Gateway" in caught.value.reason
    assert caught.value.correlation_id == "p1"


def test_body_of_the_wrong_shape_is_an_unexpected_response() -> None:
    reply = httpx.Response(200, json={"nope": 1})
    wrong_shape = pytest.raises(UnexpectedResponse, match="does not match Me")
    with client_for(lambda r: reply) as client, wrong_shape:
        client.identity.me()


def test_not_ready_503_is_an_answer_not_an_error() -> None:
    body = {"status": "fail", "checks": {"database": {"ok": False, "detail": "unreachable"}}}
    with client_for(lambda r: httpx.Response(503, json=body)) as client:
        readiness = client.platform.ready()
    assert readiness.ready is False
    assert readiness.checks["database"].detail == "unreachable"


def test_filters_and_cursor_are_query_parameters() -> None:
    from datetime import UTC, datetime

    from loom.client.audit import AuditFilter

    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"items": [], "next_cursor": None})

    since = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    with client_for(handler) as client:
        client.audit.list(AuditFilter(action="token.create", since=since), limit=5, cursor="c1")
    params = dict(seen[0].url.params)
    assert params == {
        "action": "token.create",
        "since": "2026-01-02T03:04:05+00:00",
        "limit": "5",
        "cursor": "c1",
    }


def test_unknown_response_fields_are_kept() -> None:
    body = {"version": "9.9.9", "python": "3.13", "database": "sqlite", "build": "abc"}
    with client_for(lambda r: httpx.Response(200, json=body)) as client:
        version = client.platform.version()
    assert version.model_dump()["build"] == "abc"
