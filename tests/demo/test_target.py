"""The demo's health check target answers healthy, slow, broken and flaky, and the demo
lets this process's checks call it."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx

from loom.demo import target
from loom.platform.runtime import Runtime
from loom.services.checks.scheduler import EXTRA_HOSTS_KEY
from tests.conftest import make_settings


async def test_each_endpoint_answers_as_documented() -> None:
    minute = [datetime(2026, 11, 27, 12, 1, tzinfo=UTC)]
    server = target.build(now=lambda: minute[0]).start()
    try:
        async with httpx.AsyncClient(base_url=server.url) as http:
            assert (await http.get("/healthy")).json() == {"status": "ok"}
            assert (await http.get("/broken")).status_code == 503
            assert (await http.get("/version")).json()["version"] == "1.4.2"
            assert (await http.get("/flaky")).status_code == 200
            minute[0] = datetime(2026, 11, 27, 12, 3, tzinfo=UTC)  # every third minute
            assert (await http.get("/flaky")).status_code == 500
    finally:
        server.stop()
    assert target.SLOW_SECONDS > 1  # over the sample checks' latency thresholds


async def test_the_demo_starts_it_and_allows_its_host(database_url: str) -> None:
    settings = make_settings(database_url, health_checks={"demo_target_port": 0})
    runtime = Runtime.build(settings)
    try:
        server = await target.start(runtime)
        assert runtime.extras[EXTRA_HOSTS_KEY] == ("127.0.0.1",)
        async with httpx.AsyncClient() as http:
            assert (await http.get(server.url + "/healthy")).status_code == 200
        await target.stop(runtime)
        assert EXTRA_HOSTS_KEY not in runtime.extras
    finally:
        await runtime.close()
