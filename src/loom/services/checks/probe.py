"""One run of one health check: an HTTP request through Loom's guarded client (so only
allowed hosts are reached), judged against what the check expects.

`ok` means the endpoint answered as expected (status, body, JSON value); the outcome is
`failing` when not ok, `degraded` when ok but slower than the latency threshold, else
`passing`. Nothing here raises: every way a run can go wrong is a failing result."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx

from loom.db.types import utcnow
from loom.platform.http import HostNotAllowed, OutboundRefused
from loom.services.check_models import ServiceCheck
from loom.services.checks import jsonpath
from loom.services.checks.schemas import CheckStatus

#: The most of a response body read to judge it.
MAX_BODY_BYTES = 1024 * 1024
#: Result messages are excerpts, not bodies.
MAX_MESSAGE = 300


@dataclass(frozen=True)
class Probe:
    """What a run needs of a check, detached from the database session."""

    url: str
    method: str
    expected_status: tuple[int, ...]
    body_contains: str | None
    json_path: str | None
    json_expected: Any
    timeout_seconds: float
    latency_threshold_ms: int | None
    headers: tuple[tuple[str, str], ...]

    @classmethod
    def of(cls, check: ServiceCheck) -> Probe:
        return cls(
            url=check.url,
            method=check.method,
            expected_status=tuple(check.expected_status),
            body_contains=check.body_contains,
            json_path=check.json_path,
            json_expected=check.json_expected,
            timeout_seconds=check.timeout_seconds,
            latency_threshold_ms=check.latency_threshold_ms,
            headers=tuple(check.headers.items()),
        )


@dataclass(frozen=True)
class Outcome:
    started_at: datetime
    duration_ms: int
    ok: bool
    status_code: int | None
    outcome: CheckStatus
    message: str

    def summary(self) -> dict[str, Any]:
        """As the API shows it (a check's `last_result`, an event's `result`)."""
        return {
            "started_at": self.started_at.isoformat(),
            "duration_ms": self.duration_ms,
            "ok": self.ok,
            "status_code": self.status_code,
            "outcome": self.outcome.value,
            "message": self.message,
        }


async def run(
    client: httpx.AsyncClient, probe: Probe, *, now: Callable[[], datetime] = utcnow
) -> Outcome:
    """Call the endpoint once and judge the answer."""
    started_at = now()
    begin = time.perf_counter()
    status_code: int | None = None
    try:
        async with asyncio.timeout(probe.timeout_seconds):
            status_code, body = await _call(client, probe)
        problem = _judge(probe, status_code, body)
    except HostNotAllowed:
        problem = "host not allowed (not in LOOM_ALLOWED_HOSTS)"
    except OutboundRefused as exc:
        problem = str(exc)
    except (TimeoutError, httpx.TimeoutException):
        problem = f"timed out after {probe.timeout_seconds:g} s"
    except httpx.HTTPError as exc:
        problem = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    duration_ms = round((time.perf_counter() - begin) * 1000)
    return _outcome(probe, started_at, duration_ms, status_code, problem)


async def _call(client: httpx.AsyncClient, probe: Probe) -> tuple[int, bytes]:
    timeout = httpx.Timeout(probe.timeout_seconds)
    request = client.build_request(
        probe.method, probe.url, headers=dict(probe.headers), timeout=timeout
    )
    response = await client.send(request, stream=True)
    try:
        body = bytearray()
        async for chunk in response.aiter_bytes():
            body += chunk
            if len(body) >= MAX_BODY_BYTES:
                break
        return response.status_code, bytes(body[:MAX_BODY_BYTES])
    finally:
        await response.aclose()


def _judge(probe: Probe, status_code: int, body: bytes) -> str | None:
    """Why the answer is not what the check expects (None: it is)."""
    if status_code not in probe.expected_status:
        expected = ", ".join(str(s) for s in probe.expected_status)
        return f"status {status_code}, expected {expected}"
    text = body.decode("utf-8", errors="replace")
    if probe.body_contains is not None and probe.body_contains not in text:
        return f"body does not contain {probe.body_contains!r}"
    if probe.json_path is not None:
        try:
            value = jsonpath.lookup(json.loads(text), probe.json_path)
        except json.JSONDecodeError:
            return "body is not JSON"
        except jsonpath.Missing:
            return f"nothing at {probe.json_path}"
        except jsonpath.PathError as exc:
            return str(exc)
        if probe.json_expected is not None and value != probe.json_expected:
            expected = json.dumps(probe.json_expected)
            return f"{probe.json_path} is {json.dumps(value)}, expected {expected}"
    return None


def _outcome(
    probe: Probe,
    started_at: datetime,
    duration_ms: int,
    status_code: int | None,
    problem: str | None,
) -> Outcome:
    if problem is not None:
        outcome, message = CheckStatus.FAILING, problem
    elif probe.latency_threshold_ms is not None and duration_ms > probe.latency_threshold_ms:
        outcome = CheckStatus.DEGRADED
        message = f"slow: {duration_ms} ms > {probe.latency_threshold_ms} ms"
    else:
        outcome, message = CheckStatus.PASSING, "ok"
    return Outcome(
        started_at=started_at,
        duration_ms=duration_ms,
        ok=problem is None,
        status_code=status_code,
        outcome=outcome,
        message=message[:MAX_MESSAGE],
    )
