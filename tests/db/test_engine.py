"""The engine's pool hands out live connections: one the server closed is replaced at
checkout, without a round trip to find out."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text

from loom.db.engine import create_engine, create_sessionmaker
from loom.settings import Settings


async def test_sessions_survive_a_server_that_dropped_pooled_connections(
    backend: str, database_url: str
) -> None:
    if backend != "postgres":
        pytest.skip("PostgreSQL only: SQLite has no server to drop connections")
    engine = create_engine(Settings(env="test", database_url=database_url))
    sessions = create_sessionmaker(engine)
    killer = create_engine(Settings(env="test", database_url=database_url))
    try:
        async with sessions() as session:
            before = await session.scalar(text("SELECT pg_backend_pid()"))
        async with killer.connect() as conn:
            await conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": before})
        await asyncio.sleep(0.2)  # let asyncpg see the socket close
        async with sessions() as session:
            after = await session.scalar(text("SELECT pg_backend_pid()"))
        assert after != before
    finally:
        await killer.dispose()
        await engine.dispose()
