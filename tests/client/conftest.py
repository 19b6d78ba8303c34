"""Fixtures for the client tests: an admin token minted over HTTP on the live server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from loom.client import LoomClient
from loom.client.identity import Scope
from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, LiveServer


def mint_token(url: str, email: str = ADMIN_EMAIL, password: str = ADMIN_PASSWORD) -> str:
    """Log in with a password and mint an API token with every scope the user may hold."""
    with LoomClient(url) as client:
        client.identity.login(email, password)
        admin = client.identity.me().org_role in ("admin", "owner")
        scopes: list[Scope] = ["read", "write", "admin"] if admin else ["read", "write"]
        return client.identity.create_token("test", scopes).token


@pytest.fixture
def admin_token(live_server: LiveServer) -> str:
    return mint_token(live_server.url)


@pytest.fixture
def admin(live_server: LiveServer, admin_token: str) -> Iterator[LoomClient]:
    with LoomClient(live_server.url, admin_token) as client:
        yield client
