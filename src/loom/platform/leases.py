"""Leases: a row per named job that at most one process holds until it expires, so N
replicas run each periodic job once."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import String, or_, update
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
    """Take or renew the lease `name` for `holder`; False if someone else holds it."""
    now = utcnow()
    async with sessions() as session:
        async with session.begin():
            result = await session.execute(
                update(Lease)
                .where(Lease.name == name, or_(Lease.expires_at <= now, Lease.holder == holder))
                .values(holder=holder, expires_at=now + ttl, acquired_at=now)
            )
            if result.rowcount:  # type: ignore[attr-defined]
                return True
        try:
            async with session.begin():
                session.add(Lease(name=name, holder=holder, expires_at=now + ttl, acquired_at=now))
            return True
        except IntegrityError:
            return False


async def release(sessions: async_sessionmaker[AsyncSession], name: str, holder: str) -> None:
    async with sessions() as session, session.begin():
        await session.execute(
            update(Lease)
            .where(Lease.name == name, Lease.holder == holder)
            .values(expires_at=utcnow())
        )
