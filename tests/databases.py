"""Throwaway databases for tests: a migrated template per run, copied for each test.

SQLite: a migrated file is copied per test. PostgreSQL: a template database migrated
once per run, cloned with CREATE DATABASE ... TEMPLATE per test, all dropped at the end.
The server comes from LOOM_TEST_DATABASE_URL, else 127.0.0.1:5432 (user postgres) if it
answers; otherwise PostgreSQL tests are skipped and the run says so loudly.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from loom.db.engine import create_engine
from loom.db.migrate import upgrade
from loom.settings import Settings

DEFAULT_PG = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"


def _asyncpg(url: str) -> str:
    return Settings(database_url=url).database_url


async def _probe(url: str) -> bool:
    engine = create_async_engine(url, connect_args={"timeout": 3})
    try:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        return True
    except Exception:
        return False
    finally:
        await engine.dispose()


def find_postgres() -> str | None:
    explicit = os.environ.get("LOOM_TEST_DATABASE_URL")
    url = _asyncpg(explicit) if explicit else DEFAULT_PG
    if asyncio.run(_probe(url)):
        return url
    if explicit:
        raise RuntimeError(f"LOOM_TEST_DATABASE_URL is set but does not answer: {explicit}")
    return None


async def _admin(server_url: str, *statements: str) -> None:
    engine = create_async_engine(server_url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            for stmt in statements:
                await conn.execute(text(stmt))
    finally:
        await engine.dispose()


@dataclass
class ThrowawayDatabases:
    tmp: Path
    pg_server: str | None
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    _sqlite_template: Path | None = None
    _pg_template: str | None = None
    _pg_created: list[str] = field(default_factory=list)

    async def _migrate(self, url: str) -> None:
        engine = create_engine(Settings(env="test", database_url=url))
        try:
            await upgrade(engine)
        finally:
            await engine.dispose()

    async def sqlite_url(self) -> str:
        if self._sqlite_template is None:
            self._sqlite_template = self.tmp / "template.db"
            await self._migrate(f"sqlite+aiosqlite:///{self._sqlite_template}")
        target = self.tmp / f"t_{uuid.uuid4().hex[:10]}.db"
        shutil.copyfile(self._sqlite_template, target)
        return f"sqlite+aiosqlite:///{target}"

    def _pg_url(self, name: str) -> str:
        assert self.pg_server is not None
        return make_url(self.pg_server).set(database=name).render_as_string(hide_password=False)

    async def postgres_url(self) -> str:
        assert self.pg_server is not None
        if self._pg_template is None:
            name = f"loom_tpl_{self.run_id}"
            await _admin(self.pg_server, f'CREATE DATABASE "{name}"')
            self._pg_created.append(name)
            await self._migrate(self._pg_url(name))
            self._pg_template = name
        name = f"loom_t_{self.run_id}_{uuid.uuid4().hex[:8]}"
        await _admin(self.pg_server, f'CREATE DATABASE "{name}" TEMPLATE "{self._pg_template}"')
        self._pg_created.append(name)
        return self._pg_url(name)

    async def empty_postgres_url(self) -> str:
        """A fresh, unmigrated database (for migration tests)."""
        assert self.pg_server is not None
        name = f"loom_e_{self.run_id}_{uuid.uuid4().hex[:8]}"
        await _admin(self.pg_server, f'CREATE DATABASE "{name}"')
        self._pg_created.append(name)
        return self._pg_url(name)

    async def drop_all(self) -> None:
        if self.pg_server is None:
            return
        # Templates last: clones must be gone before their template can be dropped.
        for name in reversed(self._pg_created):
            await _admin(self.pg_server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self._pg_created.clear()
