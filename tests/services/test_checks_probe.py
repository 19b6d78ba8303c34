"""One run of a check against a real local HTTP server: how each answer is judged, and
that the allow-list and timeouts hold."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from loom.demo.fakes.server import FakeServer, Reply
from loom.platform.http import HttpClients
from loom.services.checks import jsonpath, probe
from loom.services.checks.schemas import CheckStatus
from loom.settings import HttpSettings
from tests.services.check_support import target

__all__ = ["target"]


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    clients = HttpClients(HttpSettings(), ["127.0.0.1"])
    yield clients.client("health-checks", breaker=False)
    await clients.aclose()


def check(url: str, **fields: Any) -> probe.Probe:
    values: dict[str, Any] = {
        "url": url, "method": "GET", "expected_status": (200,), "body_contains": None,
        "json_path": None, "json_expected": None, "timeout_seconds": 5.0,
        "latency_threshold_ms": None, "headers": (),
    }  # fmt: skip
    values.update(fields)
    return probe.Probe(**values)


async def test_an_expected_answer_passes(client: httpx.AsyncClient, target: FakeServer) -> None:
    run = await probe.run(client, check(target.url + "/healthy"))
    assert (run.ok, run.outcome, run.status_code, run.message) == (
        True, CheckStatus.PASSING, 200, "ok",
    )  # fmt: skip


async def test_an_unexpected_status_fails(client: httpx.AsyncClient, target: FakeServer) -> None:
    run = await probe.run(client, check(target.url + "/broken"))
    assert (run.ok, run.outcome, run.status_code) == (False, CheckStatus.FAILING, 503)
    assert run.message == "status 503, expected 200"
    listed = await probe.run(client, check(target.url + "/broken", expected_status=(200, 503)))
    assert listed.outcome == CheckStatus.PASSING


async def test_slower_than_the_threshold_is_degraded(
    client: httpx.AsyncClient, target: FakeServer
) -> None:
    slow = await probe.run(client, check(target.url + "/slow", latency_threshold_ms=100))
    assert (slow.ok, slow.outcome) == (True, CheckStatus.DEGRADED)
    assert slow.duration_ms >= 300
    assert slow.message.startswith("slow:")
    fast = await probe.run(client, check(target.url + "/healthy", latency_threshold_ms=100))
    assert fast.outcome == CheckStatus.PASSING


async def test_body_substring_and_json_path(client: httpx.AsyncClient, target: FakeServer) -> None:
    url = target.url + "/healthy"
    found = await probe.run(client, check(url, body_contains='"ok"'))
    assert found.outcome == CheckStatus.PASSING
    missing = await probe.run(client, check(url, body_contains="READY"))
    assert missing.outcome == CheckStatus.FAILING
    assert "READY" in missing.message
    match = await probe.run(client, check(url, json_path="$.db.up[0]", json_expected=True))
    assert match.outcome == CheckStatus.PASSING
    other = await probe.run(client, check(url, json_path="status", json_expected="degraded"))
    assert (other.outcome, other.message) == (
        CheckStatus.FAILING, 'status is "ok", expected "degraded"',
    )  # fmt: skip
    absent = await probe.run(client, check(url, json_path="$.db.down"))
    assert absent.outcome == CheckStatus.FAILING


async def test_a_timeout_fails_within_the_check_timeout(
    client: httpx.AsyncClient, target: FakeServer
) -> None:
    target.route("GET", "/hang", Reply(delay=3))
    run = await probe.run(client, check(target.url + "/hang", timeout_seconds=0.3))
    assert (run.ok, run.outcome, run.status_code) == (False, CheckStatus.FAILING, None)
    assert run.message == "timed out after 0.3 s"
    assert run.duration_ms < 2000


async def test_a_host_not_allowed_fails_and_nothing_is_sent(target: FakeServer) -> None:
    clients = HttpClients(HttpSettings(), ["example.test"])
    run = await probe.run(clients.client("health-checks"), check(target.url + "/healthy"))
    await clients.aclose()
    assert (run.ok, run.outcome) == (False, CheckStatus.FAILING)
    assert run.message.startswith("host not allowed")
    assert target.connections == 0


async def test_a_broken_endpoint_does_not_get_its_hosts_others_refused(
    client: httpx.AsyncClient, target: FakeServer
) -> None:
    # More failures than the circuit breaker's threshold (5), on one host.
    for _ in range(7):
        assert (await probe.run(client, check(target.url + "/broken"))).status_code == 503
    healthy = await probe.run(client, check(target.url + "/healthy"))
    assert healthy.outcome == CheckStatus.PASSING


@pytest.mark.parametrize(
    ("path", "value"),
    [("$.a.b[1]", 2), ("a.b.0", 1), ("$['x y']", "z"), ("$.a", {"b": [1, 2]})],
)
def test_json_path_lookup(path: str, value: Any) -> None:
    assert jsonpath.lookup({"a": {"b": [1, 2]}, "x y": "z"}, path) == value


def test_json_path_errors() -> None:
    with pytest.raises(jsonpath.Missing):
        jsonpath.lookup({"a": [1]}, "$.a[3]")
    with pytest.raises(jsonpath.PathError):
        jsonpath.parse("$..a[?(@.x)]")
