"""Service graph benchmark: dependency graph queries on an organisation of 5,000
services and 20,000 dependencies, on PostgreSQL and SQLite.

The registry is written straight into a fresh database (bulk inserts, not the API: the
figures are about reading). Callers pick their targets with a skew towards the first
services, as real systems lean on a few shared ones (auth, a gateway, a database
proxy), so some services have thousands of dependents; one dependency in ten is on an
outside resource. Then, each in its own transaction as the API runs it:

* `neighbourhood(depth=3, direction="both")` of services picked at random;
* `upstream(slug, hops=3)` of the same services (the incidents' root-cause helper),
  and `upstream` with its default reach (10 hops: most of the organisation) for a tenth
  of them.

Printed: p50 / p95 / max in milliseconds, and the mean size of the answers.
Target: p95 under 50 ms for the depth-3 neighbourhood on PostgreSQL.

    .venv/bin/python benchmarks/service_graph.py [--services 5000] [--dependencies 20000]
        [--queries 200] [--backend sqlite|postgres|both] [--postgres URL]

PostgreSQL: a throwaway database is created on the server (LOOM_TEST_DATABASE_URL, else
postgresql://postgres@127.0.0.1:5432/postgres), migrated, and dropped at the end.
SQLite: a file in a temporary directory.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

from bench_db import database
from bench_machine import load_average, machine
from sqlalchemy import insert, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from loom.app import prepare_database
from loom.auth.models import Team, User
from loom.auth.principal import Principal, load_principal
from loom.db.types import utcnow
from loom.platform.runtime import Runtime
from loom.services.graph import neighbourhood, upstream
from loom.services.models import Service, ServiceDependency
from loom.settings import Settings

TARGET_MS = 50.0
DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/postgres"
ADMIN_EMAIL = "admin@loom.bench"


async def populate(runtime: Runtime, args: argparse.Namespace, rng: random.Random) -> Principal:
    """The bootstrap admin's organisation, filled with the benchmark's registry."""
    await prepare_database(runtime)
    async with runtime.sessions() as session, session.begin():
        user = await session.scalar(select(User).where(User.email == ADMIN_EMAIL))
        assert user is not None
        principal = await load_principal(session, user.id)
        teams = []
        for n in range(20):
            team = Team(org_id=principal.org_id, slug=f"team-{n}", name=f"Team {n}")
            session.add(team)
            teams.append(team)
        await session.flush()
        now = utcnow()
        ids = [uuid.uuid4() for _ in range(args.services)]
        services = [
            {"id": ids[n], "org_id": principal.org_id, "team_id": teams[n % 20].id,
             "slug": f"svc-{n:05d}", "name": f"Service {n}", "description": "",
             "lifecycle": "production", "tier": 1 + n % 3, "links": [], "tags": [],
             "extra": {}, "managed": False, "created_at": now, "updated_at": now}
            for n in range(args.services)
        ]  # fmt: skip
        for at in range(0, len(services), 1000):
            await session.execute(insert(Service), services[at : at + 1000])
        pairs: set[tuple[int, int]] = set()
        resources: set[tuple[int, int]] = set()
        while len(pairs) + len(resources) < args.dependencies:
            source = rng.randrange(args.services)
            if rng.random() < 0.1:
                resources.add((source, rng.randrange(50)))
                continue
            target = int(args.services * rng.random() ** 2)  # skewed to the first services
            if target != source:
                pairs.add((source, target))
        deps = [
            {"id": uuid.uuid4(), "org_id": principal.org_id, "service_id": ids[s],
             "target_service_id": ids[t], "target_resource": None, "kind": "sync",
             "criticality": "medium", "description": "", "created_at": now}
            for s, t in pairs
        ] + [
            {"id": uuid.uuid4(), "org_id": principal.org_id, "service_id": ids[s],
             "target_service_id": None, "target_resource": f"postgres:db-{r}", "kind": "data",
             "criticality": "high", "description": "", "created_at": now}
            for s, r in resources
        ]  # fmt: skip
        for at in range(0, len(deps), 1000):
            await session.execute(insert(ServiceDependency), deps[at : at + 1000])
    if runtime.engine.dialect.name == "postgresql":
        async with runtime.engine.connect() as conn:
            await conn.execute(text("ANALYZE services"))
            await conn.execute(text("ANALYZE service_dependencies"))
            await conn.commit()
    return principal


async def timed(
    runtime: Runtime, slugs: list[str], query: Callable[..., Awaitable[int]]
) -> tuple[list[float], float]:
    """Milliseconds per query (one transaction each), and the mean answer size."""
    times: list[float] = []
    sizes: list[int] = []
    for slug in slugs:
        started = time.perf_counter()
        async with runtime.sessions() as session, session.begin():
            sizes.append(await query(session, slug))
        times.append((time.perf_counter() - started) * 1000)
    return times, statistics.mean(sizes)


def line(label: str, times: list[float], size: float, unit: str) -> str:
    p50 = statistics.median(times)
    p95 = statistics.quantiles(times, n=20)[-1]
    return (
        f"  {label:<34} p50 {p50:6.1f} ms  p95 {p95:6.1f} ms  max {max(times):6.1f} ms"
        f"  (mean {size:.0f} {unit})"
    )


async def bench(backend: str, args: argparse.Namespace) -> bool:
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory(prefix="loom-graph-bench-") as tmp:
        async with database(backend, args, Path(tmp)) as url:
            settings = Settings(
                env="test",
                database_url=url,
                auth={"bootstrap_admin_email": ADMIN_EMAIL, "bootstrap_admin_password": "bench-1"},
                scheduler={"enabled": False},
                log={"level": "warning"},
            )
            runtime = Runtime.build(settings)
            try:
                started = time.perf_counter()
                principal = await populate(runtime, args, rng)
                print(
                    f"{backend}: {args.services} services, {args.dependencies} dependencies "
                    f"written in {time.perf_counter() - started:.1f} s"
                )
                slugs = [f"svc-{rng.randrange(args.services):05d}" for _ in range(args.queries)]

                async def around(session: AsyncSession, slug: str) -> int:
                    graph = await neighbourhood(session, principal, slug, 3, "both")
                    return len(graph.nodes)

                def reach(hops: int) -> Callable[..., Awaitable[int]]:
                    async def query(session: AsyncSession, slug: str) -> int:
                        return len(await upstream(session, principal.org_id, [slug], hops))

                    return query

                await timed(runtime, slugs[:20], around)  # warm up caches and pools
                graph_times, graph_size = await timed(runtime, slugs, around)
                up3_times, up3_size = await timed(runtime, slugs, reach(3))
                # Most of the organisation is within 10 hops of anything: fewer of these.
                up10_times, up10_size = await timed(runtime, slugs[: args.queries // 10], reach(10))
                print(line("neighbourhood depth 3, both", graph_times, graph_size, "nodes"))
                print(line("upstream, 3 hops", up3_times, up3_size, "services"))
                print(line("upstream, 10 hops (default)", up10_times, up10_size, "services"))
                p95 = statistics.quantiles(graph_times, n=20)[-1]
                met = p95 < TARGET_MS
                print(f"  [neighbourhood p95 < {TARGET_MS:.0f} ms: {'met' if met else 'MISSED'}]")
                return met or backend == "sqlite"
            finally:
                await runtime.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--services", type=int, default=5000)
    parser.add_argument("--dependencies", type=int, default=20000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--seed", type=int, default=6)
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--postgres", default=os.environ.get("LOOM_TEST_DATABASE_URL", DEFAULT_PG))
    args = parser.parse_args()
    print(f"machine: {machine()}; load average {load_average()}")
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    ok = True
    for backend in backends:
        ok = asyncio.run(bench(backend, args)) and ok
    print(f"load average after: {load_average()}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
