"""The demo's health check target: a tiny local HTTP server whose endpoints are healthy,
slow, broken or flaky, so the sample services' checks show real green and red.

    /healthy  200 {"status": "ok"}
    /slow     200 {"status": "ok"} after SLOW_SECONDS (over a sample check's threshold)
    /broken   503 {"status": "down"}
    /flaky    500 during every third minute (minute % 3 == 0), else 200
    /version  200 {"version": "1.4.2", "status": "ok"} (for JSON path checks)

It listens on 127.0.0.1:`health_checks.demo_target_port` (8099 unless set; an ephemeral
port if that one is taken) and adds 127.0.0.1 to the hosts checks may call, in this
process only. Demo only, not for production: it is a FakeServer (loom.demo.fakes).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime

import structlog

from loom.demo.fakes.server import FakeServer, RecordedCall, Reply
from loom.platform.runtime import Runtime
from loom.services.checks.scheduler import EXTRA_HOSTS_KEY

log = structlog.get_logger("loom.demo")

EXTRAS_KEY = "demo_check_target"
HOST = "127.0.0.1"
SLOW_SECONDS = 1.5
#: What the target keeps of the calls it got (the demo runs for days).
KEEP_CALLS = 100


def flaky_reply(now: Callable[[], datetime]) -> Callable[[RecordedCall], Reply]:
    """Fails during every third minute of `now`: deterministic, so a demo shows it."""

    def answer(_call: RecordedCall) -> Reply:
        if now().minute % 3 == 0:
            return Reply(500, json={"status": "error", "detail": "flaky minute"})
        return Reply(json={"status": "ok"})

    return answer


def build(port: int = 0, *, now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> FakeServer:
    """The target's server, not started."""
    server = FakeServer(HOST, port)
    server.max_calls = KEEP_CALLS
    server.route("GET", "/healthy", Reply(json={"status": "ok"}))
    server.route("HEAD", "/healthy", Reply())
    server.route("GET", "/slow", Reply(json={"status": "ok"}, delay=SLOW_SECONDS))
    server.route("GET", "/broken", Reply(503, json={"status": "down"}))
    server.route("GET", "/flaky", flaky_reply(now))
    server.route("GET", "/version", Reply(json={"version": "1.4.2", "status": "ok"}))
    return server


def _start(port: int) -> FakeServer:
    try:
        return build(port).start()
    except OSError:
        log.warning("demo check target port taken: using another", port=port)
        return build(0).start()


async def start(runtime: Runtime) -> FakeServer:
    """Start the target and let this process's health checks call it."""
    server = await asyncio.to_thread(_start, runtime.settings.health_checks.demo_target_port)
    runtime.extras[EXTRAS_KEY] = server
    runtime.extras[EXTRA_HOSTS_KEY] = (HOST,)
    log.info("demo check target started (a fake, not for production)", url=server.url)
    return server


async def stop(runtime: Runtime) -> None:
    server = runtime.extras.pop(EXTRAS_KEY, None)
    runtime.extras.pop(EXTRA_HOSTS_KEY, None)
    if isinstance(server, FakeServer):
        await asyncio.to_thread(server.stop)
