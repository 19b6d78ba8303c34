"""Queue throughput benchmark: raw send + receive + delete on the `sql` backend, on SQLite
and PostgreSQL.

Each run sends N messages spread round-robin over M groups (P concurrent producers), then
K concurrent consumers drain the queue, receiving up to B messages per call (at most one
per group, as the FIFO rules demand) and deleting each one. The figure is messages/s over
the whole life of a message: N / (send time + drain time). Medians over the runs are
printed with the machine they ran on.

Target on the 2-core reference machine: >= 1,000 messages/s on PostgreSQL.

    .venv/bin/python benchmarks/queue_throughput.py [--messages 5000] [--groups 100]
        [--consumers 8] [--producers 4] [--batch 10] [--runs 3]
        [--backend sqlite|postgres|both] [--postgres URL]

PostgreSQL: a throwaway database is created on the server (LOOM_TEST_DATABASE_URL, else
postgresql://postgres@127.0.0.1:5432/postgres), migrated, and dropped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from bench_machine import machine
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from loom.db.engine import create_engine, create_sessionmaker
from loom.db.migrate import upgrade
from loom.queue.sql import SqlQueue
from loom.settings import Settings

TARGET_PG = 1000.0
DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/postgres"


@dataclass
class RunResult:
    send_seconds: float
    drain_seconds: float
    messages: int

    @property
    def send_rate(self) -> float:
        return self.messages / self.send_seconds

    @property
    def drain_rate(self) -> float:
        return self.messages / self.drain_seconds

    @property
    def rate(self) -> float:
        return self.messages / (self.send_seconds + self.drain_seconds)


async def one_run(engine: AsyncEngine, args: argparse.Namespace, run: int) -> RunResult:
    queue = SqlQueue(
        create_sessionmaker(engine),
        f"bench-{run}-{uuid.uuid4().hex[:6]}",
        keep_connections=args.keep_connections,
    )
    n, groups = args.messages, args.groups

    async def producer(offset: int) -> None:
        for i in range(offset, n, args.producers):
            await queue.send(f"g{i % groups}", {"task_id": i})

    started = time.perf_counter()
    await asyncio.gather(*(producer(p) for p in range(args.producers)))
    sent = time.perf_counter()

    done = 0

    async def consumer() -> None:
        nonlocal done
        idle = 0
        while done < n:
            batch = await queue.receive(max_messages=args.batch, visibility_timeout=60)
            if not batch:
                idle += 1
                await asyncio.sleep(min(0.001 * idle, 0.01))
                continue
            idle = 0
            for message in batch:
                await queue.delete(message.receipt)
                done += 1

    await asyncio.gather(*(consumer() for _ in range(args.consumers)))
    drained = time.perf_counter()
    stats = await queue.stats()
    await queue.close()
    assert stats.depth == 0 and stats.dlq_depth == 0, stats
    return RunResult(sent - started, drained - sent, n)


@asynccontextmanager
async def sqlite_engine(pool_size: int) -> AsyncIterator[AsyncEngine]:
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
        engine = create_engine(Settings(env="test", database_url=url))
        try:
            await upgrade(engine)
            yield engine
        finally:
            await engine.dispose()


@asynccontextmanager
async def postgres_engine(server: str, pool_size: int) -> AsyncIterator[AsyncEngine]:
    server = Settings(env="test", database_url=server).database_url
    name = f"loom_bench_{uuid.uuid4().hex[:8]}"
    admin = create_async_engine(server, isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        await conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(server).set(database=name).render_as_string(hide_password=False)
    settings = Settings(env="test", database_url=url, database={"pool_size": pool_size})
    engine = create_engine(settings)
    try:
        await upgrade(engine)
        yield engine
    finally:
        await engine.dispose()
        async with admin.connect() as conn:
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await admin.dispose()


async def bench(backend: str, args: argparse.Namespace) -> list[RunResult]:
    pool = args.consumers + args.producers
    context = sqlite_engine(pool) if backend == "sqlite" else postgres_engine(args.postgres, pool)
    results = []
    async with context as engine:
        await one_run(engine, argparse.Namespace(**{**vars(args), "messages": 200}), -1)  # warm
        for run in range(args.runs):
            result = await one_run(engine, args, run)
            results.append(result)
            print(
                f"  {backend} run {run + 1}: {result.rate:7.0f} msg/s "
                f"(send {result.send_rate:.0f}/s, receive+delete {result.drain_rate:.0f}/s)",
                flush=True,
            )
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--groups", type=int, default=100)
    parser.add_argument("--consumers", type=int, default=8)
    parser.add_argument("--producers", type=int, default=4)
    parser.add_argument("--batch", type=int, default=10)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--keep-connections", type=int, default=4, help="idle connections a queue keeps"
    )
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--postgres", default=os.environ.get("LOOM_TEST_DATABASE_URL", DEFAULT_PG))
    args = parser.parse_args()

    print(f"machine: {machine()}")
    print(
        f"workload: {args.messages} messages over {args.groups} groups, {args.producers} "
        f"producers, {args.consumers} consumers, receive batches of up to {args.batch}"
    )
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    ok = True
    for backend in backends:
        results = asyncio.run(bench(backend, args))
        median = statistics.median(r.rate for r in results)
        send = statistics.median(r.send_rate for r in results)
        drain = statistics.median(r.drain_rate for r in results)
        line = (
            f"{backend}: median {median:.0f} messages/s send+receive+delete "
            f"(send {send:.0f}/s, receive+delete {drain:.0f}/s) over {len(results)} runs"
        )
        if backend == "postgres":
            met = median >= TARGET_PG
            ok = ok and met
            line += f"  [target >= {TARGET_PG:.0f}: {'met' if met else 'MISSED'}]"
        print(line)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
