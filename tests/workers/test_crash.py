"""Workers killed with SIGKILL at random while they carry out 200 bundle requests on
PostgreSQL: every request completes, no task is lost, and the endpoint never sees a second
call for a task.

Real `loom worker` processes share the database's queue; a chaos loop kills one at
random moments and starts a replacement each time. The endpoint records each call's effect as soon
as it arrives and answers after a random delay, so kills land between the effect and its
answer: the task's message comes back to another worker, whose rest-api `reconcile`
lookup (`GET /effects/{{ .system.taskId }}`) finds the effect and completes the task
without calling again.

A task killed twice runs out of receives and becomes `stuck`, failing its request: by
design a person then decides. The test plays that person: it retries such requests
through the API (the retried task looks its effect up before calling too), and redrives
the rare message dead-lettered because its third delivery was killed before the claim.

Run with `-s` to see the figures (kills, redeliveries, lookups, duration).
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from loom.app import create_app
from loom.catalog.sync import sync
from loom.demo.fakes import FakeServer, RecordedCall, Reply
from loom.platform.runtime import Runtime
from loom.provisioning.dispatch import TASK_QUEUE
from loom.provisioning.models import FulfillmentTask, Request, TaskLog
from loom.queue.factory import queue_for
from tests.catalog.conftest import write_catalog
from tests.conftest import ADMIN_EMAIL, bearer, make_settings, token_for

REQUESTS = 200
WORKERS = 3
CONCURRENCY = 4
VISIBILITY_TIMEOUT = 2.0
DEADLINE_SECONDS = 240.0
#: Kills, each at a random point of the run (by tasks completed, so that a fast machine
#: sees as many as a slow one), each followed at once by a replacement worker.
KILLS = 15
#: How long the endpoint takes to answer a call whose effect it has already recorded.
ANSWER_DELAY = (0.05, 0.3)
COMPONENTS = ("net", "db", "app")

ITEM = """\
apiVersion: loom/v1
kind: CatalogItem
metadata: {{id: crash-{component}, name: Crash {component}, category: crash}}
spec:
  form:
    fields: [{{id: name, type: string, required: true}}]
  fulfillment:
    actions:
      - id: create
        type: rest-api
        config:
          url: "{base}/effects"
          json: {{component: {component}, name: "{{{{ .current.name }}}}"}}
          expectStatus: [201]
          outputMap: {{{component}_id: response.body.id}}
          reconcile:
            url: "{base}/effects/{{{{ .system.taskId }}}}"
            outputMap: {{{component}_id: response.body.id}}
        outputs: [{component}_id]
"""

BUNDLE = """\
apiVersion: loom/v1
kind: CatalogBundle
metadata: {id: crash-stack, name: Crash stack, category: crash}
spec:
  form:
    fields: [{id: name, type: string, required: true}]
  components:
    - {id: net, item: crash-net}
    - {id: db, item: crash-db, dependsOn: [net]}
    - {id: app, item: crash-app, dependsOn: [db]}
"""


@dataclass
class Effects:
    """The endpoint's side: effects by Idempotency-Key, and every POST counted per key
    (an API that does not deduplicate: a second POST would be a second effect)."""

    rng: random.Random
    posts: Counter[str] = field(default_factory=Counter)
    created: dict[str, dict[str, str]] = field(default_factory=dict)
    lookups: Counter[str] = field(default_factory=Counter)  # "found" / "not found"
    torn: int = 0  # POSTs cut short by a kill
    lock: threading.Lock = field(default_factory=threading.Lock)

    def create(self, call: RecordedCall) -> Reply:
        key = call.headers["idempotency-key"]
        if len(call.body) != int(call.headers["content-length"]):
            # Its worker died while sending it: like any server, do nothing with the rest.
            with self.lock:
                self.torn += 1
            return Reply(400)
        with self.lock:
            self.posts[key] += 1
            effect = self.created.setdefault(
                key, {"id": f"e-{len(self.created) + 1}", "component": call.json()["component"]}
            )
            delay = self.rng.uniform(*ANSWER_DELAY)
        return Reply(201, json=effect, delay=delay)

    def find(self, call: RecordedCall) -> Reply:
        with self.lock:
            effect = self.created.get(call.params["key"])
            self.lookups["found" if effect else "not found"] += 1
            delay = self.rng.uniform(0, ANSWER_DELAY[0])
        return Reply(200, json=effect, delay=delay) if effect else Reply(404, delay=delay)


@dataclass
class Chaos:
    """`loom worker` processes, killed and replaced at random."""

    env: dict[str, str]
    logs: Path
    rng: random.Random
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)
    started: int = 0
    kills: int = 0
    last_kill: float = 0.0
    #: Numbers of completed tasks after which a kill is due, in order.
    due: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        total = REQUESTS * len(COMPONENTS)
        self.due = sorted(self.rng.randrange(total // 50, total * 19 // 20) for _ in range(KILLS))

    def maybe_kill(self, tasks_done: int) -> None:
        """Kill a worker if the run has reached the next kill point (not two at once)."""
        if self.due and tasks_done >= self.due[0] and time.monotonic() - self.last_kill > 0.5:
            self.due.pop(0)
            self.kill_one()

    def start(self) -> None:
        self.started += 1
        log = (self.logs / f"worker-{self.started}.log").open("wb")
        loom = Path(sys.executable).parent / "loom"
        command = [str(loom), "worker", "--concurrency", str(CONCURRENCY)]
        with log:
            proc = subprocess.Popen(
                command, env=self.env, cwd=self.logs, stdout=log, stderr=subprocess.STDOUT
            )
        self.procs.append(proc)

    def kill_one(self) -> None:
        victim = self.rng.choice(self.procs)
        victim.send_signal(signal.SIGKILL)
        victim.wait()
        self.procs.remove(victim)
        self.kills += 1
        self.last_kill = time.monotonic()
        self.start()

    def check_alive(self) -> None:
        """Fail at once if a worker ended without being killed (it could not start)."""
        ended = [proc for proc in self.procs if proc.poll() is not None]
        assert not ended, f"a worker exited by itself ({ended[0].returncode})\n{self.tails()}"

    def stop(self) -> None:
        for proc in self.procs:
            proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def tails(self) -> str:
        """The last lines each worker wrote, cut short, to explain a failure."""
        out = []
        for path in sorted(self.logs.glob("worker-*.log")):
            lines = path.read_text(errors="replace").splitlines()[-3:]
            out += [f"--- {path.name}", *(line[:300] for line in lines)]
        return "\n".join(out)


@pytest.fixture
def rng() -> random.Random:
    seed = int(os.environ.get("LOOM_CRASH_SEED", random.randrange(1 << 30)))
    print(f"\ncrash test seed: {seed} (LOOM_CRASH_SEED)")
    return random.Random(seed)


@pytest.fixture
def effects(rng: random.Random) -> Iterator[tuple[FakeServer, Effects]]:
    state = Effects(random.Random(rng.random()))
    with FakeServer() as server:
        server.route("POST", "/effects", state.create)
        server.route("GET", r"/effects/(?P<key>[^/]+)", state.find)
        yield server, state


@pytest.fixture
async def app(
    backend: str, database_url: str, tmp_path: Path, effects: tuple[FakeServer, Effects]
) -> AsyncIterator[FastAPI]:
    if backend != "postgres":
        pytest.skip("worker processes share a queue on PostgreSQL only")
    server, _ = effects
    files = {f"catalog/{c}.yaml": ITEM.format(component=c, base=server.url) for c in COMPONENTS}
    repo = write_catalog(tmp_path / "repo", {**files, "bundles/stack.yaml": BUNDLE})
    settings = make_settings(
        database_url, allowed_hosts=["127.0.0.1"], catalog={"source": str(repo)}
    )
    application = create_app(settings, background=False)
    async with application.router.lifespan_context(application):
        record = await sync(application.state.runtime, trigger="test")
        assert record.status == "ok", record.problems
        yield application


def worker_env(database_url: str) -> dict[str, str]:
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("LOOM_")}
    return inherited | {
        "LOOM_ENV": "test",
        "LOOM_DATABASE_URL": database_url,
        "LOOM_ALLOWED_HOSTS": '["127.0.0.1"]',
        "LOOM_LOG__LEVEL": "warning",
        "LOOM_WORKERS__VISIBILITY_TIMEOUT_SECONDS": str(VISIBILITY_TIMEOUT),
        "LOOM_WORKERS__POLL_INTERVAL_SECONDS": "0.1",
        "LOOM_DATABASE__POOL_SIZE": "5",
    }


async def states(runtime: Runtime) -> Counter[str]:
    """Requests by state, and `tasks done`: the number of completed tasks."""
    async with runtime.sessions() as session:
        rows = await session.execute(select(Request.state, func.count()).group_by(Request.state))
        done = await session.scalar(
            select(func.count()).where(FulfillmentTask.state == "completed")
        )
        return Counter({state: count for state, count in rows.all()}, **{"tasks done": done or 0})


async def retry_stuck(runtime: Runtime, api: httpx.AsyncClient) -> int:
    """Retry each failed request whose task is stuck, as its operator would; any other
    failure is a bug and ends the test."""
    async with runtime.sessions() as session:
        failed = (
            await session.execute(
                select(Request.id, FulfillmentTask.state, FulfillmentTask.error)
                .join(FulfillmentTask, FulfillmentTask.request_id == Request.id)
                .where(Request.state == "failed", FulfillmentTask.state.in_(["failed", "stuck"]))
            )
        ).all()
    for request_id, state, error in failed:
        assert state == "stuck", f"request {request_id} failed: {error}"
        response = await api.post(f"/api/v1/requests/{request_id}/retry")
        assert response.status_code == 200, response.text
    return len(failed)


async def redrive_dead_letters(api: httpx.AsyncClient) -> int:
    """Put dead-lettered task messages back, as an operator would (`loom queue redrive`):
    a message dies when its third delivery is killed before the task is even claimed."""
    dead = await api.get("/api/v1/queue/dlq/messages")
    assert dead.status_code == 200, dead.text
    for message in dead.json()["items"]:
        redriven = await api.post(f"/api/v1/queue/dlq/{message['id']}/redrive")
        assert redriven.status_code == 200, redriven.text
    return len(dead.json()["items"])


async def submit_all(api: httpx.AsyncClient) -> None:
    """Submit the requests, a few at a time as several users would."""
    slots = asyncio.Semaphore(8)

    async def submit(n: int) -> None:
        body = {"item": "crash-stack", "team": "platform", "inputs": {"name": f"s{n}"}}
        async with slots:
            submitted = await api.post("/api/v1/requests", json=body)
        assert submitted.status_code == 201, submitted.text

    await asyncio.gather(*(submit(n) for n in range(REQUESTS)))


async def history(runtime: Runtime, task_ids: Iterable[str]) -> str:
    """The log of each task, to explain a failure."""
    async with runtime.sessions() as session:
        rows = await session.execute(
            select(TaskLog.task_id, TaskLog.at, TaskLog.message)
            .where(TaskLog.task_id.in_([uuid.UUID(t) for t in task_ids]))
            .order_by(TaskLog.id)
        )
        return "\n".join(f"{task} {at:%H:%M:%S.%f} {message}" for task, at, message in rows)


async def drive(
    runtime: Runtime, api: httpx.AsyncClient, chaos: Chaos
) -> tuple[float, Counter[str]]:
    """Submit the requests and kill workers at random until every request is completed;
    the seconds it took, and what the operator had to do."""
    began = time.monotonic()
    operator: Counter[str] = Counter()
    next_look = began
    for _ in range(WORKERS):
        chaos.start()
    submitting = asyncio.create_task(submit_all(api))
    try:
        while (counts := await states(runtime))["completed"] < REQUESTS:
            if submitting.done():
                submitting.result()  # a refused submission ends the test here
            chaos.check_alive()
            assert time.monotonic() - began < DEADLINE_SECONDS, (
                f"not done in {DEADLINE_SECONDS:g} s: {dict(counts)}\n{chaos.tails()}"
            )
            if counts["failed"]:
                operator["stuck tasks retried"] += await retry_stuck(runtime, api)
            if time.monotonic() >= next_look:
                operator["dead letters redriven"] += await redrive_dead_letters(api)
                next_look = time.monotonic() + 1
            chaos.maybe_kill(counts["tasks done"])
            await asyncio.sleep(0.1)
        return time.monotonic() - began, operator
    finally:
        submitting.cancel()
        chaos.stop()


async def test_killed_workers_lose_nothing_and_call_nothing_twice(
    app: FastAPI,
    effects: tuple[FakeServer, Effects],
    database_url: str,
    tmp_path: Path,
    rng: random.Random,
) -> None:
    runtime: Runtime = app.state.runtime
    server, endpoint = effects
    chaos = Chaos(worker_env(database_url), tmp_path, rng)
    headers = bearer(await token_for(app, ADMIN_EMAIL))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t", headers=headers) as api:
        duration, operator = await drive(runtime, api, chaos)

    async with runtime.sessions() as session:
        tasks = (await session.scalars(select(FulfillmentTask))).all()
        completions = Counter(
            (
                await session.scalars(
                    select(TaskLog.task_id).where(
                        TaskLog.message.like("task % processing → completed")
                    )
                )
            ).all()
        )
        redeliveries = await session.scalar(
            select(func.count()).where(TaskLog.message.like("%redelivered: reconciling%"))
        )
    stats = await queue_for(runtime, TASK_QUEUE).stats()

    print(
        f"\n{REQUESTS} requests, {len(tasks)} tasks in {duration:.1f} s: {chaos.kills} kills, "
        f"{chaos.started} workers started, {redeliveries} redeliveries, "
        f"lookups {dict(endpoint.lookups)}, operator {dict(operator)}, "
        f"{sum(endpoint.posts.values())} POSTs (+{endpoint.torn} cut short by a kill)"
    )
    assert await states(runtime) == {"completed": REQUESTS, "tasks done": len(tasks)}
    assert len(tasks) == REQUESTS * len(COMPONENTS)
    assert Counter(t.state for t in tasks) == {"completed": len(tasks)}
    task_ids = {str(t.id) for t in tasks}
    # No task lost, and every effect belongs to a task: one key per task, no other key.
    assert set(endpoint.posts) == task_ids
    twice = {key: n for key, n in endpoint.posts.items() if n > 1}
    assert twice == {}, f"called twice for one task: {twice}\n{await history(runtime, twice)}"
    # Each task completed once, with the outputs of its own effect.
    assert set(completions) == {t.id for t in tasks} and set(completions.values()) == {1}
    for task in tasks:
        effect = endpoint.created[str(task.id)]
        assert task.outputs == {f"{effect['component']}_id": effect["id"]}
    assert (stats.depth, stats.dlq_depth) == (0, 0)
    # Not vacuous: workers died mid-task, and lookups found effects whose answer was lost.
    # (kill points close to the end may come too late: the run is over)
    assert chaos.kills >= KILLS - 5 and redeliveries >= 1
    assert endpoint.lookups["found"] >= 1
    answered = sum(endpoint.posts.values()) + sum(endpoint.lookups.values()) + endpoint.torn
    assert len(server.calls) == answered
