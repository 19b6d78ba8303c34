"""Health check API shapes: a check (create, update, read), one result, and a service's
health with availability and latency over time windows."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

Name = Annotated[str, StringConstraints(min_length=1, max_length=100, strip_whitespace=True)]
StatusCode = Annotated[int, Field(ge=100, le=599)]
Timeout = Annotated[float, Field(gt=0, le=60, description="Seconds, at most 60")]
Interval = Annotated[int, Field(ge=10, le=86400, description="Seconds between runs")]
Threshold = Annotated[int, Field(ge=1, le=600_000, description="Slower than this is degraded")]
Headers = Annotated[dict[str, Annotated[str, StringConstraints(max_length=4000)]], Field(
    max_length=50, description="Sent with each request; secret values are masked on output"
)]  # fmt: skip


class Method(StrEnum):
    GET = "GET"
    HEAD = "HEAD"
    POST = "POST"


class CheckStatus(StrEnum):
    UNKNOWN = "unknown"
    PASSING = "passing"
    DEGRADED = "degraded"
    FAILING = "failing"


def _status_list(value: Any) -> Any:
    """`expected_status` may be one code or a list of codes; stored as a list."""
    return [value] if isinstance(value, int) else value


class _CheckFields(BaseModel):
    model_config = ConfigDict(extra="forbid")

    body_contains: Annotated[str, StringConstraints(min_length=1, max_length=1000)] | None = None
    json_path: Annotated[str, StringConstraints(min_length=1, max_length=500)] | None = Field(
        default=None, description="`$.a.b[0]` or `a.b.0`: the value compared to json_expected"
    )
    json_expected: Any = None
    latency_threshold_ms: Threshold | None = None
    environment: Annotated[str, StringConstraints(min_length=1, max_length=63)] | None = None


class CheckCreate(_CheckFields):
    name: Name
    url: str = Field(max_length=2000, description="http(s) URL; its host must be allowed")
    method: Method = Method.GET
    expected_status: list[StatusCode] = Field(default_factory=lambda: [200], min_length=1)
    timeout_seconds: Timeout = 10.0
    interval_seconds: Interval = 60
    enabled: bool = True
    headers: Headers = Field(default_factory=dict)

    _one_or_many = field_validator("expected_status", mode="before")(_status_list)


class CheckUpdate(BaseModel):
    """Only the fields sent change; null clears an optional field."""

    model_config = ConfigDict(extra="forbid")

    name: Name | None = None
    url: str | None = Field(default=None, max_length=2000)
    method: Method | None = None
    expected_status: list[StatusCode] | None = Field(default=None, min_length=1)
    body_contains: Annotated[str, StringConstraints(min_length=1, max_length=1000)] | None = None
    json_path: Annotated[str, StringConstraints(min_length=1, max_length=500)] | None = None
    json_expected: Any = None
    timeout_seconds: Timeout | None = None
    interval_seconds: Interval | None = None
    latency_threshold_ms: Threshold | None = None
    enabled: bool | None = None
    headers: Headers | None = None
    environment: Annotated[str, StringConstraints(min_length=1, max_length=63)] | None = None

    _one_or_many = field_validator("expected_status", mode="before")(_status_list)


class CheckResult(BaseModel):
    started_at: datetime
    duration_ms: int
    ok: bool
    status_code: int | None
    outcome: CheckStatus
    message: str


class Check(BaseModel):
    id: uuid.UUID
    service: str
    name: str
    url: str
    method: Method
    expected_status: list[int]
    body_contains: str | None
    json_path: str | None
    json_expected: Any
    timeout_seconds: float
    interval_seconds: int
    latency_threshold_ms: int | None
    enabled: bool
    headers: dict[str, str]
    environment: str | None
    next_run_at: datetime
    status: CheckStatus
    status_since: datetime
    last_result: CheckResult | None
    created_at: datetime
    updated_at: datetime


class StoredResult(CheckResult):
    id: uuid.UUID
    scheduled_at: datetime


class Window(BaseModel):
    availability: float | None = Field(description="% of runs that were up (None: no runs)")
    p50_ms: int | None
    p95_ms: int | None
    samples: int


class CheckHealth(BaseModel):
    id: uuid.UUID
    name: str
    url: str
    status: CheckStatus
    status_since: datetime
    last_result: CheckResult | None
    windows: dict[str, Window]


class Health(BaseModel):
    status: CheckStatus
    checks: list[CheckHealth]
