"""The shapes of the service registry's answers, as the client reads them: services,
dependencies and graphs, the version matrix and drift, deployments, health checks and
readiness scorecards.

Every model keeps fields it does not know (`ApiModel`), and the newer parts (versions,
health, scorecards) give most fields a default, so a server adding or leaving out a field
does not break the client.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from loom.client.models import ApiModel


class Service(ApiModel):
    id: uuid.UUID
    slug: str
    name: str
    description: str = ""
    team_id: uuid.UUID
    lifecycle: str
    tier: int
    system: str | None = None
    domain: str | None = None
    repository_url: str | None = None
    links: list[dict[str, Any]] = []
    api_spec_url: str | None = None
    openapi: dict[str, Any] | None = None
    tags: list[str] = []
    metadata: dict[str, Any] = {}
    #: Synced from a catalog document: changes by hand are refused.
    managed: bool = False
    created_at: datetime
    updated_at: datetime


class ServiceFilter(BaseModel):
    """The filters `GET /services` accepts (`team` by slug or id; `q`: text in the slug,
    name or description)."""

    team: str | None = None
    tier: int | None = None
    lifecycle: str | None = None
    tag: str | None = None
    q: str | None = None


class Dependency(ApiModel):
    id: uuid.UUID
    #: The calling service's slug.
    service: str
    #: The service called, or None for an outside resource.
    target: str | None = None
    #: An outside resource, "<type>:<name>".
    target_resource: str | None = None
    kind: str
    criticality: str
    description: str = ""
    created_at: datetime


class GraphNode(ApiModel):
    slug: str
    name: str
    tier: int
    lifecycle: str
    team_id: uuid.UUID
    team: str
    #: Hops from the service asked about (None in the whole-system graph).
    distance: int | None = None


class GraphEdge(ApiModel):
    id: uuid.UUID
    source: str
    target: str | None = None
    target_resource: str | None = None
    kind: str
    criticality: str


class Graph(ApiModel):
    nodes: list[GraphNode]
    edges: list[GraphEdge]
    #: One loop (slugs in call order) per group of services calling each other round.
    cycles: list[list[str]] = []


class Environment(ApiModel):
    slug: str
    name: str = ""
    #: Order of promotion: dev before staging before production.
    rank: int = 0


class DeployedVersion(ApiModel):
    version: str
    deployed_at: datetime | None = None
    deployed_by: str | None = None
    commit_sha: str | None = None


class DriftFinding(ApiModel):
    service: str
    environment: str
    #: Which rule found it (behind its reference environment, a version never seen there...).
    kind: str
    message: str = ""
    version: str | None = None
    reference_environment: str | None = None
    reference_version: str | None = None
    since: datetime | None = None


class VersionRow(ApiModel):
    service: str
    name: str = ""
    team_id: uuid.UUID | None = None
    tier: int | None = None
    #: Environment slug → what runs there (None: never deployed).
    versions: dict[str, DeployedVersion | None] = {}
    drift: list[DriftFinding] = []


class VersionMatrix(ApiModel):
    environments: list[Environment]
    items: list[VersionRow]


class Deployment(ApiModel):
    environment: str
    version: str
    id: uuid.UUID | None = None
    service: str | None = None
    commit_sha: str | None = None
    deployed_at: datetime | None = None
    deployed_by: str | None = None
    url: str | None = None
    description: str | None = None


class CheckResult(ApiModel):
    """One run of a health check."""

    started_at: datetime | None = None
    duration_ms: float | None = None
    #: The response was what the check expects (a slow one is ok, and degraded).
    ok: bool | None = None
    status_code: int | None = None
    #: passing, degraded or failing.
    outcome: str
    message: str = ""


class Check(ApiModel):
    """A health check of a service, with its status and its latest run."""

    id: uuid.UUID
    service: str = ""
    name: str
    url: str = ""
    method: str = "GET"
    environment: str | None = None
    latency_threshold_ms: int | None = None
    enabled: bool = True
    #: unknown (never run), passing, degraded or failing.
    status: str
    status_since: datetime | None = None
    last_result: CheckResult | None = None


class HealthWindow(ApiModel):
    availability: float | None = None
    p50_ms: float | None = None
    p95_ms: float | None = None
    samples: int = 0


class HealthCheck(ApiModel):
    id: uuid.UUID | str
    name: str = ""
    url: str = ""
    status: str
    status_since: datetime | None = None
    last_result: CheckResult | None = None
    #: "24h", "7d", "30d" → availability and latency over that window.
    windows: dict[str, HealthWindow] = {}


class ServiceHealth(ApiModel):
    status: str
    checks: list[HealthCheck] = []


class ScorecardRule(ApiModel):
    id: str
    title: str = ""
    level: str = ""
    passed: bool
    #: What to do to pass.
    message: str = ""
    #: Why it failed (empty when it passed).
    detail: str = ""


class Scorecard(ApiModel):
    service: str
    #: The highest level whose rules all pass (None: not even the first).
    level: str | None = None
    score: float | None = None
    rules: list[ScorecardRule] = []


class ReportRow(ApiModel):
    service: str
    name: str = ""
    #: The owning team's slug.
    team: str | None = None
    level: str | None = None
    score: float | None = None
    #: The rules it fails.
    failing: list[ScorecardRule] = []
    #: Environment slug → whether the service reaches the level it requires.
    go: dict[str, bool] = {}


class ScorecardReport(ApiModel):
    #: The environment asked about (None: every environment).
    environment: str | None = None
    #: Environment slug → the level a service needs to go there.
    required_levels: dict[str, str] = {}
    #: "services": how many are listed; "go:<environment>": how many may go there.
    summary: dict[str, int] = {}
    items: list[ReportRow] = []
