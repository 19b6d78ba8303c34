"""Raw statements on PostgreSQL's driver connection, for the few hot paths (the queue,
the worker's claim and finish, a submission) where SQLAlchemy's compilation, unit of
work and result processing would cost more than the database itself."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.pool import PoolProxiedConnection
from sqlalchemy.util import greenlet_spawn

#: `:name` parameters (not `::type` casts). Each is cast to its type where it appears:
#: asyncpg must know it, and one parameter must have one type in every place it is used.
_NAMED = re.compile(r"(?<!:):([a-z_]+)")


@dataclass(frozen=True)
class Statement:
    """One SQL statement run on the raw asyncpg connection (no SQLAlchemy compilation or
    result processing on the hot path). Written with `:name` parameters, sent as `$n`."""

    sql: str
    names: tuple[str, ...]

    @classmethod
    def of(cls, named_sql: str) -> Statement:
        names: list[str] = []

        def number(match: re.Match[str]) -> str:
            if match.group(1) not in names:
                names.append(match.group(1))
            return f"${names.index(match.group(1)) + 1}"

        return cls(_NAMED.sub(number, named_sql), tuple(names))

    async def fetch(self, connection: Any, **params: Any) -> list[Any]:
        """Rows (asyncpg Records) of the statement; `connection` is an asyncpg connection."""
        rows: list[Any] = await connection.fetch(self.sql, *(params[n] for n in self.names))
        return rows


async def in_transaction(session: AsyncSession) -> Any:
    """The asyncpg connection under `session`, inside the session's transaction.

    SQLAlchemy begins the driver's transaction with the first statement it runs; if the
    caller has run none yet, run a trivial one so that ours cannot land outside it.
    """
    raw: Any = (await (await session.connection()).get_raw_connection()).driver_connection
    if not raw.is_in_transaction():
        await session.execute(text("SELECT 1"))
    return raw


class HeldConnections:
    """Raw asyncpg connections a hot path keeps checked out of the engine's pool between
    its statements.

    Checking a connection out runs the pool's pre-ping, a round trip that costs more than
    the statements themselves; a queue hot on receive and delete keeps up to
    `keep` idle connections instead. One that the server closed meanwhile is noticed by
    asyncpg (`is_closed`) and thrown away; one whose statement failed or was cancelled
    goes back to the pool, which resets or discards it. All are let go when the engine is
    disposed.
    """

    def __init__(self, engine: AsyncEngine, keep: int) -> None:
        self._engine = engine
        self._keep = keep
        self._idle: list[PoolProxiedConnection] = []
        event.listen(engine.sync_engine, "engine_disposed", self._forget_all)

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[Any]:
        """An asyncpg connection outside any transaction, for one or a few statements."""
        fairy = await self._take()
        try:
            yield fairy.driver_connection
        except BaseException:
            await greenlet_spawn(fairy.close)
            raise
        if len(self._idle) < self._keep and not _closed(fairy):
            self._idle.append(fairy)
        else:
            await greenlet_spawn(fairy.close)

    async def _take(self) -> PoolProxiedConnection:
        while self._idle:
            fairy = self._idle.pop()
            if not _closed(fairy):
                return fairy
            await greenlet_spawn(fairy.invalidate)
        return await greenlet_spawn(self._engine.sync_engine.raw_connection)

    async def close(self) -> None:
        """Return the idle connections to the pool."""
        while self._idle:
            await greenlet_spawn(self._idle.pop().close)

    def _forget_all(self, _engine: Any) -> None:
        # Runs inside AsyncEngine.dispose()'s greenlet, where closing may await; the pool
        # is already replaced, so close the connections rather than check them back in.
        while self._idle:
            self._idle.pop().invalidate()


def _closed(fairy: PoolProxiedConnection) -> bool:
    driver = fairy.driver_connection
    return driver is None or bool(driver.is_closed())
