"""The closed vocabularies of the service registry, defined once: tables store their
values, schemas validate against them."""

from __future__ import annotations

from enum import StrEnum


class Lifecycle(StrEnum):
    EXPERIMENTAL = "experimental"
    PRODUCTION = "production"
    DEPRECATED = "deprecated"


class LinkKind(StrEnum):
    DOCS = "docs"
    DASHBOARD = "dashboard"
    RUNBOOK = "runbook"
    ONCALL = "oncall"
    OTHER = "other"


class DependencyKind(StrEnum):
    SYNC = "sync"
    ASYNC = "async"
    DATA = "data"


class Criticality(StrEnum):
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


class DeploymentSource(StrEnum):
    """Where a deployment record came from."""

    API = "api"
    WEBHOOK = "webhook"
    CATALOG = "catalog"


#: A service's slug (its id in the API), unique per organisation.
SLUG_PATTERN = r"^[a-z0-9][a-z0-9-]{1,62}$"
#: Slugs no service may take: `/services/<them>` are fixed routes (the version matrix,
#: drift; the portal's whole-system graph at `/ui/services/graph`).
RESERVED_SLUGS = frozenset({"versions", "drift", "graph"})
#: An outside resource a service depends on: "<type>:<name>", e.g. "postgres:orders-db".
RESOURCE_PATTERN = r"^[a-z][a-z0-9_-]{0,39}:[^\s]{1,200}$"
