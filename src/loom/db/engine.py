"""Async engine and session factory for SQLite (embedded) and PostgreSQL (production)."""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy import event
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from loom.settings import Settings


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    # The driver's own transaction handling is turned off so that we can issue
    # BEGIN IMMEDIATE: writers queue on the lock instead of failing mid-transaction.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    # The wait first: switching a new file to WAL needs its lock too.
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _sqlite_begin(conn: Any) -> None:
    conn.exec_driver_sql("BEGIN IMMEDIATE")


def _discard_if_closed(_dbapi_connection: Any, record: Any, _proxy: Any) -> None:
    # Instead of pool_pre_ping, which costs three round trips at every checkout on asyncpg
    # (BEGIN, a ping, ROLLBACK): a connection whose socket the server closed (a restart,
    # pg_terminate_backend, an idle timeout) is known to asyncpg without asking. The pool
    # drops a connection refused here and checks out (or opens) another.
    driver = record.driver_connection
    if driver is None or driver.is_closed():
        raise DisconnectionError("the server closed this connection")


def json_text(value: Any) -> str:
    """JSON columns are written and read with orjson: several times faster than the
    standard library on the JSON-heavy rows of alert ingestion."""
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


def create_engine(settings: Settings) -> AsyncEngine:
    url = settings.database_url
    json_codec: dict[str, Any] = {"json_serializer": json_text, "json_deserializer": orjson.loads}
    if settings.is_sqlite:
        engine = create_async_engine(
            url, echo=settings.database.echo, connect_args={"timeout": 30}, **json_codec
        )
        event.listen(engine.sync_engine, "connect", _sqlite_on_connect)
        event.listen(engine.sync_engine, "begin", _sqlite_begin)
        return engine
    engine = create_async_engine(
        url, echo=settings.database.echo, pool_size=settings.database.pool_size, **json_codec
    )
    event.listen(engine.sync_engine, "checkout", _discard_if_closed)
    return engine


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=True)
