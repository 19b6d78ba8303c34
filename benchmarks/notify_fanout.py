"""Notification fan-out benchmark: incidents opening at a steady pace, each sent to three
channels, through a real `loom serve` (API, workers, notification consumers) on
PostgreSQL (default) or SQLite, to a local webhook receiver.

The benchmark registers three webhook channels pointing at a receiver in this process
and one rule sending every opened incident to all three, then opens `--incidents`
incidents over `--seconds` (a generic alert each, with labels of its own, so each opens
an incident of its own), posted by `--clients` clients on a fixed schedule. The receiver
notes when each message arrives. Printed: incidents opened, deliveries expected and
received (none may be lost), and the latency from the POST that opened an incident
answering (the incident exists) to its first delivery: p50 / p95 / max. Target: p95
under 1 s with 1,000 incidents in a minute and no lost notification.

    .venv/bin/python benchmarks/notify_fanout.py [--backend postgres|sqlite]
        [--incidents 1000] [--seconds 60] [--clients 4] [--postgres URL]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
from bench_db import database
from bench_machine import load_average, machine
from incident_ingest import API, DEFAULT_PG, free_port, loom_server, wait_ready

from loom.demo.fakes.server import FakeServer, RecordedCall, Reply

TARGET_P95_S = 1.0
CHANNELS = ("pager", "chat", "mail-gateway")


class Receiver(FakeServer):
    """Notes the arrival time of each message, by channel path and incident ref."""

    def __init__(self) -> None:
        super().__init__()
        self.arrivals: dict[tuple[str, str], float] = {}
        self.received = 0
        self._lock = threading.Lock()
        for name in CHANNELS:
            self.route("POST", f"/{name}", self._note)

    def _note(self, call: RecordedCall) -> Reply:
        at = time.perf_counter()
        ref = json.loads(call.body)["incident"]["ref"]
        with self._lock:
            self.received += 1
            self.arrivals.setdefault((call.path, ref), at)
        return Reply(200)


async def setup(base: str, token: str, receiver: Receiver) -> str:
    """The channels, the rule and an alert source; the source's token."""
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=base + API, headers=headers, timeout=30) as api:
        for name in CHANNELS:
            body = {"name": name, "kind": "webhook", "config": {"url": f"{receiver.url}/{name}"}}
            (await api.post("/notify/channels", json=body)).raise_for_status()
        rule = {"name": "all-opened", "events": ["incident.opened"], "channels": list(CHANNELS)}
        (await api.post("/notify/rules", json=rule)).raise_for_status()
        made = await api.post("/alert-sources", json={"name": "bench", "kind": "generic"})
        made.raise_for_status()
        return str(made.json()["token"])


async def open_incidents(
    base: str, source_token: str, args: argparse.Namespace
) -> dict[str, float]:
    """Post one alert per incident on a fixed schedule; incident ref -> when its POST
    answered."""
    opened: dict[str, float] = {}
    interval = args.seconds / args.incidents
    started = time.perf_counter()
    headers = {"Authorization": f"Bearer {source_token}"}

    async def client(first: int) -> None:
        async with httpx.AsyncClient(base_url=base + API, headers=headers, timeout=60) as http:
            for n in range(first, args.incidents, args.clients):
                await asyncio.sleep(max(0.0, started + n * interval - time.perf_counter()))
                body = {"title": f"DiskFull-{n}", "severity": "critical",
                        "labels": {"host": f"node-{n}", "bench": str(n)}}  # fmt: skip
                response = await http.post("/alerts", json=body)
                response.raise_for_status()
                for number in response.json()["incidents"]:
                    opened.setdefault(f"INC-{number}", time.perf_counter())

    await asyncio.gather(*(client(c) for c in range(args.clients)))
    return opened


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


async def bench(args: argparse.Namespace, tmp: Path) -> bool:
    async with database(args.backend, args, tmp) as url:
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        log = tmp / "server.log"
        with Receiver() as receiver, loom_server(url, port, tmp, log, workers=True) as server:
            token = await asyncio.to_thread(wait_ready, server, base)
            source = await setup(base, token, receiver)
            began = time.perf_counter()
            opened = await open_incidents(base, source, args)
            posting = time.perf_counter() - began
            expected = len(opened) * len(CHANNELS)
            for _ in range(300):  # at most a minute for the last deliveries
                if receiver.received >= expected:
                    break
                await asyncio.sleep(0.2)
            await asyncio.sleep(1)  # anything sent twice arrives now
    firsts = {}
    for (_, ref), at in receiver.arrivals.items():
        firsts[ref] = min(at, firsts.get(ref, at))
    delays = [firsts[ref] - at for ref, at in opened.items() if ref in firsts]
    lost = expected - len(receiver.arrivals)
    print(f"  {len(opened)} incidents opened in {posting:.1f} s by {args.clients} clients; "
          f"{expected} deliveries expected, {len(receiver.arrivals)} received "
          f"({receiver.received - len(receiver.arrivals)} twice), {lost} lost")  # fmt: skip
    if delays:
        p95 = percentile(delays, 95)
        print(f"  POST answered -> first delivery: p50 {percentile(delays, 50) * 1000:.0f} ms, "
              f"p95 {p95 * 1000:.0f} ms, max {max(delays) * 1000:.0f} ms")  # fmt: skip
    else:
        p95 = float("inf")
    met = lost == 0 and len(delays) == len(opened) and p95 < TARGET_P95_S
    print(f"  [no lost notification, p95 < {TARGET_P95_S:.0f} s: {'met' if met else 'MISSED'}]")
    return met


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=["postgres", "sqlite"], default="postgres")
    parser.add_argument("--incidents", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--postgres", default=os.environ.get("LOOM_TEST_DATABASE_URL", DEFAULT_PG))
    args = parser.parse_args()
    print(f"machine: {machine()}; load average {load_average()}")
    print(f"workload: {args.incidents} incidents over {args.seconds:.0f} s, each to "
          f"{len(CHANNELS)} webhook channels; loom serve on {args.backend}")  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="loom-notify-bench-") as tmp:
        ok = asyncio.run(bench(args, Path(tmp)))
    print(f"load average after: {load_average()}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
