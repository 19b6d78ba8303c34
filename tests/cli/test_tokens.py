"""`loom token create|list|revoke` against the live server."""

from __future__ import annotations

import json
import uuid

import pytest

from loom.client import ApiError, LoomClient
from tests.cli.conftest import LoggedIn, run

pytestmark = pytest.mark.sqlite_only


def test_create_list_revoke_round_trip(
    logged_in: LoggedIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    created = run(
        "token", "create", "ci-deploy", "--scope", "read", "--expires-in-days", "7", "-o", "json"
    )
    data = json.loads(created.stdout)
    assert data["name"] == "ci-deploy"
    assert data["scopes"] == ["read"]
    assert data["token"].startswith("loom_")
    assert "not shown again" in created.stderr

    listed = json.loads(run("token", "list", "-o", "json").stdout)
    mine = [t for t in listed if t["id"] == data["id"]]
    assert len(mine) == 1 and mine[0]["revoked_at"] is None
    assert "token" not in mine[0]

    with LoomClient(logged_in.url, data["token"]) as client:
        assert client.identity.me().scopes == ["read"]
        assert f"revoked token {data['id']}" in run("token", "revoke", data["id"]).stdout
        with pytest.raises(ApiError) as caught:
            client.identity.me()
    assert caught.value.status == 401

    listed = json.loads(run("token", "list", "-o", "json").stdout)
    assert next(t for t in listed if t["id"] == data["id"])["revoked_at"] is not None

    monkeypatch.setenv("LOOM_TOKEN", data["token"])
    result = run("whoami", code=1)
    assert "error: invalid, expired or revoked API token (UNAUTHENTICATED" in result.stderr


def test_create_prints_the_secret_once_in_table_mode(logged_in: LoggedIn) -> None:
    result = run("token", "create", "laptop")
    secret_lines = [line for line in result.stdout.splitlines() if line.startswith("token: ")]
    assert len(secret_lines) == 1
    secret = secret_lines[0].removeprefix("token: ")
    with LoomClient(logged_in.url, secret) as client:
        assert client.identity.me().scopes == ["read", "write"]
    assert secret not in run("token", "list").stdout


def test_revoking_an_unknown_token_is_an_api_error(logged_in: LoggedIn) -> None:
    result = run("token", "revoke", str(uuid.uuid4()), code=1)
    assert result.stderr.startswith("error: token not found (NOT_FOUND, correlation id ")
    assert result.stdout == ""


def test_a_bad_token_id_is_named(logged_in: LoggedIn) -> None:
    result = run("token", "revoke", "not-a-uuid", code=1)
    assert "VALIDATION_ERROR" in result.stderr
    assert "token_id" in result.stderr


def test_an_unknown_scope_is_refused_before_any_request() -> None:
    result = run("token", "create", "x", "--scope", "root", code=2)
    assert "root" in result.stderr


def test_the_server_refuses_a_scope_the_caller_lacks(
    logged_in: LoggedIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    reader = json.loads(run("token", "create", "reader", "-s", "read", "-o", "json").stdout)
    monkeypatch.setenv("LOOM_TOKEN", reader["token"])
    result = run("token", "create", "escalate", "-s", "write", code=1)
    assert "write" in result.stderr and "correlation id" in result.stderr
