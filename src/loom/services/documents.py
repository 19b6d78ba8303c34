"""`kind: Service` documents of the catalog repository (`services/`), as pydantic models.

A document means what the same API body means: the fields and values of
`schemas.ServiceCreate` and `schemas.DependencyCreate`, spelled camelCase as in the other
catalog documents (`repositoryUrl`, `apiSpecUrl`, `dependsOn`). The owner is
`metadata.owner`, else the CODEOWNERS team of the file, as for catalog items.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator
from pydantic.alias_generators import to_camel

from loom.catalog.yaml_source import Path
from loom.services.kinds import RESOURCE_PATTERN, Criticality, DependencyKind, Lifecycle
from loom.services.schemas import Grouping, Link, Name, Slug, Tag, Tier, Url

Resource = Annotated[str, StringConstraints(pattern=RESOURCE_PATTERN)]


class Doc(BaseModel):
    """Catalog document conventions: camelCase keys, unknown keys are errors."""

    model_config = ConfigDict(
        extra="forbid", alias_generator=to_camel, populate_by_name=True, frozen=True
    )


class ServiceMetadata(Doc):
    id: Slug = Field(description="The service's slug")
    name: Name
    owner: str | None = Field(default=None, description="Owning team slug; else from CODEOWNERS")
    description: str = Field(default="", max_length=5000)
    tags: list[Tag] = Field(default_factory=list, max_length=50)


class DependsOn(Doc):
    """A service it calls (`service`, a slug) or an outside resource it uses
    (`resource`, "<type>:<name>"): exactly one."""

    service: Slug | None = None
    resource: Resource | None = None
    kind: DependencyKind = DependencyKind.SYNC
    criticality: Criticality = Criticality.MEDIUM
    description: str = Field(default="", max_length=2000)

    @model_validator(mode="after")
    def _one_target(self) -> DependsOn:
        if (self.service is None) == (self.resource is None):
            raise ValueError("give exactly one of service and resource")
        return self


class ServiceSpec(Doc):
    lifecycle: Lifecycle = Lifecycle.EXPERIMENTAL
    tier: Tier = 3
    system: Grouping | None = None
    domain: Grouping | None = None
    repository_url: Url | None = None
    links: list[Link] = Field(default_factory=list, max_length=50)
    api_spec_url: Url | None = None
    openapi: dict[str, Any] | None = Field(default=None, description="An inline OpenAPI spec")
    depends_on: list[DependsOn] = Field(default_factory=list, max_length=200)
    metadata: dict[str, Any] = Field(default_factory=dict)


class ServiceDocument(Doc):
    api_version: Literal["loom/v1"]
    kind: Literal["Service"]
    metadata: ServiceMetadata
    spec: ServiceSpec = Field(default_factory=ServiceSpec)


def document_findings(document: ServiceDocument) -> Iterator[tuple[Path, str]]:
    """What the model cannot see alone: a service depending on itself, a target twice."""
    seen: dict[str, int] = {}
    for i, dep in enumerate(document.spec.depends_on):
        key = "resource" if dep.resource else "service"
        target = dep.resource or dep.service or ""
        if key == "service" and target == document.metadata.id:
            yield ("spec", "dependsOn", i, key), "a service cannot depend on itself"
        elif target in seen:
            yield ("spec", "dependsOn", i, key), f"already listed at dependsOn[{seen[target]}]"
        seen.setdefault(target, i)
