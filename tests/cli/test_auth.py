"""`loom login`, `loom logout`, `loom whoami` and where the credentials come from."""

from __future__ import annotations

import json
import socket
import stat
from pathlib import Path

import pytest

from loom.client import ApiError, LoomClient
from tests.cli.conftest import LoggedIn, closed_port, run
from tests.client.conftest import mint_token
from tests.conftest import ADMIN_EMAIL, LiveServer

pytestmark = pytest.mark.sqlite_only


def test_password_login_stores_a_working_token(logged_in: LoggedIn) -> None:
    path = logged_in.credentials_file
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    stored = json.loads(path.read_text())
    assert stored["url"] == logged_in.url
    assert stored["email"] == ADMIN_EMAIL
    with LoomClient(logged_in.url, stored["token"]) as client:
        me = client.identity.me()
        names = {t.name for t in client.identity.list_tokens() if t.revoked_at is None}
    assert me.email == ADMIN_EMAIL
    assert me.scopes == ["admin", "read", "write"]
    assert f"cli@{socket.gethostname()}" in names


def test_password_prompt_is_hidden(live_server: LiveServer) -> None:
    result = run(
        "login", "--url", live_server.url, "--email", ADMIN_EMAIL, input="admin-password-1\n"
    )
    assert "admin-password-1" not in result.output
    assert f"logged in to {live_server.url} as {ADMIN_EMAIL}" in result.stdout


def test_whoami_uses_the_stored_credentials(logged_in: LoggedIn) -> None:
    data = json.loads(run("whoami", "-o", "json").stdout)
    assert data["email"] == ADMIN_EMAIL
    assert data["via"] == "token"


def test_wrong_password_exits_1_and_stores_nothing(
    live_server: LiveServer, cli_config_dir: Path
) -> None:
    result = run("login", "--url", live_server.url, "--email", ADMIN_EMAIL, input="wrong\n", code=1)
    assert "error: wrong email or password (UNAUTHENTICATED, correlation id " in result.stderr
    assert not (cli_config_dir / "credentials.json").exists()


def test_login_with_a_token_verifies_and_stores_it(
    live_server: LiveServer, cli_config_dir: Path
) -> None:
    token = mint_token(live_server.url)
    run("login", "--url", live_server.url, "--token", token)
    stored = json.loads((cli_config_dir / "credentials.json").read_text())
    assert stored["token"] == token
    assert stored["token_id"] is None


def test_login_with_a_bad_token_is_refused(live_server: LiveServer, cli_config_dir: Path) -> None:
    result = run("login", "--url", live_server.url, "--token", "loom_forged", code=1)
    assert "invalid, expired or revoked API token (UNAUTHENTICATED" in result.stderr
    assert not (cli_config_dir / "credentials.json").exists()


def test_logout_removes_credentials_and_revokes_the_minted_token(logged_in: LoggedIn) -> None:
    token = json.loads(logged_in.credentials_file.read_text())["token"]
    run("logout")
    assert not logged_in.credentials_file.exists()
    with LoomClient(logged_in.url, token) as client, pytest.raises(ApiError) as caught:
        client.identity.me()
    assert caught.value.status == 401
    assert "not logged in" in run("logout").stdout


def test_logging_in_again_revokes_the_previous_cli_token(logged_in: LoggedIn) -> None:
    first = json.loads(logged_in.credentials_file.read_text())["token"]
    run("login", "--url", logged_in.url, "--email", ADMIN_EMAIL, input="admin-password-1\n")
    second = json.loads(logged_in.credentials_file.read_text())["token"]
    assert second != first
    with LoomClient(logged_in.url, first) as client, pytest.raises(ApiError):
        client.identity.me()


def test_a_command_without_credentials_exits_1_with_a_clear_message() -> None:
    result = run("token", "list", code=1)
    assert "not logged in to http://127.0.0.1:8080: run `loom login`" in result.stderr


def test_environment_overrides_stored_credentials(
    live_server: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LOOM_URL", live_server.url)
    monkeypatch.setenv("LOOM_TOKEN", mint_token(live_server.url))
    assert json.loads(run("whoami", "-o", "json").stdout)["email"] == ADMIN_EMAIL
    monkeypatch.setenv("LOOM_TOKEN", "loom_forged")
    assert "UNAUTHENTICATED" in run("whoami", code=1).stderr


def test_stored_token_is_not_sent_to_another_url(
    logged_in: LoggedIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LOOM_URL", f"http://127.0.0.1:{closed_port()}")
    assert "not logged in to http://127.0.0.1:" in run("whoami", code=1).stderr


def test_help_documents_the_environment_variables() -> None:
    text = run("--help").stdout
    assert "LOOM_URL" in text and "LOOM_TOKEN" in text


def test_login_asks_for_the_email_when_not_given(
    live_server: LiveServer, cli_config_dir: Path
) -> None:
    result = run("login", "--url", live_server.url, input=f"{ADMIN_EMAIL}\nadmin-password-1\n")
    assert "Email" in result.stdout
    assert json.loads((cli_config_dir / "credentials.json").read_text())["email"] == ADMIN_EMAIL


def test_a_url_without_scheme_is_refused() -> None:
    result = run("login", "--url", "localhost:8080", "--token", "loom_x", code=1)
    assert "not a Loom URL: 'localhost:8080'" in result.stderr


def test_a_bad_url_in_the_environment_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOOM_URL", "127.0.0.1:8080")
    assert "not a Loom URL" in run("health", code=1).stderr
