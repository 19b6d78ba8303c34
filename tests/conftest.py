"""Fixtures shared by every test: a fresh database per test (SQLite, and PostgreSQL where
one answers), the app with its lifespan, HTTP clients, and tenants with tokens."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from loom.app import create_app
from loom.auth.models import Membership, Team, User
from loom.auth.principal import load_principal
from loom.auth.roles import TOKEN_SCOPES, Role
from loom.auth.tokens import create_token
from loom.settings import Settings
from tests.databases import ThrowawayDatabases, find_postgres

ADMIN_EMAIL = "admin@loom.test"
ADMIN_PASSWORD = "admin-password-1"
_PG_SKIPPED = "PostgreSQL half SKIPPED: no server at LOOM_TEST_DATABASE_URL or 127.0.0.1:5432"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "sqlite_only: runs on SQLite only")


@pytest.fixture(scope="session")
def test_databases(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ThrowawayDatabases]:
    dbs = ThrowawayDatabases(tmp=tmp_path_factory.mktemp("db"), pg_server=find_postgres())
    yield dbs
    asyncio.run(dbs.drop_all())


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if getattr(terminalreporter.config, "_loom_pg_missing", False):
        terminalreporter.write_sep("!", _PG_SKIPPED, red=True, bold=True)


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest, test_databases: ThrowawayDatabases) -> str:
    if request.param == "postgres" and test_databases.pg_server is None:
        request.config._loom_pg_missing = True  # type: ignore[attr-defined]
        pytest.skip(_PG_SKIPPED)
    if request.param == "postgres" and request.node.get_closest_marker("sqlite_only"):
        pytest.skip("SQLite-only test")
    return str(request.param)


@pytest.fixture
async def database_url(backend: str, test_databases: ThrowawayDatabases) -> str:
    if backend == "postgres":
        return await test_databases.postgres_url()
    return await test_databases.sqlite_url()


def make_settings(database_url: str, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "env": "test",
        "database_url": database_url,
        "auth": {"bootstrap_admin_email": ADMIN_EMAIL, "bootstrap_admin_password": ADMIN_PASSWORD},
        "scheduler": {"enabled": False},
        "log": {"level": "warning"},
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture
def settings(database_url: str) -> Settings:
    return make_settings(database_url)


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    application = create_app(settings, background=False)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://loom.test") as c:
        yield c


@pytest.fixture
async def session(app: FastAPI) -> AsyncIterator[AsyncSession]:
    async with app.state.runtime.sessions() as s:
        yield s


async def token_for(app: FastAPI, email: str, scopes: tuple[str, ...] | None = None) -> str:
    """Mint an API token for an existing user (all the scopes their role allows by default)."""
    async with app.state.runtime.sessions() as s, s.begin():
        user_id = await s.scalar(select(User.id).where(User.email == email))
        assert user_id is not None, email
        principal = await load_principal(s, user_id)
        if scopes is None:
            scopes = TOKEN_SCOPES if principal.org_role >= Role.ADMIN else ("read", "write")
        _, plaintext = await create_token(
            s, principal, name="test", scopes=list(scopes), expires_in_days=None
        )
    return plaintext


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
async def admin_headers(app: FastAPI) -> dict[str, str]:
    return bearer(await token_for(app, ADMIN_EMAIL))


@dataclass
class Tenant:
    """Two teams with a viewer, an operator and an admin each, plus their API headers."""

    org_id: uuid.UUID
    team_a: uuid.UUID
    team_b: uuid.UUID
    headers: dict[str, dict[str, str]]


@pytest.fixture
async def tenant(app: FastAPI) -> Tenant:
    async with app.state.runtime.sessions() as s, s.begin():
        org_id = await s.scalar(select(User.org_id).where(User.email == ADMIN_EMAIL))
        assert org_id is not None
        teams = {}
        for slug in ("a", "b"):
            team = Team(org_id=org_id, slug=f"team-{slug}", name=f"Team {slug.upper()}")
            s.add(team)
            await s.flush()
            teams[slug] = team.id
            for role in (Role.VIEWER, Role.OPERATOR, Role.ADMIN):
                user = User(org_id=org_id, email=f"{role.label}-{slug}@loom.test", name=role.label)
                s.add(user)
                await s.flush()
                s.add(Membership(user_id=user.id, team_id=team.id, role=role))
    headers = {
        f"{role.label}-{slug}": bearer(await token_for(app, f"{role.label}-{slug}@loom.test"))
        for slug in ("a", "b")
        for role in (Role.VIEWER, Role.OPERATOR, Role.ADMIN)
    }
    return Tenant(org_id=org_id, team_a=teams["a"], team_b=teams["b"], headers=headers)


@pytest.fixture
def repo_root() -> Path:
    return Path(__file__).resolve().parent.parent


@dataclass
class LiveServer:
    url: str
    app: FastAPI


@pytest.fixture
def live_background() -> bool:
    """Whether the live server runs its background work (workers); a test module that
    needs requests carried out overrides this with True."""
    return False


@pytest.fixture
def live_server(settings: Settings, live_background: bool) -> Iterator[LiveServer]:
    """The app served by a real uvicorn on a free local port, in a background thread
    (for the CLI and browser tests, which talk real HTTP)."""
    import socket
    import threading
    import time

    import uvicorn

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    application = create_app(settings, background=live_background)
    server = uvicorn.Server(
        uvicorn.Config(application, host="127.0.0.1", port=port, log_config=None, access_log=False)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("live server did not start")
        time.sleep(0.02)
    try:
        yield LiveServer(url=f"http://127.0.0.1:{port}", app=application)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
