"""Every failure answers in the one error envelope, with the right status and code."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from tests.conftest import Tenant


def assert_envelope(response: httpx.Response, status: int, code: str) -> dict[str, object]:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}
    error = body["error"]
    assert error["code"] == code
    assert isinstance(error["message"], str) and error["message"]
    assert isinstance(error["details"], list)
    assert error["correlation_id"] == response.headers["x-correlation-id"]
    return dict(error)


async def test_missing_route_is_404_envelope(client: httpx.AsyncClient) -> None:
    assert_envelope(await client.get("/api/v1/no-such-thing"), 404, "NOT_FOUND")


async def test_wrong_method_is_405_envelope(client: httpx.AsyncClient) -> None:
    assert_envelope(await client.delete("/api/v1/health"), 405, "METHOD_NOT_ALLOWED")


async def test_missing_token_is_401_envelope(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/me")
    assert_envelope(response, 401, "UNAUTHENTICATED")
    assert response.headers["www-authenticate"] == "Bearer"


async def test_unknown_token_is_401(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/me", headers={"Authorization": "Bearer loom_forged"})
    assert_envelope(response, 401, "UNAUTHENTICATED")


async def test_bad_json_body_is_400_envelope(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    response = await client.post(
        "/api/v1/tokens",
        content=b'{"name": "x", ',
        headers={**admin_headers, "Content-Type": "application/json"},
    )
    assert_envelope(response, 400, "INVALID_JSON")


async def test_invalid_field_names_the_field(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    response = await client.post(
        "/api/v1/tokens", json={"name": "ci", "scopes": ["root"]}, headers=admin_headers
    )
    error = assert_envelope(response, 422, "VALIDATION_ERROR")
    assert [d["field"] for d in error["details"]] == ["scopes[0]"]  # type: ignore[index]


async def test_unknown_body_field_is_rejected(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    response = await client.post(
        "/api/v1/tokens", json={"name": "ci", "colour": "red"}, headers=admin_headers
    )
    error = assert_envelope(response, 422, "VALIDATION_ERROR")
    assert error["details"][0]["field"] == "colour"  # type: ignore[index]


async def test_forbidden_team_change_is_envelope(client: httpx.AsyncClient, tenant: Tenant) -> None:
    response = await client.patch(
        f"/api/v1/teams/{tenant.team_a}",
        json={"name": "Renamed"},
        headers=tenant.headers["viewer-a"],
    )
    assert_envelope(response, 403, "FORBIDDEN")


async def test_bad_uuid_in_path_is_422(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    error = assert_envelope(
        await client.get("/api/v1/teams/not-a-uuid", headers=admin_headers), 422, "VALIDATION_ERROR"
    )
    assert error["details"][0]["field"] == "path.team_id"  # type: ignore[index]


async def test_unhandled_exception_is_500_envelope_without_trace(app: FastAPI) -> None:
    async def boom() -> None:
        raise RuntimeError("secret internals")

    app.add_api_route("/api/v1/_boom", boom)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        response = await c.get("/api/v1/_boom")
    error = assert_envelope(response, 500, "INTERNAL_ERROR")
    assert "secret internals" not in response.text
    assert "Traceback" not in response.text
    assert error["correlation_id"]


async def test_correlation_id_is_echoed(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/no-such", headers={"X-Correlation-ID": "req-42"})
    assert response.headers["x-correlation-id"] == "req-42"
    assert response.json()["error"]["correlation_id"] == "req-42"


@pytest.mark.parametrize("bad", ["", "x" * 200, "has space", "new\nline"])
async def test_unsafe_correlation_id_is_replaced(client: httpx.AsyncClient, bad: str) -> None:
    try:
        response = await client.get("/api/v1/health", headers={"X-Correlation-ID": bad})
    except httpx.LocalProtocolError:
        return  # the client itself refuses the header: nothing reaches the server
    assert response.headers["x-correlation-id"] != bad
    assert len(response.headers["x-correlation-id"]) == 32
