"""Alert ingestion benchmark: Alertmanager webhook batches from concurrent clients into a
real `loom serve`, on PostgreSQL (default) or SQLite.

`loom serve --no-worker` runs as a subprocess on a throwaway database (`--servers` of
them, sharing the clients). The benchmark registers an organisation of `--services`
services over the API: systems of eight (web -> api -> {orders, payments} -> {db, cache,
queue}, payments -> ledger), each system its own Kubernetes namespace, so a failure in
one system forms its own incident. It registers an `alertmanager` alert source, then
`--clients` clients (httpx, one keep-alive connection each) post Alertmanager webhook
payloads (version 4) of `--batch` alerts. A batch is one Alertmanager notification:
alerts of a few failing systems with realistic labels (alertname, service, severity,
namespace, pod, instance, job, environment); about half are new fingerprints, a third
repeats of firing ones, the rest resolves. The failing systems move on over the run, so
several incidents form.

Two timed runs of `--seconds` on the same server, after a warm-up and an ANALYZE:
- back to back: each client posts its next batch as soon as the last one answers; the
  alerts/s is what the server can take (POST latency there is mostly the clients' own
  queue: 8 clients always waiting on one organisation);
- paced: batches are due at `--rate` alerts/s in all (client after client), and each
  batch's latency is counted from when it was due, so a client held up by a slow answer
  sends late and that lateness counts: the latency a sender sees at that load.

Printed for each: alerts/s ingested and grouped (alerts in answered POSTs over the wall
time), POST latency p50 / p95 / max, CPU per POST of the server, PostgreSQL and the
clients, incidents formed, and a check of the claim that grouping is done when the POST
answers: for a sample of batches, right after the POST answers, the database is read for
the batch's new fingerprints, each of which must already be in an incident. Targets, on
PostgreSQL: >= 2,000 alerts/s back to back, and p95 < 100 ms paced at 2,000 alerts/s.

    .venv/bin/python benchmarks/incident_ingest.py [--backend postgres|sqlite]
        [--services 200] [--clients 8] [--servers 1] [--batch 100] [--seconds 25]
        [--rate 2000] [--postgres URL] [--keep-log FILE] [--profile FILE]

PostgreSQL: a throwaway database on the server (LOOM_TEST_DATABASE_URL, else
postgresql://postgres@127.0.0.1:5432/postgres), dropped at the end. SQLite: a file in a
temporary directory. The clients run on the same machine (one process), so they take
CPU from the server and the database. `--profile` samples the server with py-spy
during the paced run. `incident_statements.py` counts the statements each batch makes,
whatever the load.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psutil
from bench_db import analyze, database
from bench_machine import load_average, machine
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import create_async_engine

from loom.client import LoomClient
from loom.incidents.models import Alert, Incident
from loom.settings import Settings

TARGET_RATE = 2000.0
TARGET_P95_MS = 100.0
DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/postgres"
ADMIN_EMAIL = "admin@loom.bench"
ADMIN_PASSWORD = "bench-password-1"  # noqa: S105 - a throwaway database
API = "/api/v1"
#: One system: (service, the services it calls).
SYSTEM = [
    ("web", ["api"]),
    ("api", ["orders", "payments"]),
    ("orders", ["db", "cache", "queue"]),
    ("payments", ["db", "ledger"]),
    ("ledger", []),
    ("db", []),
    ("cache", []),
    ("queue", []),
]
#: Per role: what fires there (alertname, severity, summary).
ALERTS = {
    "web": [("HighErrorRate", "critical", "5xx ratio above 5 %"),
            ("SlowPages", "warning", "p95 page load above 3 s")],
    "api": [("HighLatency", "warning", "p95 above 2 s"),
            ("HighErrorRate", "critical", "5xx ratio above 5 %")],
    "orders": [("HighErrorRate", "critical", "5xx ratio above 5 %"),
               ("PodCrashLooping", "warning", "restarted 5 times in 10 minutes")],
    "payments": [("HighErrorRate", "critical", "5xx ratio above 5 %"),
                 ("KafkaConsumerLag", "warning", "consumer lag above 10k")],
    "ledger": [("HighLatency", "warning", "p95 above 2 s")],
    "db": [("PostgresDown", "critical", "pg_up == 0"),
           ("PostgresTooManyConnections", "warning", "connections above 90 %"),
           ("PostgresReplicationLag", "warning", "replica lag above 30 s")],
    "cache": [("RedisDown", "critical", "redis_up == 0"),
              ("RedisMemoryHigh", "warning", "memory above 90 %")],
    "queue": [("RabbitmqQueueGrowing", "warning", "ready messages growing for 10 min")],
}  # fmt: skip
#: A batch's mix: new fingerprints, repeats of firing alerts, resolves.
MIX = (0.5, 0.35, 0.15)
#: How many systems fail at a time, and every how many batches one recovers.
FAILING_AT_ONCE = 4
ROTATE_EVERY = 40


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def loom_command() -> str:
    beside_python = Path(sys.executable).with_name("loom")
    return str(beside_python) if beside_python.exists() else "loom"


@contextlib.contextmanager
def loom_server(
    url: str, port: int, tmp: Path, log: Path, *, workers: bool = False
) -> Iterator[subprocess.Popen[bytes]]:
    """`loom serve` on `url` (API only, unless `workers`)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOOM_")}
    env.update(
        LOOM_DATABASE_URL=url,
        LOOM_AUTH__BOOTSTRAP_ADMIN_EMAIL=ADMIN_EMAIL,
        LOOM_AUTH__BOOTSTRAP_ADMIN_PASSWORD=ADMIN_PASSWORD,
        LOOM_CATALOG__CACHE_DIR=str(tmp / "cache"),
        LOOM_ALLOWED_HOSTS='["127.0.0.1"]',
        LOOM_LOG__LEVEL="warning",
    )
    command = [loom_command(), "serve", "--port", str(port), *([] if workers else ["--no-worker"])]
    with log.open("wb") as out:
        server = subprocess.Popen(command, env=env, cwd=tmp, stdout=out, stderr=out)
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
    """Wait for /health, log in as the first admin, mint an admin token."""
    deadline = time.monotonic() + timeout
    with httpx.Client(timeout=2.0) as probe:
        while True:
            if server.poll() is not None:
                raise RuntimeError(f"loom serve exited with {server.returncode}")
            with contextlib.suppress(httpx.TransportError):
                if probe.get(f"{base}{API}/health").status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError("loom serve did not answer /api/v1/health")
            time.sleep(0.05)
    with LoomClient(base) as client:
        client.identity.login(ADMIN_EMAIL, ADMIN_PASSWORD)
        token: str = client.identity.create_token("benchmark", ["read", "write", "admin"]).token
    return token


async def register(
    base: str, token: str, systems: int, transport: httpx.AsyncBaseTransport | None = None
) -> str:
    """The registry (systems of eight services, over the API) and an alertmanager
    source; the source's token."""
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(
        base_url=base + API, headers=headers, timeout=30, transport=transport
    ) as api:
        _ok(await api.post("/teams", json={"slug": "shop", "name": "Shop"}))

        async def system(n: int) -> None:
            for role, _ in reversed(SYSTEM):
                body = {"slug": f"s{n:02d}-{role}", "name": f"System {n} {role}",
                        "team": "shop", "lifecycle": "production", "tier": 1}  # fmt: skip
                _ok(await api.post("/services", json=body))
            for role, calls in SYSTEM:
                for called in calls:
                    path = f"/services/s{n:02d}-{role}/dependencies"
                    _ok(await api.post(path, json={"target": f"s{n:02d}-{called}"}))

        for at in range(0, systems, 8):
            await asyncio.gather(*(system(n) for n in range(at, min(at + 8, systems))))
        source = _ok(await api.post("/alert-sources", json={"name": "am", "kind": "alertmanager"}))
    return str(source["token"])


def _ok(response: httpx.Response) -> Any:
    if response.status_code not in (200, 201):
        raise RuntimeError(f"{response.request.url}: {response.status_code} {response.text[:300]}")
    return response.json()


@dataclass
class Firing:
    labels: dict[str, str]
    annotations: dict[str, str]
    starts_at: str
    fingerprint: str


@dataclass
class Workload:
    """What the clients send: shared state of which systems fail and what fires."""

    systems: int
    rng: random.Random
    failing: list[int] = field(default_factory=list)
    #: Alerts firing now, in a list for picking at random in O(1) (swap-and-pop).
    firing: list[Firing] = field(default_factory=list)
    serial: int = 0
    batches: int = 0

    def __post_init__(self) -> None:
        self.failing = self.rng.sample(range(self.systems), FAILING_AT_ONCE)

    def _new(self) -> Firing:
        self.serial += 1
        system = self.rng.choice(self.failing)
        # The systems' back ends fail more often than their front ends.
        role = self.rng.choices([r for r, _ in SYSTEM], weights=[1, 2, 2, 2, 1, 4, 2, 2])[0]
        alertname, severity, summary = self.rng.choice(ALERTS[role])
        slug = f"s{system:02d}-{role}"
        replica = f"{self.serial:06x}"
        labels = {
            "alertname": alertname, "service": slug, "severity": severity,
            "namespace": f"system-{system:02d}", "pod": f"{slug}-7c9f-{replica}",
            "instance": f"10.{system}.{self.serial % 250}.{self.serial % 200}:9100",
            "job": slug, "environment": "production", "prometheus": "monitoring/k8s",
        }  # fmt: skip
        fingerprint = hashlib.sha256(repr(sorted(labels.items())).encode()).hexdigest()[:16]
        started = datetime.now(UTC) - timedelta(seconds=self.rng.randrange(5, 120))
        alert = Firing(labels, {"summary": f"{slug}: {summary}", "runbook_url": "https://runbooks.test/"
                                + alertname}, _iso(started), fingerprint)  # fmt: skip
        self.firing.append(alert)
        return alert

    def _pick(self, seen: set[str], resolve: bool) -> Firing | None:
        """A firing alert not yet in this batch (removed from the firing ones if
        `resolve`), or None."""
        for _ in range(3):
            if not self.firing:
                return None
            at = self.rng.randrange(len(self.firing))
            alert = self.firing[at]
            if alert.fingerprint in seen:
                continue
            if resolve:
                self.firing[at] = self.firing[-1]
                self.firing.pop()
            return alert
        return None

    def batch(self, size: int) -> tuple[dict[str, Any], list[str]]:
        """An Alertmanager webhook payload, and the fingerprints new in it."""
        self.batches += 1
        if self.batches % ROTATE_EVERY == 0:  # one failing system recovers, another fails
            healthy = [n for n in range(self.systems) if n not in self.failing]
            self.failing[self.rng.randrange(len(self.failing))] = self.rng.choice(healthy)
        alerts: list[dict[str, Any]] = []
        new: list[str] = []
        seen: set[str] = set()
        for _ in range(size):
            kind = self.rng.choices(("new", "repeat", "resolve"), weights=MIX)[0]
            old = None if kind == "new" else self._pick(seen, resolve=kind == "resolve")
            if old is None:
                alert = self._new()
                new.append(alert.fingerprint)
                status, ends = "firing", "0001-01-01T00:00:00Z"
            elif kind == "repeat":
                alert, status, ends = old, "firing", "0001-01-01T00:00:00Z"
            else:
                alert, status, ends = old, "resolved", _iso(datetime.now(UTC))
            seen.add(alert.fingerprint)
            alerts.append({
                "status": status, "labels": alert.labels, "annotations": alert.annotations,
                "startsAt": alert.starts_at, "endsAt": ends,
                "generatorURL": "http://prometheus.test/graph?g0.expr=up",
                "fingerprint": alert.fingerprint,
            })  # fmt: skip
        common = {"environment": "production", "prometheus": "monitoring/k8s"}
        payload = {
            "version": "4", "groupKey": '{}:{environment="production"}', "truncatedAlerts": 0,
            "status": "firing" if any(a["status"] == "firing" for a in alerts) else "resolved",
            "receiver": "loom", "groupLabels": {"environment": "production"},
            "commonLabels": common, "commonAnnotations": {},
            "externalURL": "http://alertmanager.test:9093", "alerts": alerts,
        }  # fmt: skip
        return payload, new


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


@dataclass
class Run:
    latencies_ms: list[float] = field(default_factory=list)
    alerts: int = 0
    seconds: float = 0.0
    sampled: int = 0
    sampled_fingerprints: int = 0
    ungrouped: list[str] = field(default_factory=list)

    def percentile(self, p: float) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


async def ingest(
    bases: list[str],
    source_token: str,
    db_url: str,
    args: argparse.Namespace,
    workload: Workload,
    rate: float = 0.0,
) -> Run:
    """`--clients` clients posting batches for `--seconds`: back to back (`rate` 0), or
    paced so that batches are due at `rate` alerts/s in all, client after client, each
    batch's latency counted from when it was due (a client still waiting for its last
    answer sends late, and that lateness counts). Every `--sample`-th batch, its new
    fingerprints are looked up in the database as soon as the POST answers (outside the
    timing)."""
    run = Run()
    headers = {"Authorization": f"Bearer {source_token}"}
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    https = [
        httpx.AsyncClient(
            base_url=bases[n % len(bases)] + API, headers=headers, limits=limits, timeout=60
        )
        for n in range(args.clients)
    ]
    engine = create_async_engine(Settings(env="test", database_url=db_url).database_url)
    counter = 0

    async def in_incidents(fingerprints: list[str]) -> list[str]:
        async with engine.connect() as conn:
            rows = await conn.execute(
                select(Alert.fingerprint)
                .join(Incident, Incident.id == Alert.incident_id)
                .where(Alert.fingerprint.in_(fingerprints))
            )
            found = {r[0] for r in rows}
        return [f for f in fingerprints if f not in found]

    interval = args.batch / rate if rate else 0.0

    async def client(at: int, http: httpx.AsyncClient) -> None:
        nonlocal counter
        async with http:
            while time.perf_counter() < stop:
                payload, new = workload.batch(args.batch)
                counter += 1
                sample = counter % args.sample == 0 and bool(new)
                if interval:
                    due = started + at * interval
                    if due >= stop:
                        break
                    at += args.clients
                    await asyncio.sleep(max(0.0, due - time.perf_counter()))
                    sent = due
                else:
                    sent = time.perf_counter()
                response = await http.post("/alerts/alertmanager", json=payload)
                run.latencies_ms.append((time.perf_counter() - sent) * 1000)
                if response.status_code not in (200, 201, 202, 207):
                    raise RuntimeError(f"{response.status_code}: {response.text[:500]}")
                run.alerts += len(payload["alerts"])
                if sample:
                    run.sampled += 1
                    run.sampled_fingerprints += len(new)
                    run.ungrouped += await in_incidents(new)

    started = time.perf_counter()
    stop = started + args.seconds
    try:
        await asyncio.gather(*(client(at, http) for at, http in enumerate(https)))
    finally:
        await engine.dispose()
    run.seconds = time.perf_counter() - started
    return run


async def tally(db_url: str) -> dict[str, int]:
    engine = create_async_engine(Settings(env="test", database_url=db_url).database_url)
    try:
        async with engine.connect() as conn:
            return {
                "alerts": await conn.scalar(select(func.count()).select_from(Alert)) or 0,
                "deliveries": await conn.scalar(select(func.sum(Alert.count))) or 0,
                "firing": await conn.scalar(
                    select(func.count()).where(Alert.status == "firing")
                ) or 0,
                # Firing, not silenced, in no incident: grouping missed it. (A resolve
                # that overtakes its own fire, from another client, is stored resolved
                # and groups nothing, as designed.)
                "ungrouped": await conn.scalar(
                    select(func.count()).where(Alert.incident_id.is_(None),
                                               Alert.silence_id.is_(None),
                                               Alert.status == "firing")
                ) or 0,
                "incidents": await conn.scalar(select(func.count()).select_from(Incident)) or 0,
            }  # fmt: skip
    finally:
        await engine.dispose()


def _cpu_seconds(process: psutil.Process) -> float:
    times = process.cpu_times()
    return float(times.user + times.system)


async def backends_cpu(db_url: str) -> dict[int, float]:
    """CPU seconds so far of each PostgreSQL backend connected to the benchmark's
    database (a local server: its backends are processes of this machine)."""
    engine = create_async_engine(Settings(env="test", database_url=db_url).database_url)
    try:
        async with engine.connect() as conn:
            pids = await conn.scalars(text(
                "SELECT pid FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            ))  # fmt: skip
            cpu: dict[int, float] = {}
            for pid in pids:
                with contextlib.suppress(psutil.Error):
                    cpu[pid] = _cpu_seconds(psutil.Process(pid))
            return cpu
    finally:
        await engine.dispose()


@contextlib.contextmanager
def profiling(pid: int, out: Path | None) -> Iterator[None]:
    """py-spy (if asked for; `pip install py-spy`) sampling the server while the block
    runs; collapsed stacks to `out`, and the heaviest frames printed."""
    if out is None:
        yield
        return
    spy = subprocess.Popen(
        ["py-spy", "record", "--pid", str(pid), "--rate", "250", "--format", "raw",
         "--output", str(out), "--nonblocking"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        yield
    finally:
        spy.send_signal(signal.SIGINT)
        spy.wait(timeout=60)
    if out.exists():
        print_profile(out)


def print_profile(collapsed: Path, top: int = 25) -> None:
    """From py-spy's collapsed stacks: Loom's own frames by the share of samples they were
    on the stack (less the request plumbing every sample shares), and the frames the
    samples were in (self)."""
    inclusive: dict[str, int] = {}
    leaf: dict[str, int] = {}
    total = 0
    for line in collapsed.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        frames = stack.split(";")
        total += int(count)
        leaf[frames[-1]] = leaf.get(frames[-1], 0) + int(count)
        for frame in set(frames):
            inclusive[frame] = inclusive.get(frame, 0) + int(count)
    if not total:
        print("  profile: no samples")
        return
    handler = max((c for f, c in inclusive.items() if "loom/incidents/" in f), default=total)
    print(f"  profile: {total} samples of the server ({handler / total * 100:.0f} % in the "
          "alert endpoint); Loom frames, inclusive:")  # fmt: skip
    own = [(f, c) for f, c in inclusive.items() if "loom/" in f and c <= handler]
    for frame, count in sorted(own, key=lambda kv: -kv[1])[:top]:
        print(f"    {count / total * 100:5.1f} %  {frame}")
    print("  where the samples were (self):")
    for frame, count in sorted(leaf.items(), key=lambda kv: -kv[1])[:12]:
        print(f"    {count / total * 100:5.1f} %  {frame}")


@dataclass
class Phase:
    """One timed run and what it cost."""

    name: str
    run: Run
    server_cpu: float
    db_cpu: float
    client_cpu: float
    before: dict[str, int]
    after: dict[str, int]

    @property
    def rate(self) -> float:
        return self.run.alerts / self.run.seconds

    def report(self, args: argparse.Namespace) -> None:
        run, batches = self.run, len(self.run.latencies_ms)
        print(f"  {self.name}: {batches} batches of {args.batch} alerts from {args.clients} "
              f"clients in {run.seconds:.1f} s")  # fmt: skip
        print(f"    ingested and grouped  {self.rate:7.0f} alerts/s   ({batches / run.seconds:.1f} "
              f"POSTs/s; server CPU {self.server_cpu / run.seconds * 100:.0f} % of a core, "
              f"{self.server_cpu / batches * 1000:.1f} ms per POST)")  # fmt: skip
        if args.backend == "postgres":
            print(f"    PostgreSQL CPU        {self.db_cpu / batches * 1000:.1f} ms per POST (the "
                  "backends connected to the benchmark's database)")  # fmt: skip
        print(f"    POST latency          p50 {run.percentile(50):6.1f} ms   p95 "
              f"{run.percentile(95):6.1f} ms   max {max(run.latencies_ms):6.1f} ms")  # fmt: skip
        formed = self.after["incidents"] - self.before["incidents"]
        print(f"    incidents formed      {formed}; alert rows {self.after['alerts']}, firing "
              f"{self.after['firing']}, deliveries counted {self.after['deliveries']}")  # fmt: skip
        grouped = run.sampled_fingerprints - len(run.ungrouped)
        print(f"    in an incident when the POST answered: {grouped} of "
              f"{run.sampled_fingerprints} new fingerprints in {run.sampled} sampled "
              "batches")  # fmt: skip
        print(f"    firing alerts in no incident (not silenced): {self.after['ungrouped']}")
        print(f"    benchmark clients' CPU {self.client_cpu / batches * 1000:.1f} ms per POST")

    @property
    def grouped(self) -> bool:
        return not self.run.ungrouped and not self.after["ungrouped"]


async def phase(
    name: str,
    rate: float,
    args: argparse.Namespace,
    servers: list[subprocess.Popen[bytes]],
    target: tuple[list[str], str, str, Workload],
) -> Phase:
    bases, source_token, url, workload = target
    before = await tally(url)
    processes, me = [psutil.Process(server.pid) for server in servers], psutil.Process()
    db_before = await backends_cpu(url) if args.backend == "postgres" else {}
    cpu, client_cpu = sum(map(_cpu_seconds, processes)), _cpu_seconds(me)
    with profiling(servers[0].pid, args.profile if rate else None):  # the paced run
        run = await ingest(bases, source_token, url, args, workload, rate)
    cpu = sum(map(_cpu_seconds, processes)) - cpu
    client_cpu = _cpu_seconds(me) - client_cpu
    db_after = await backends_cpu(url) if args.backend == "postgres" else {}
    db_cpu = sum(t - db_before.get(pid, 0.0) for pid, t in db_after.items())
    return Phase(name, run, cpu, db_cpu, client_cpu, before, await tally(url))


async def bench(args: argparse.Namespace, tmp: Path) -> bool:
    """Two timed runs on the same servers: back to back (how many alerts/s they can
    take), then paced at `--rate` alerts/s (how long a POST takes at that load)."""
    async with database(args.backend, args, tmp) as url:
        log = tmp / "server.log"
        try:
            with contextlib.ExitStack() as stack:
                # The first server migrates the database; the others start once it has.
                servers: list[subprocess.Popen[bytes]] = []
                bases: list[str] = []
                tokens: list[str] = []
                for n in range(args.servers):
                    port = free_port()
                    bases.append(f"http://127.0.0.1:{port}")
                    out = log if n == 0 else tmp / f"server-{n}.log"
                    servers.append(stack.enter_context(loom_server(url, port, tmp, out)))
                    tokens.append(await asyncio.to_thread(wait_ready, servers[-1], bases[-1]))
                systems = max(1, args.services // len(SYSTEM))
                began = time.perf_counter()
                source_token = await register(bases[0], tokens[0], systems)
                took = time.perf_counter() - began
                print(f"  registry: {systems * len(SYSTEM)} services in {systems} systems, "
                      f"{systems * 9} dependencies ({took:.1f} s)")  # fmt: skip
                workload = Workload(systems, random.Random(args.seed))
                warm = argparse.Namespace(**{**vars(args), "seconds": 2, "clients": 2})
                await ingest(bases, source_token, url, warm, workload)
                await analyze(url)
                target = (bases, source_token, url, workload)
                full = await phase("back to back", 0.0, args, servers, target)
                full.report(args)
                paced = await phase(f"paced at {args.rate:.0f} alerts/s", args.rate, args,
                                    servers, target)  # fmt: skip
                paced.report(args)
        finally:
            if args.keep_log is not None and log.exists():
                args.keep_log.write_bytes(log.read_bytes())
    p95 = paced.run.percentile(95)
    met = (
        full.rate >= TARGET_RATE and args.rate >= TARGET_RATE and p95 < TARGET_P95_MS
        and full.grouped and paced.grouped
    )  # fmt: skip
    print(f"  [>= {TARGET_RATE:.0f} alerts/s back to back ({full.rate:.0f}); at "
          f"{args.rate:.0f} alerts/s p95 < {TARGET_P95_MS:.0f} ms ({p95:.1f}); every sampled "
          f"alert grouped on answer: {'met' if met else 'MISSED'}]")  # fmt: skip
    return met


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=["postgres", "sqlite"], default="postgres")
    parser.add_argument("--services", type=int, default=200)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--servers", type=int, default=1,
                        help="API processes (loom serve) sharing the clients")  # fmt: skip
    parser.add_argument("--batch", type=int, default=100, help="alerts per webhook POST")
    parser.add_argument("--seconds", type=float, default=25, help="of each timed run")
    parser.add_argument("--rate", type=float, default=TARGET_RATE,
                        help="alerts/s offered in the paced run")  # fmt: skip
    parser.add_argument("--sample", type=int, default=10, help="check every Nth batch's grouping")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--postgres", default=os.environ.get("LOOM_TEST_DATABASE_URL", DEFAULT_PG))
    parser.add_argument("--keep-log", type=Path, help="copy the server's output here")
    parser.add_argument("--profile", type=Path, help="py-spy the server into this file")
    args = parser.parse_args()
    print(f"machine: {machine()}; load average {load_average()}")
    print(f"workload: {args.clients} clients posting Alertmanager batches of {args.batch} "
          f"(new/repeat/resolve {MIX}) for {args.seconds:.0f} s; loom serve --no-worker on "
          f"{args.backend}")  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="loom-ingest-bench-") as tmp:
        ok = asyncio.run(bench(args, Path(tmp)))
    print(f"load average after: {load_average()}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
