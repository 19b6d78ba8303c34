"""Service registry API shapes: a service (create, update, read), a dependency (create,
read), and a dependency graph."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator, AnyHttpUrl, BaseModel, ConfigDict, Field, StringConstraints

from loom.services.kinds import (
    RESERVED_SLUGS,
    RESOURCE_PATTERN,
    SLUG_PATTERN,
    Criticality,
    DependencyKind,
    Lifecycle,
    LinkKind,
)


def _not_reserved(slug: str) -> str:
    if slug in RESERVED_SLUGS:
        raise ValueError(f"'{slug}' is reserved (it names a page of /services)")
    return slug


Slug = Annotated[str, StringConstraints(pattern=SLUG_PATTERN), AfterValidator(_not_reserved)]
Name = Annotated[str, StringConstraints(min_length=1, max_length=200, strip_whitespace=True)]
Grouping = Annotated[str, StringConstraints(min_length=1, max_length=100)]
Url = Annotated[AnyHttpUrl, Field(description="http(s) URL")]
Tag = Annotated[str, StringConstraints(min_length=1, max_length=63)]
Tier = Annotated[int, Field(ge=1, le=3, description="1 is the most critical")]


class Link(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: Name
    url: Url
    kind: LinkKind = LinkKind.OTHER


class _ServiceFields(BaseModel):
    model_config = ConfigDict(extra="forbid")

    description: str = Field(default="", max_length=5000)
    system: Grouping | None = None
    domain: Grouping | None = None
    repository_url: Url | None = None
    links: list[Link] = Field(default_factory=list, max_length=50)
    api_spec_url: Url | None = None
    openapi: dict[str, Any] | None = Field(default=None, description="An inline OpenAPI spec")
    tags: list[Tag] = Field(default_factory=list, max_length=50)
    metadata: dict[str, Any] = Field(default_factory=dict)


class ServiceCreate(_ServiceFields):
    slug: Slug
    name: Name
    team: str = Field(description="The owning team, by slug or id")
    lifecycle: Lifecycle = Lifecycle.EXPERIMENTAL
    tier: Tier = 3


class ServiceUpdate(BaseModel):
    """Only the fields sent change; the slug is the service's id and never changes."""

    model_config = ConfigDict(extra="forbid")

    name: Name | None = None
    team: str | None = Field(default=None, description="Hand the service to another team")
    lifecycle: Lifecycle | None = None
    tier: Tier | None = None
    description: str | None = Field(default=None, max_length=5000)
    system: Grouping | None = None
    domain: Grouping | None = None
    repository_url: Url | None = None
    links: list[Link] | None = Field(default=None, max_length=50)
    api_spec_url: Url | None = None
    openapi: dict[str, Any] | None = None
    tags: list[Tag] | None = Field(default=None, max_length=50)
    metadata: dict[str, Any] | None = None


class Service(BaseModel):
    id: uuid.UUID
    slug: str
    name: str
    description: str
    team_id: uuid.UUID
    lifecycle: Lifecycle
    tier: int
    system: str | None
    domain: str | None
    repository_url: str | None
    links: list[dict[str, Any]]
    api_spec_url: str | None
    openapi: dict[str, Any] | None
    tags: list[str]
    metadata: dict[str, Any]
    managed: bool
    created_at: datetime
    updated_at: datetime


class DependencyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    target: str | None = Field(default=None, description="Slug of the service called")
    target_resource: Annotated[str, StringConstraints(pattern=RESOURCE_PATTERN)] | None = Field(
        default=None, description='An outside resource, "<type>:<name>" (postgres:orders-db)'
    )
    kind: DependencyKind = DependencyKind.SYNC
    criticality: Criticality = Criticality.MEDIUM
    description: str = Field(default="", max_length=2000)


class Dependency(BaseModel):
    id: uuid.UUID
    service: str
    target: str | None
    target_resource: str | None
    kind: DependencyKind
    criticality: Criticality
    description: str
    created_at: datetime


class GraphNode(BaseModel):
    slug: str
    name: str
    tier: int
    lifecycle: Lifecycle
    team_id: uuid.UUID
    team: str
    #: Hops from the service asked about (None in the whole-system graph).
    distance: int | None
    #: Its health checks' overall status: passing, degraded, failing or unknown.
    health: str = "unknown"


class GraphEdge(BaseModel):
    id: uuid.UUID
    source: str = Field(description="Slug of the calling service")
    target: str | None
    target_resource: str | None
    kind: DependencyKind
    criticality: Criticality


class Graph(BaseModel):
    nodes: list[GraphNode]
    edges: list[GraphEdge]
    cycles: list[list[str]] = Field(
        description="One cycle (slugs in call order) per group of services that call each "
        "other round in a loop"
    )
