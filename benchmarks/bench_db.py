"""A throwaway database for a benchmark run: a SQLite file in the run's temporary
directory, or a database created on the PostgreSQL server and dropped afterwards."""

from __future__ import annotations

import argparse
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from loom.settings import Settings


@asynccontextmanager
async def database(backend: str, args: argparse.Namespace, tmp: Path) -> AsyncIterator[str]:
    """A fresh database URL for `backend` ("sqlite" or "postgres", on the server
    `args.postgres` names), dropped afterwards."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp / 'bench.db'}"
        return
    server = Settings(env="test", database_url=args.postgres).database_url
    name = f"loom_bench_{uuid.uuid4().hex[:8]}"
    admin = create_async_engine(server, isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        await conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(server).set(database=name).render_as_string(hide_password=False)
    finally:
        async with admin.connect() as conn:
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await admin.dispose()


async def analyze(url: str) -> None:
    """Refresh the planner's statistics, as autovacuum keeps them on a running system:
    a table filled in the last seconds is otherwise planned as if nearly empty."""
    engine = create_async_engine(Settings(env="test", database_url=url).database_url)
    try:
        async with engine.connect() as conn:
            await conn.execute(text("ANALYZE"))
            await conn.commit()
    finally:
        await engine.dispose()
