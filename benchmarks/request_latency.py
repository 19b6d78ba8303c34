"""Request latency benchmark: `POST /api/v1/requests` against a real `loom serve` on
PostgreSQL, from concurrent clients.

`loom serve` runs as a subprocess on a throwaway database, serving a catalog of one item
(a form of two fields, two `rest-api` actions). The benchmark logs in as the first admin
and mints a real API token through the API, then C clients (each its own keep-alive
connection) submit requests back to back, each with a distinct `Idempotency-Key`, so every
call goes through authentication, the idempotency store, form validation, the request and
its tasks, the audit entry and the first task's queue message. Each run sends N requests
after a warm-up; p50/p95/p99 latency and throughput are printed per run, and their
medians over the runs.

By default the server runs with `--no-worker` (the API alone, as API replicas run in a
scaled-out deployment): the tasks wait in the queue. With `--workers` the server runs its
worker pool too, and each task's action is a GET of the server's own
`/api/v1/health`, so the API shares the process with fulfillment.

Target on the 2-core reference machine: p95 < 50 ms at 20 clients. The clients run on
the same machine (one process, httpx), so they take CPU from the server and PostgreSQL.

    .venv/bin/python benchmarks/request_latency.py [--clients 20] [--requests 1000]
        [--runs 3] [--warmup 100] [--workers] [--postgres URL] [--keep-log FILE]

The database is created on the server (LOOM_TEST_DATABASE_URL, else
postgresql://postgres@127.0.0.1:5432/postgres) and dropped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil
from bench_machine import load_average, machine
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from loom.client import LoomClient
from loom.settings import Settings

TARGET_P95_MS = 50.0
DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/postgres"
ADMIN_EMAIL = "admin@loom.bench"
ADMIN_PASSWORD = "bench-password-1"  # noqa: S105 - a throwaway database
ITEM_ID = "bench-service"


def item_yaml(port: int) -> str:
    health = f"http://127.0.0.1:{port}/api/v1/health"
    return f"""\
apiVersion: loom/v1
kind: CatalogItem
metadata: {{id: {ITEM_ID}, name: Benchmark service, category: benchmarks}}
spec:
  form:
    fields:
      - {{id: name, type: string, required: true, pattern: "^[a-z][a-z0-9-]*$"}}
      - {{id: size, type: enum, options: [small, medium, large], default: small}}
  fulfillment:
    actions:
      - id: check
        type: rest-api
        config: {{method: GET, url: "{health}?name={{{{ .current.name }}}}"}}
      - id: check_again
        type: rest-api
        config: {{method: GET, url: "{health}?size={{{{ .current.size }}}}"}}
"""


@dataclass
class RunResult:
    latencies_ms: list[float]
    seconds: float
    server_cpu_seconds: float = 0.0

    @property
    def server_cpu_ms(self) -> float:
        """CPU time of the server process per request."""
        return self.server_cpu_seconds / len(self.latencies_ms) * 1000

    def percentile(self, p: float) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]

    @property
    def throughput(self) -> float:
        return len(self.latencies_ms) / self.seconds


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def loom_command() -> str:
    beside_python = Path(sys.executable).with_name("loom")
    return str(beside_python) if beside_python.exists() else "loom"


@contextlib.contextmanager
def throwaway_database(server: str) -> Iterator[str]:
    """A new database on the PostgreSQL server `server`, dropped afterwards."""
    server = Settings(env="test", database_url=server).database_url
    name = f"loom_bench_{uuid.uuid4().hex[:8]}"
    asyncio.run(_admin(server, f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(server).set(database=name).render_as_string(hide_password=False)
    finally:
        asyncio.run(_admin(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _admin(server: str, statement: str) -> None:
    engine = create_async_engine(server, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            await conn.execute(text(statement))
    finally:
        await engine.dispose()


@contextlib.contextmanager
def loom_server(
    database_url: str, port: int, catalog: Path, args: argparse.Namespace, log: Path
) -> Iterator[subprocess.Popen[bytes]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOOM_")}
    env.update(
        LOOM_DATABASE_URL=database_url,
        LOOM_AUTH__BOOTSTRAP_ADMIN_EMAIL=ADMIN_EMAIL,
        LOOM_AUTH__BOOTSTRAP_ADMIN_PASSWORD=ADMIN_PASSWORD,
        LOOM_CATALOG__SOURCE=str(catalog),
        LOOM_CATALOG__CACHE_DIR=str(catalog.parent / "cache"),
        LOOM_ALLOWED_HOSTS='["127.0.0.1"]',
        LOOM_LOG__LEVEL=args.log_level,
    )
    command = [loom_command(), "serve", "--port", str(port)]
    if not args.workers:
        command.append("--no-worker")
    with log.open("wb") as out:
        server = subprocess.Popen(command, env=env, cwd=catalog.parent, stdout=out, stderr=out)
    try:
        yield server
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def wait_ready(server: subprocess.Popen[bytes], base: str, timeout: float = 60) -> str:
    """Wait for /health, log in, mint a token, wait for the item to be served; the token."""
    deadline = time.monotonic() + timeout
    with httpx.Client(timeout=2.0) as probe:
        while True:
            if server.poll() is not None:
                raise RuntimeError(f"loom serve exited with {server.returncode}")
            with contextlib.suppress(httpx.TransportError):
                if probe.get(f"{base}/api/v1/health").status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError("loom serve did not answer /api/v1/health")
            time.sleep(0.05)
    with LoomClient(base) as client:
        client.identity.login(ADMIN_EMAIL, ADMIN_PASSWORD)
        token: str = client.identity.create_token("benchmark", ["read", "write"]).token
    with httpx.Client(base_url=base, headers=_auth(token), timeout=2.0) as api:
        while api.get(f"/api/v1/catalog/{ITEM_ID}").status_code != 200:
            if time.monotonic() > deadline:
                status = api.get("/api/v1/catalog/sync-status").text
                raise RuntimeError(f"the catalog item {ITEM_ID} was not served: {status}")
            time.sleep(0.1)
    return token


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def one_run(
    base: str, token: str, clients: int, requests: int, tag: str, rate: float = 0
) -> RunResult:
    """`requests` POSTs from `clients` clients: back to back (`rate` 0), or request i
    due at i/rate s, its latency counted from when it was due (so time spent waiting for
    a free client counts, as it would for a caller)."""
    latencies: list[float] = []
    counter = iter(range(requests))
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    # Made before the clock starts: an httpx client takes some 25 ms to set up (its TLS
    # context), which would otherwise count against the first requests' latency.
    https = [
        httpx.AsyncClient(base_url=base, headers=_auth(token), limits=limits, timeout=30.0)
        for _ in range(clients)
    ]

    async def client(http: httpx.AsyncClient) -> None:
        async with http:
            for i in counter:
                body = {"item": ITEM_ID, "team": "platform", "inputs": {"name": f"{tag}-{i}"}}
                headers = {"Idempotency-Key": uuid.uuid4().hex}
                sent = time.perf_counter()
                if rate:
                    due = run_start + i / rate
                    await asyncio.sleep(max(0.0, due - sent))
                    sent = due
                response = await http.post("/api/v1/requests", json=body, headers=headers)
                latencies.append((time.perf_counter() - sent) * 1000)
                if response.status_code != 201:
                    raise RuntimeError(f"{response.status_code}: {response.text[:300]}")

    run_start = time.perf_counter()
    await asyncio.gather(*(client(http) for http in https))
    return RunResult(latencies, time.perf_counter() - run_start)


def _cpu_seconds(process: psutil.Process) -> float:
    times = process.cpu_times()
    return float(times.user + times.system)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--requests", type=int, default=1000, help="requests per run")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=100)
    parser.add_argument(
        "--rate", type=float, default=0, help="requests/s offered in all (0: back to back)"
    )
    parser.add_argument("--workers", action="store_true", help="run the worker pool as well")
    parser.add_argument("--log-level", default="info", help="the server's (default: Loom's)")
    parser.add_argument("--postgres", default=os.environ.get("LOOM_TEST_DATABASE_URL", DEFAULT_PG))
    parser.add_argument("--keep-log", type=Path, help="copy the server's output here")
    args = parser.parse_args()

    mode = "workers running (4 consumers)" if args.workers else "workers disabled (--no-worker)"
    print(f"machine: {machine()}; load average {load_average()}")
    pace = f"offered at {args.rate:g}/s" if args.rate else "back to back"
    print(
        f"workload: {args.clients} concurrent clients, {args.requests} POST /api/v1/requests "
        f"per run ({pace}), distinct Idempotency-Keys; loom serve on PostgreSQL, {mode}, "
        f"log level {args.log_level}"
    )
    results: list[RunResult] = []
    with tempfile.TemporaryDirectory(prefix="loom-latency-bench-") as tmp:
        port = free_port()
        catalog = Path(tmp) / "catalog"
        (catalog / "catalog").mkdir(parents=True)
        (catalog / "catalog" / "service.yaml").write_text(item_yaml(port))
        log = Path(tmp) / "server.log"
        base = f"http://127.0.0.1:{port}"
        try:
            with (
                throwaway_database(args.postgres) as url,
                loom_server(url, port, catalog, args, log) as server,
            ):
                token = wait_ready(server, base)
                asyncio.run(one_run(base, token, args.clients, args.warmup, "warmup"))
                process = psutil.Process(server.pid)
                for run in range(args.runs):
                    cpu_before = _cpu_seconds(process)
                    result = asyncio.run(
                        one_run(base, token, args.clients, args.requests, f"run{run}", args.rate)
                    )
                    result.server_cpu_seconds = _cpu_seconds(process) - cpu_before
                    results.append(result)
                    print(
                        f"  run {run + 1}: p50 {result.percentile(50):6.1f} ms   "
                        f"p95 {result.percentile(95):6.1f} ms   "
                        f"p99 {result.percentile(99):6.1f} ms   "
                        f"max {max(result.latencies_ms):6.1f} ms   "
                        f"{result.throughput:5.0f} requests/s   "
                        f"server CPU {result.server_cpu_ms:.1f} ms per request",
                        flush=True,
                    )
        finally:
            if args.keep_log is not None and log.exists():
                args.keep_log.write_bytes(log.read_bytes())

    p50 = statistics.median(r.percentile(50) for r in results)
    p95 = statistics.median(r.percentile(95) for r in results)
    p99 = statistics.median(r.percentile(99) for r in results)
    rate = statistics.median(r.throughput for r in results)
    cpu = statistics.median(r.server_cpu_ms for r in results)
    met = p95 < TARGET_P95_MS
    print(
        f"medians over {len(results)} runs: p50 {p50:.1f} ms, p95 {p95:.1f} ms, "
        f"p99 {p99:.1f} ms, {rate:.0f} requests/s, server CPU {cpu:.1f} ms per request  "
        f"[target p95 < {TARGET_P95_MS:.0f} ms: {'met' if met else 'MISSED'}]"
    )
    print(f"load average after: {load_average()}")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
