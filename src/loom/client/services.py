"""The service registry: services and what they call, dependency graphs, the version
matrix and drift, deployments, health checks and readiness scorecards.

Services are named by slug everywhere. Answers are the models of
`loom.client.service_models`.
"""

from __future__ import annotations

import builtins
import uuid
from collections.abc import Iterator
from datetime import datetime
from typing import Any, Literal
from urllib.parse import quote

from loom.client.base import HttpCore, parse_as
from loom.client.pagination import Page, iterate
from loom.client.service_models import (
    Check,
    Dependency,
    Deployment,
    DriftFinding,
    Graph,
    Scorecard,
    ScorecardReport,
    Service,
    ServiceFilter,
    ServiceHealth,
    VersionMatrix,
)

#: down: what a service calls (its dependencies); up: what calls it (its dependents).
Way = Literal["down", "up"]
Direction = Literal["down", "up", "both"]
#: Running every check of a service waits for each one's timeout at worst.
CHECKS_TIMEOUT = 60.0


def _path(slug: str, *rest: str) -> str:
    return "/".join(["/services", quote(slug, safe=""), *rest])


class ServicesApi:
    def __init__(self, core: HttpCore) -> None:
        self._core = core

    # -- services -------------------------------------------------------------------

    def list(
        self,
        where: ServiceFilter | None = None,
        *,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> Page[Service]:
        """One page of the organisation's services, by slug."""
        params: dict[str, Any] = (where or ServiceFilter()).model_dump(exclude_none=True)
        params.update(limit=limit, cursor=cursor)
        return self._core.get("/services", Page[Service], params=params)

    def iter(
        self,
        where: ServiceFilter | None = None,
        *,
        page_size: int = 100,
        max_items: int | None = None,
    ) -> Iterator[Service]:
        """Every matching service, fetching pages as they are consumed."""
        return iterate(
            lambda cursor: self.list(where, limit=page_size, cursor=cursor), max_items=max_items
        )

    def get(self, slug: str) -> Service:
        return self._core.get(_path(slug), Service)

    def create(
        self, slug: str, name: str, team: str, *, idempotency_key: str | None = None, **fields: Any
    ) -> Service:
        """Register a service owned by `team` (slug or id; operators of that team).
        `fields`: lifecycle, tier, description, system, domain, repository_url, links,
        api_spec_url, openapi, tags, metadata."""
        body = {"slug": slug, "name": name, "team": team, **fields}
        return self._core.post(
            "/services", Service, json=body, ok=(200, 201), idempotency_key=idempotency_key
        )

    def update(self, slug: str, **changes: Any) -> Service:
        """Change the fields given; None clears an optional one (system, domain, URLs)."""
        return parse_as(self._core.request("PATCH", _path(slug), json=changes), Service)

    def delete(self, slug: str) -> None:
        """Remove a service and every dependency from or to it."""
        self._core.request("DELETE", _path(slug), ok=(204,))

    # -- dependencies ---------------------------------------------------------------

    def dependencies(
        self,
        slug: str,
        direction: Way = "down",
        *,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> Page[Dependency]:
        """One page of what the service calls (down) or of what calls it (up)."""
        params = {"direction": direction, "limit": limit, "cursor": cursor}
        return self._core.get(_path(slug, "dependencies"), Page[Dependency], params=params)

    def iter_dependencies(
        self, slug: str, direction: Way = "down", *, page_size: int = 100
    ) -> Iterator[Dependency]:
        return iterate(lambda c: self.dependencies(slug, direction, limit=page_size, cursor=c))

    def add_dependency(
        self,
        slug: str,
        *,
        target: str | None = None,
        target_resource: str | None = None,
        kind: str = "sync",
        criticality: str = "medium",
        description: str = "",
        idempotency_key: str | None = None,
    ) -> Dependency:
        """Record that `slug` calls another service (`target`) or an outside resource
        (`target_resource`, "<type>:<name>")."""
        body: dict[str, Any] = {"kind": kind, "criticality": criticality}
        if target is not None:
            body["target"] = target
        if target_resource is not None:
            body["target_resource"] = target_resource
        if description:
            body["description"] = description
        return self._core.post(
            _path(slug, "dependencies"), Dependency, json=body, ok=(200, 201),
            idempotency_key=idempotency_key,
        )  # fmt: skip

    def remove_dependency(self, slug: str, dependency_id: uuid.UUID | str) -> None:
        self._core.request("DELETE", _path(slug, "dependencies", str(dependency_id)), ok=(204,))

    # -- graphs ---------------------------------------------------------------------

    def graph(self, slug: str, *, depth: int = 2, direction: Direction = "both") -> Graph:
        """The services within `depth` hops of `slug`, the dependencies between them and
        any loops."""
        params = {"depth": depth, "direction": direction}
        return self._core.get(_path(slug, "graph"), Graph, params=params)

    def system_graph(self) -> Graph:
        """Every service of the organisation, every dependency, and any loops."""
        return self._core.get("/service-graph", Graph)

    # -- versions and deployments -----------------------------------------------------

    def versions(
        self, *, team: str | None = None, system: str | None = None, tier: int | None = None
    ) -> VersionMatrix:
        """Services by environments with the version deployed in each, and their drift."""
        params = {"team": team, "system": system, "tier": tier}
        return self._core.get("/services/versions", VersionMatrix, params=params)

    def drift(
        self,
        *,
        team: str | None = None,
        kind: str | None = None,
        environment: str | None = None,
    ) -> builtins.list[DriftFinding]:
        """Every drift finding: an environment behind the one before it for too long, or
        running a version never seen there."""
        params = {"team": team, "kind": kind, "environment": environment}
        return self._core.get("/services/drift", Page[DriftFinding], params=params).items

    def record_deployment(
        self,
        slug: str,
        environment: str,
        version: str,
        *,
        commit_sha: str | None = None,
        deployed_at: datetime | None = None,
        url: str | None = None,
        description: str | None = None,
        idempotency_key: str | None = None,
    ) -> Deployment:
        """Record that `version` of the service now runs in `environment`."""
        body: dict[str, Any] = {"environment": environment, "version": version}
        extra = {"commit_sha": commit_sha, "url": url, "description": description,
                 "deployed_at": deployed_at.isoformat() if deployed_at else None}  # fmt: skip
        body.update({k: v for k, v in extra.items() if v is not None})
        return self._core.post(
            _path(slug, "deployments"), Deployment, json=body, ok=(200, 201),
            idempotency_key=idempotency_key,
        )  # fmt: skip

    def deployments(
        self,
        slug: str,
        *,
        environment: str | None = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> Page[Deployment]:
        """One page of the service's deployment history, newest first."""
        params = {"environment": environment, "limit": limit, "cursor": cursor}
        return self._core.get(_path(slug, "deployments"), Page[Deployment], params=params)

    def iter_deployments(
        self, slug: str, *, environment: str | None = None, page_size: int = 100
    ) -> Iterator[Deployment]:
        return iterate(
            lambda c: self.deployments(slug, environment=environment, limit=page_size, cursor=c)
        )

    # -- health and readiness ---------------------------------------------------------

    def run_checks(self, slug: str) -> builtins.list[Check]:
        """Run every enabled health check of the service now (operators of its team); the
        checks, each with the run's result as `last_result` and its status after it."""
        response = self._core.request(
            "POST", _path(slug, "checks", "run"), ok=(200,), timeout=CHECKS_TIMEOUT
        )
        return parse_as(response, builtins.list[Check])

    def health(self, slug: str) -> ServiceHealth:
        """The service's status and, per check, availability and latency over 24h/7d/30d."""
        return self._core.get(_path(slug, "health"), ServiceHealth)

    def scorecard(self, slug: str) -> Scorecard:
        """Every readiness rule, passed or not, and the level the service reaches."""
        return self._core.get(_path(slug, "scorecard"), Scorecard)

    def scorecard_report(
        self, *, environment: str | None = None, team: str | None = None, level: str | None = None
    ) -> ScorecardReport:
        """Every service's level, failing rules and go or no-go for each environment's
        required level (or just `environment`'s); `level`: only services at that level
        (bronze, silver, gold or none)."""
        params = {"environment": environment, "team": team, "level": level}
        return self._core.get("/scorecards/report", ScorecardReport, params=params)
