"""Leases: a row per name that at most one holder owns until it expires, so that N
replicas sharing a database agree on who does a thing (run a periodic job's tick).

Taking a lease is one guarded UPDATE (free, expired, or already ours), or for a name
never seen before one INSERT that the primary key lets only one contender win. Both are
safe under concurrency on PostgreSQL (the UPDATE re-checks its guard once a competing
writer commits) and on SQLite (writers serialise on BEGIN IMMEDIATE).

Expiry is judged by the contender's clock: replicas are assumed NTP-synchronised to well
under a lease's length.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import CursorResult, String, or_, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Mapped, mapped_column

from loom.db.base import Base
from loom.db.types import UTCDateTime, utcnow


class Lease(Base):
    __tablename__ = "leases"

    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    holder: Mapped[str] = mapped_column(String(200))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    acquired_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


async def try_acquire(
    sessions: async_sessionmaker[AsyncSession], name: str, holder: str, ttl: timedelta
) -> bool:
    """Take or renew the lease `name` for `holder` until now + `ttl`; False if someone
    else holds it. Each call is its own transaction."""
    if ttl <= timedelta(0):
        raise ValueError("a lease needs a positive ttl")
    now = utcnow()
    async with sessions() as session:
        async with session.begin():
            result = await session.execute(
                update(Lease)
                .where(Lease.name == name, or_(Lease.expires_at <= now, Lease.holder == holder))
                .values(holder=holder, expires_at=now + ttl, acquired_at=now)
                .execution_options(synchronize_session=False)
            )
            if _rowcount(result):
                return True
        try:
            async with session.begin():
                session.add(Lease(name=name, holder=holder, expires_at=now + ttl, acquired_at=now))
        except IntegrityError:  # the row exists: someone else holds the lease (or just took it)
            return False
        return True


async def release(sessions: async_sessionmaker[AsyncSession], name: str, holder: str) -> bool:
    """Let go of `name` now if `holder` has it, so another holder may take it at once."""
    async with sessions() as session, session.begin():
        result = await session.execute(
            update(Lease)
            .where(Lease.name == name, Lease.holder == holder)
            .values(expires_at=utcnow())
            .execution_options(synchronize_session=False)
        )
        return _rowcount(result) > 0


def _rowcount(result: object) -> int:
    assert isinstance(result, CursorResult)
    return result.rowcount
