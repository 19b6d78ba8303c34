"""Leases: at most one holder at a time, even when replicas race for it."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta

import pytest
from sqlalchemy import select

from loom.platform.leases import Lease, release, try_acquire
from loom.platform.runtime import Runtime

Replicas = Callable[[int], list[Runtime]]
TTL = timedelta(seconds=30)


async def test_first_taker_holds_and_others_are_refused(replicas: Replicas) -> None:
    a, b = replicas(2)
    assert await try_acquire(a.sessions, "job:x", "a", TTL)
    assert not await try_acquire(b.sessions, "job:x", "b", TTL)
    assert await try_acquire(a.sessions, "job:x", "a", TTL)  # the holder renews
    async with b.sessions() as session:
        assert await session.scalar(select(Lease.holder).where(Lease.name == "job:x")) == "a"


async def test_expired_lease_goes_to_the_next_taker(replicas: Replicas) -> None:
    a, b = replicas(2)
    assert await try_acquire(a.sessions, "job:x", "a", timedelta(milliseconds=200))
    assert not await try_acquire(b.sessions, "job:x", "b", TTL)
    await asyncio.sleep(0.3)
    assert await try_acquire(b.sessions, "job:x", "b", TTL)
    assert not await try_acquire(a.sessions, "job:x", "a", TTL)


async def test_release_frees_the_lease_at_once(replicas: Replicas) -> None:
    a, b = replicas(2)
    assert await try_acquire(a.sessions, "job:x", "a", TTL)
    assert not await release(b.sessions, "job:x", "b")  # not b's to release
    assert not await try_acquire(b.sessions, "job:x", "b", TTL)
    assert await release(a.sessions, "job:x", "a")
    assert await try_acquire(b.sessions, "job:x", "b", TTL)


@pytest.mark.parametrize("existing", [False, True], ids=["new-row", "expired-row"])
async def test_racing_replicas_get_exactly_one_winner(replicas: Replicas, existing: bool) -> None:
    runtimes = replicas(6)
    if existing:  # a lease row that has just expired: the race goes through the UPDATE
        assert await try_acquire(runtimes[0].sessions, "job:race", "old", timedelta(milliseconds=1))
        await asyncio.sleep(0.01)
    for _round in range(3):
        results = await asyncio.gather(
            *(try_acquire(r.sessions, "job:race", f"r{i}", TTL) for i, r in enumerate(runtimes))
        )
        assert results.count(True) == 1, results
        # Hand the lease back for the next round.
        winner = results.index(True)
        assert await release(runtimes[winner].sessions, "job:race", f"r{winner}")


async def test_ttl_must_be_positive(replicas: Replicas) -> None:
    (a,) = replicas(1)
    with pytest.raises(ValueError, match="positive"):
        await try_acquire(a.sessions, "job:x", "a", timedelta(0))
