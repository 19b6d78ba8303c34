"""One Alembic tree migrates both stores, round-trips, and matches the models."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, inspect

from loom.db.engine import create_engine
from loom.db.migrate import current_revision, downgrade, head_revision, upgrade
from loom.db.models import include_name, metadata
from loom.settings import Settings
from tests.databases import ThrowawayDatabases


@pytest.fixture
async def empty_url(backend: str, test_databases: ThrowawayDatabases, tmp_path: Path) -> str:
    if backend == "postgres":
        return await test_databases.empty_postgres_url()
    return f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}"


async def test_upgrade_downgrade_upgrade(empty_url: str) -> None:
    engine = create_engine(Settings(env="test", database_url=empty_url))
    try:
        assert await current_revision(engine) is None
        await upgrade(engine)
        assert await current_revision(engine) == head_revision()
        async with engine.connect() as conn:
            tables = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
        assert {"organizations", "teams", "users", "api_tokens", "audit_entries"} <= tables
        await downgrade(engine, "base")
        async with engine.connect() as conn:
            tables = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
        assert tables <= {"alembic_version"}
        await upgrade(engine)
        assert await current_revision(engine) == head_revision()
    finally:
        await engine.dispose()


async def test_models_match_migrations(database_url: str) -> None:
    """A model change without a migration fails here (run the autogenerate helper)."""
    engine = create_engine(Settings(env="test", database_url=database_url))

    def diff(conn: Connection) -> list[object]:
        context = MigrationContext.configure(
            conn, opts={"compare_type": True, "include_name": include_name}
        )
        return list(compare_metadata(context, metadata))

    try:
        async with engine.connect() as conn:
            differences = await conn.run_sync(diff)
    finally:
        await engine.dispose()
    assert differences == []


async def test_sqlite_pragmas(tmp_path: Path) -> None:
    engine = create_engine(Settings(env="test", database_url=f"sqlite:///{tmp_path / 'p.db'}"))
    try:
        async with engine.connect() as conn:
            journal = (await conn.exec_driver_sql("PRAGMA journal_mode")).scalar()
            fks = (await conn.exec_driver_sql("PRAGMA foreign_keys")).scalar()
    finally:
        await engine.dispose()
    assert journal == "wal" and fks == 1


async def test_replicas_starting_together_migrate_once(empty_url: str, backend: str) -> None:
    import asyncio

    if backend == "sqlite":
        pytest.skip("replicas run on PostgreSQL; embedded SQLite is one process")

    engines = [create_engine(Settings(env="test", database_url=empty_url)) for _ in range(3)]
    try:
        await asyncio.gather(*(upgrade(e) for e in engines))
        assert await current_revision(engines[0]) == head_revision()
    finally:
        for engine in engines:
            await engine.dispose()
