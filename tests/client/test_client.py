"""LoomClient against a real server: typed answers, correlation ids, envelopes, cursors."""

from __future__ import annotations

import socket
import uuid

import pytest

from loom import __version__
from loom.client import ApiError, ConnectionFailed, LoomClient
from loom.client.audit import AuditFilter
from tests.client.conftest import mint_token
from tests.conftest import ADMIN_EMAIL, LiveServer

pytestmark = pytest.mark.sqlite_only


def test_probes_answer_without_a_token(live_server: LiveServer) -> None:
    with LoomClient(live_server.url) as client:
        assert client.platform.health().status == "ok"
        readiness = client.platform.ready()
        version = client.platform.version()
    assert readiness.ready is True
    assert readiness.checks["database"].ok is True
    assert version.version == __version__
    assert version.database == "sqlite"


def test_password_login_session_mints_a_token_that_works(live_server: LiveServer) -> None:
    token = mint_token(live_server.url)
    with LoomClient(live_server.url, token) as client:
        me = client.identity.me()
    assert me.email == ADMIN_EMAIL
    assert me.via == "token"
    assert me.scopes == ["admin", "read", "write"]


def test_wrong_password_is_an_api_error(live_server: LiveServer) -> None:
    with LoomClient(live_server.url) as client, pytest.raises(ApiError) as caught:
        client.identity.login(ADMIN_EMAIL, "not-the-password")
    assert caught.value.status == 401
    assert caught.value.code == "UNAUTHENTICATED"
    assert caught.value.message == "wrong email or password"


def test_error_envelope_carries_the_sent_correlation_id(live_server: LiveServer) -> None:
    with LoomClient(live_server.url, "loom_forged") as client:
        with pytest.raises(ApiError) as caught:
            client.identity.me()
        sent = client.last_correlation_id
    assert sent is not None
    assert caught.value.correlation_id == sent
    assert caught.value.status == 401


def test_each_request_gets_a_new_correlation_id_unless_pinned(live_server: LiveServer) -> None:
    with LoomClient(live_server.url) as client:
        client.platform.health()
        first = client.last_correlation_id
        client.platform.health()
        assert client.last_correlation_id not in (None, first)
    with LoomClient(live_server.url, correlation_id="pinned-123") as client:
        client.platform.health()
        assert client.last_correlation_id == "pinned-123"


def test_validation_error_names_the_field(admin: LoomClient) -> None:
    with pytest.raises(ApiError) as caught:
        admin.identity.create_token("ci", ["root"])  # type: ignore[list-item]
    error = caught.value
    assert (error.status, error.code) == (422, "VALIDATION_ERROR")
    assert [d.field for d in error.details] == ["scopes[0]"]


def test_token_round_trip(live_server: LiveServer, admin: LoomClient) -> None:
    created = admin.identity.create_token("deploy", ["read"], expires_in_days=7)
    assert created.token.startswith("loom_")
    assert created.scopes == ["read"]
    assert created.expires_at is not None
    listed = {t.id: t for t in admin.identity.list_tokens()}
    assert listed[created.id].name == "deploy"
    assert not hasattr(listed[created.id], "token")

    with LoomClient(live_server.url, created.token) as limited:
        assert limited.identity.me().scopes == ["read"]
        admin.identity.revoke_token(created.id)
        with pytest.raises(ApiError) as caught:
            limited.identity.me()
    assert caught.value.status == 401
    revoked = {t.id: t for t in admin.identity.list_tokens()}[created.id]
    assert revoked.revoked_at is not None


def test_teams_and_users(admin: LoomClient) -> None:
    team = admin.identity.create_team("payments", "Payments")
    user = admin.identity.create_user("dev@loom.test", name="Dev", password="dev-password-1")
    assert team.id in {t.id for t in admin.identity.teams()}
    assert {u.email for u in admin.identity.users()} >= {ADMIN_EMAIL, "dev@loom.test"}
    assert user.org_role == "viewer"


def test_audit_entries_carry_the_clients_correlation_id(admin: LoomClient) -> None:
    created = admin.identity.create_token("traced", ["read"])
    cid = admin.last_correlation_id
    page = admin.audit.list(AuditFilter(correlation_id=cid))
    assert [(e.action, e.target_id) for e in page.items] == [("token.create", str(created.id))]


def test_audit_iterator_follows_every_cursor(admin: LoomClient) -> None:
    for n in range(5):
        admin.identity.create_token(f"t{n}", ["read"])
    everything = admin.audit.list(limit=500)
    assert everything.next_cursor is None
    assert len(everything.items) >= 6  # the admin's test token and these five

    first = admin.audit.list(limit=2)
    assert len(first.items) == 2 and first.next_cursor
    walked = list(admin.audit.iter(page_size=2))
    assert [e.seq for e in walked] == [e.seq for e in everything.items]
    assert [e.seq for e in walked] == sorted((e.seq for e in walked), reverse=True)
    assert [e.seq for e in admin.audit.iter(page_size=2, max_items=3)] == [
        e.seq for e in everything.items[:3]
    ]


def test_audit_filters_are_sent(admin: LoomClient) -> None:
    admin.identity.create_token("one", ["read"])
    page = admin.audit.list(AuditFilter(action="token.create", target_type="api_token"))
    assert page.items and {e.action for e in page.items} == {"token.create"}
    assert admin.audit.list(AuditFilter(actor_id=uuid.uuid4())).items == []


def test_audit_verify(admin: LoomClient) -> None:
    result = admin.audit.verify()
    assert result.ok is True
    assert result.checked >= 1
    assert result.problems == []


def test_connection_refused_is_connection_failed() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    with LoomClient(url, timeout=2) as client, pytest.raises(ConnectionFailed) as caught:
        client.platform.health()
    assert caught.value.url == url
    assert "cannot reach Loom at" in str(caught.value)
