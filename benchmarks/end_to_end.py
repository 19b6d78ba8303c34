"""End-to-end fulfillment benchmark: requests submitted through the provisioning service
and carried out by the worker pool, with an action that does nothing, on PostgreSQL and
SQLite.

A `noop` action type is registered in this process only (the product has none): its
config maps output keys to templated values, which the worker renders like any other
config, and those are its outputs. The catalog holds one item whose fulfillment is A
such actions, each reading the output of the one before. Each run starts the worker pool
the way `loom serve` does (`start_workers` with the default settings: 4 consumers, on
uvloop as under uvicorn), submits R requests from S concurrent submitters (each a
`prepare` + `submit` in its own transaction, as the API does), and waits for every
request to complete. The figure is tasks/s from the first task queued to the last
request completed (timestamps the product itself stores), so it counts submitting as
well as claiming, rendering, running and finishing each task and queueing the next, with
every state change audited. The CPU time of the process per task is printed beside it
(steadier than wall time on a busy machine), and medians over the runs.

Target on the 2-core reference machine: >= 300 tasks/s on PostgreSQL (SQLite: no target).

    .venv/bin/python benchmarks/end_to_end.py [--requests 300] [--actions 3]
        [--submitters 4] [--concurrency N] [--runs 3] [--backend sqlite|postgres|both]
        [--postgres URL] [--log-level warning] [--profile]

PostgreSQL: a throwaway database is created on the server (LOOM_TEST_DATABASE_URL, else
postgresql://postgres@127.0.0.1:5432/postgres), migrated, and dropped at the end.
SQLite: a file in a temporary directory. The product logs at `warning` here (its default
is `info`: one JSON line per task on stderr).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import io
import multiprocessing
import multiprocessing.process
import os
import pstats
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import psutil
from bench_db import database
from bench_machine import load_average, machine
from pydantic import BaseModel, ConfigDict
from sqlalchemy import func, select

from loom.actions.base import ActionContext, ActionResult
from loom.actions.registry import ActionType, action_types, register
from loom.app import prepare_database
from loom.auth.models import User
from loom.auth.principal import load_principal
from loom.catalog import service as catalog
from loom.catalog.sync import sync
from loom.platform.logging import configure_logging
from loom.platform.runtime import Runtime
from loom.provisioning import service
from loom.provisioning.dispatch import enqueue_for
from loom.provisioning.models import FulfillmentTask, Request
from loom.provisioning.states import RequestState
from loom.secrets.crypto import derive_key
from loom.settings import Settings
from loom.workers.lifecycle import start_workers, stop_workers

TARGET_PG = 300.0
DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/postgres"
ADMIN_EMAIL = "admin@loom.bench"
ITEM_ID = "noop-offering"


class NoopConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    outputs: dict[str, str] = {}


class Noop:
    """Does nothing; its outputs are its (rendered) config's `outputs`."""

    config_model: ClassVar[type[BaseModel]] = NoopConfig

    async def execute(self, ctx: ActionContext[NoopConfig]) -> ActionResult:
        return ActionResult(outputs=dict(ctx.config.outputs))

    async def reconcile(self, ctx: ActionContext[NoopConfig]) -> ActionResult | None:
        return None


def register_noop() -> None:
    """Add the `noop` type to this process's registry (after the built-in ones)."""
    if "noop" not in action_types():
        register(ActionType("noop", "Do nothing (benchmarks only)", NoopConfig, executor=Noop()))


def item_yaml(actions: int) -> str:
    steps = []
    for n in range(actions):
        value = "{{ .current.name }}" if n == 0 else f"{{{{ .output.out{n - 1} }}}}-{n}"
        steps.append(
            f"      - id: step{n}\n"
            f"        type: noop\n"
            f'        config: {{outputs: {{out{n}: "{value}"}}}}\n'
            f"        outputs: [out{n}]\n"
        )
    return (
        "apiVersion: loom/v1\n"
        "kind: CatalogItem\n"
        f"metadata: {{id: {ITEM_ID}, name: No-op offering, category: benchmarks}}\n"
        "spec:\n"
        "  form:\n"
        "    fields:\n"
        "      - {id: name, type: string, required: true}\n"
        "  fulfillment:\n"
        "    actions:\n" + "".join(steps)
    )


@dataclass
class RunResult:
    tasks: int
    seconds: float  # first task queued -> last request completed
    submit_seconds: float  # first submission started -> last submission committed
    cpu_seconds: float  # CPU time of this (the one Loom) process over the run
    wall_seconds: float
    machine_busy: float  # share of the machine's CPUs in use (Loom, PostgreSQL, the rest)

    @property
    def rate(self) -> float:
        return self.tasks / self.seconds

    @property
    def submit_rate(self) -> float:
        return self.tasks / self.submit_seconds

    @property
    def cpu_ms_per_task(self) -> float:
        return self.cpu_seconds / self.tasks * 1000

    @property
    def busy(self) -> float:
        return self.cpu_seconds / self.wall_seconds


async def one_run(runtime: Runtime, args: argparse.Namespace, run: int) -> RunResult:
    async with runtime.sessions() as session, session.begin():
        user_id = await session.scalar(select(User.id).where(User.email == ADMIN_EMAIL))
        assert user_id is not None
        principal = await load_principal(session, user_id)
    key = derive_key(runtime.settings.secret_key.get_secret_value())
    enqueue = enqueue_for(runtime)
    batch = f"run{run}-{uuid.uuid4().hex[:6]}"

    async def submitter(offset: int) -> list[uuid.UUID]:
        ids = []
        for i in range(offset, args.requests, args.submitters):
            async with runtime.sessions() as session, session.begin():
                served = await catalog.entries(session, runtime, principal)
                prepared = await service.prepare(
                    session, principal, served, ITEM_ID, "platform", {"name": f"{batch}-{i}"}
                )
                request = await service.submit(session, principal, prepared, key, enqueue)
                ids.append(request.id)
        return ids

    cpu_started, machine_started = _cpu_seconds(), psutil.cpu_times()
    started = time.perf_counter()
    submitted = await asyncio.gather(*(submitter(s) for s in range(args.submitters)))
    submit_seconds = time.perf_counter() - started
    ids = [i for chunk in submitted for i in chunk]

    deadline = time.monotonic() + args.timeout
    while True:
        async with runtime.sessions() as session:
            done = await session.scalar(
                select(func.count())
                .select_from(Request)
                .where(Request.id.in_(ids), Request.state.in_(("completed", "failed")))
            )
        if done == len(ids):
            break
        if time.monotonic() > deadline:
            raise RuntimeError(f"only {done} of {len(ids)} requests finished in {args.timeout} s")
        await asyncio.sleep(0.05)
    cpu_seconds = _cpu_seconds() - cpu_started
    machine_busy = _busy_since(machine_started)
    wall_seconds = time.perf_counter() - started

    async with runtime.sessions() as session:
        states = dict(
            (
                await session.execute(
                    select(Request.state, func.count())
                    .where(Request.id.in_(ids))
                    .group_by(Request.state)
                )
            ).all()
        )
        first_queued = await session.scalar(
            select(func.min(FulfillmentTask.queued_at)).where(FulfillmentTask.request_id.in_(ids))
        )
        last_done = await session.scalar(
            select(func.max(Request.finished_at)).where(Request.id.in_(ids))
        )
    if states != {RequestState.COMPLETED: len(ids)}:
        raise RuntimeError(f"not every request completed: {states}")
    assert first_queued is not None and last_done is not None
    seconds = (last_done - first_queued).total_seconds()
    return RunResult(
        len(ids) * args.actions, seconds, submit_seconds, cpu_seconds, wall_seconds, machine_busy
    )


def worker_process(url: str, catalog_dir: str, args: argparse.Namespace, stop: Any) -> None:
    """A worker process as `loom worker` runs one (`start_workers`), plus the noop type."""
    register_noop()
    settings = settings_for(url, Path(catalog_dir), args)
    configure_logging(settings.log)

    async def serve() -> None:
        runtime = Runtime.build(settings)
        try:
            await sync(runtime, trigger="benchmark")
            start_workers(runtime)
            # A multiprocessing Event, not an asyncio one: poll it without blocking the loop.
            while not stop.is_set():  # noqa: ASYNC110
                await asyncio.sleep(0.1)
        finally:
            await stop_workers(runtime)
            await runtime.close()

    with asyncio.Runner(loop_factory=event_loop_factory()) as runner:
        runner.run(serve())


def _cpu_seconds() -> float:
    """CPU time of this process and its children (the worker processes, if any)."""
    me = psutil.Process()
    total = sum(me.cpu_times()[:2])
    for child in me.children(recursive=True):
        with contextlib.suppress(psutil.Error):
            total += sum(child.cpu_times()[:2])
    return total


def _busy_since(started: Any) -> float:
    now = psutil.cpu_times()
    idle = (now.idle + getattr(now, "iowait", 0)) - (started.idle + getattr(started, "iowait", 0))
    total = sum(now) - sum(started)
    return 1 - idle / total if total else 0.0


def settings_for(url: str, catalog_dir: Path, args: argparse.Namespace) -> Settings:
    return Settings(
        env="test",
        database_url=url,
        auth={"bootstrap_admin_email": ADMIN_EMAIL, "bootstrap_admin_password": "bench-pass-1"},
        scheduler={"enabled": False},
        log={"level": args.log_level},
        catalog={"source": str(catalog_dir), "cache_dir": str(catalog_dir.parent / "cache")},
        **({"workers": {"concurrency": args.concurrency}} if args.concurrency else {}),
    )


async def bench(backend: str, args: argparse.Namespace) -> list[RunResult]:
    results = []
    with tempfile.TemporaryDirectory(prefix="loom-e2e-bench-") as tmp:
        catalog_dir = Path(tmp) / "catalog"
        (catalog_dir / "catalog").mkdir(parents=True)
        (catalog_dir / "catalog" / "noop.yaml").write_text(item_yaml(args.actions))
        async with database(backend, args, Path(tmp)) as url:
            settings = settings_for(url, catalog_dir, args)
            configure_logging(settings.log)
            runtime = Runtime.build(settings)
            workers: WorkerProcesses | None = None
            try:
                await prepare_database(runtime)
                record = await sync(runtime, trigger="benchmark")
                if record.status != "ok":
                    raise RuntimeError(f"the benchmark catalog is invalid: {record.problems}")
                workers = WorkerProcesses.start(url, catalog_dir, args)
                if not workers.processes:
                    start_workers(runtime)
                warm = argparse.Namespace(**{**vars(args), "requests": 20})
                await one_run(runtime, warm, -1)
                for run in range(args.runs):
                    profiler = _start_profile() if args.profile and run == 0 else None
                    result = await one_run(runtime, args, run)
                    if profiler is not None:
                        _print_profile(profiler)
                    results.append(result)
                    print(
                        f"  {backend} run {run + 1}: {result.rate:6.0f} tasks/s "
                        f"({result.tasks} tasks in {result.seconds:.2f} s; submitting alone "
                        f"{result.submit_seconds:.2f} s; CPU {result.cpu_ms_per_task:.1f} ms "
                        f"per task, Loom's processes busy {result.busy:.0%} of a core; machine "
                        f"{result.machine_busy:.0%} busy)",
                        flush=True,
                    )
                consumers = settings.workers.concurrency
                where = (
                    f"each of {len(workers.processes)} worker processes"
                    if workers.processes
                    else "the benchmark process"
                )
                print(f"  workers: {consumers} consumers in {where}")
            finally:
                if workers is not None:
                    workers.close()
                await stop_workers(runtime)
                await runtime.close()
    return results


@dataclass
class WorkerProcesses:
    """Worker processes of their own (`--worker-processes`), stopped by one event."""

    processes: list[multiprocessing.process.BaseProcess]
    stop: Any

    @classmethod
    def start(cls, url: str, catalog_dir: Path, args: argparse.Namespace) -> WorkerProcesses:
        context = multiprocessing.get_context("spawn")
        stop = context.Event()
        processes = [
            context.Process(target=worker_process, args=(url, str(catalog_dir), args, stop))
            for _ in range(args.worker_processes)
        ]
        for process in processes:
            process.start()
        return cls(processes, stop)

    def close(self) -> None:
        self.stop.set()
        for process in self.processes:
            process.join(timeout=30)
            if process.is_alive():
                process.kill()


def _start_profile() -> cProfile.Profile:
    profiler = cProfile.Profile()
    profiler.enable()
    return profiler


def _print_profile(profiler: cProfile.Profile) -> None:
    profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("tottime").print_stats(40)
    stats.sort_stats("cumulative").print_stats(60)
    print(out.getvalue())


def event_loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's, as under `loom serve` (uvicorn picks it when installed); else asyncio's."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--actions", type=int, default=3, help="no-op actions per request")
    parser.add_argument("--submitters", type=int, default=4)
    parser.add_argument(
        "--worker-processes",
        type=int,
        default=0,
        help="run the workers in N processes of their own (default: in this process)",
    )
    parser.add_argument(
        "--concurrency", type=int, help="worker consumers (default: the product's default)"
    )
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=300, help="seconds per run at most")
    parser.add_argument("--log-level", default="warning", help="the product's log level")
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--postgres", default=os.environ.get("LOOM_TEST_DATABASE_URL", DEFAULT_PG))
    parser.add_argument("--profile", action="store_true", help="cProfile the first run")
    args = parser.parse_args()
    register_noop()

    print(f"machine: {machine()}; load average {load_average()}")
    print(
        f"workload: {args.requests} requests x {args.actions} no-op tasks, "
        f"{args.submitters} concurrent submitters, worker pool running meanwhile"
    )
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    ok = True
    for backend in backends:
        with asyncio.Runner(loop_factory=event_loop_factory()) as runner:
            results = runner.run(bench(backend, args))
        median = statistics.median(r.rate for r in results)
        submit = statistics.median(r.submit_rate for r in results)
        cpu = statistics.median(r.cpu_ms_per_task for r in results)
        line = (
            f"{backend}: median {median:.0f} tasks/s first queued -> last completed "
            f"(min {min(r.rate for r in results):.0f}, max {max(r.rate for r in results):.0f}; "
            f"submitting alone {submit:.0f} tasks/s; {cpu:.1f} ms CPU per task) "
            f"over {len(results)} runs"
        )
        if backend == "postgres":
            met = median >= TARGET_PG
            ok = ok and met
            line += f"  [target >= {TARGET_PG:.0f}: {'met' if met else 'MISSED'}]"
        print(line)
    print(f"load average after: {load_average()}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
