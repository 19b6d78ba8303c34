"""SQL statements per alert batch: the ingest benchmark's workload, posted one batch at
a time to the app in-process (no server, no concurrency), every statement counted and
timed by kind. A figure that does not depend on how busy the machine is: each
statement is a round trip made while the organisation's alert lock is held.

    .venv/bin/python benchmarks/incident_statements.py [--backend postgres|sqlite]
        [--batch 100] [--batches 40] [--warmup 40] [--postgres URL]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import httpx
from bench_db import analyze, database
from incident_ingest import ADMIN_EMAIL, ADMIN_PASSWORD, API, DEFAULT_PG, Workload, register
from sqlalchemy import event

from loom.app import create_app
from loom.settings import Settings

BASE = "http://127.0.0.1"


async def count(args: argparse.Namespace, tmp: Path) -> None:
    async with database(args.backend, args, tmp) as url:
        settings = Settings(
            env="test", database_url=url, scheduler={"enabled": False}, log={"level": "warning"},
            auth={"bootstrap_admin_email": ADMIN_EMAIL, "bootstrap_admin_password": ADMIN_PASSWORD},
        )  # fmt: skip
        app = create_app(settings, background=False)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url=BASE + API) as admin:
                body = {"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}
                (await admin.post("/auth/login", json=body)).raise_for_status()
                body = {"name": "bench", "scopes": ["read", "write", "admin"]}
                token = (await admin.post("/tokens", json=body)).json()["token"]
            source = await register(BASE, token, 25, transport)
            counts: Counter[str] = Counter()
            seconds: defaultdict[str, float] = defaultdict(float)

            def before(conn: Any, *_: Any) -> None:
                conn.info["loom_bench_t"] = time.perf_counter()

            def after(conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
                kind = " ".join(statement.split())[:80]
                counts[kind] += 1
                seconds[kind] += time.perf_counter() - conn.info["loom_bench_t"]

            workload = Workload(25, random.Random(args.seed))
            headers = {"Authorization": f"Bearer {source}"}
            async with httpx.AsyncClient(
                transport=transport, base_url=BASE + API, headers=headers
            ) as http:
                for n in range(args.warmup + args.batches):
                    if n == args.warmup:
                        await analyze(url)
                        engine = app.state.runtime.engine.sync_engine
                        event.listen(engine, "before_cursor_execute", before)
                        event.listen(engine, "after_cursor_execute", after)
                        started = time.perf_counter()
                    payload, _ = workload.batch(args.batch)
                    response = await http.post("/alerts/alertmanager", json=payload)
                    if response.status_code != 200:
                        raise RuntimeError(f"{response.status_code}: {response.text[:300]}")
            took = (time.perf_counter() - started) / args.batches * 1000
    n = args.batches
    print(f"{args.backend}: {sum(counts.values()) / n:.1f} statements per batch of {args.batch}, "
          f"{sum(seconds.values()) / n * 1000:.1f} ms in them; {took:.1f} ms per POST "
          "(in-process, one at a time)")  # fmt: skip
    for kind, c in sorted(counts.items(), key=lambda kv: -kv[1])[: args.top]:
        print(f"  {c / n:5.1f} x {seconds[kind] / n * 1000:6.2f} ms  {kind}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=["postgres", "sqlite"], default="postgres")
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--batches", type=int, default=40, help="batches counted")
    parser.add_argument("--warmup", type=int, default=40, help="batches before counting")
    parser.add_argument("--top", type=int, default=20)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--postgres", default=os.environ.get("LOOM_TEST_DATABASE_URL", DEFAULT_PG))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="loom-statements-") as tmp:
        asyncio.run(count(args, Path(tmp)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
