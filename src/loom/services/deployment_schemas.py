"""API shapes of environments, deployments, the version matrix and drift findings."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from loom.services.kinds import SLUG_PATTERN
from loom.services.schemas import Name, Url

EnvironmentSlug = Annotated[str, StringConstraints(pattern=SLUG_PATTERN)]
EnvironmentName = Annotated[str, StringConstraints(min_length=1, max_length=100)]
Rank = Annotated[int, Field(ge=0, le=10_000, description="Order of promotion: lower first")]
ThresholdHours = Annotated[
    int, Field(ge=1, le=24 * 365, description="Drift threshold; null: the server default")
]
Version = Annotated[str, StringConstraints(min_length=1, max_length=200, strip_whitespace=True)]
CommitSha = Annotated[str, StringConstraints(pattern=r"^[0-9a-fA-F]{7,64}$")]
DriftKind = Literal["behind", "unseen_version", "missing"]


class EnvironmentCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    slug: EnvironmentSlug
    name: EnvironmentName
    rank: Rank
    production: bool = False
    drift_threshold_hours: ThresholdHours | None = None


class EnvironmentUpdate(BaseModel):
    """Only the fields sent change; the slug never does. A null threshold means the default."""

    model_config = ConfigDict(extra="forbid")

    name: EnvironmentName | None = None
    rank: Rank | None = None
    production: bool | None = None
    drift_threshold_hours: ThresholdHours | None = None


class Environment(BaseModel):
    slug: str
    name: str
    rank: int
    production: bool
    drift_threshold_hours: int | None
    created_at: datetime
    updated_at: datetime


class DeploymentCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    environment: str = Field(description="Environment slug")
    version: Version
    commit_sha: CommitSha | None = None
    deployed_at: AwareDatetime | None = Field(
        default=None, description="When it happened (default now); past values backfill history"
    )
    deployed_by: Name | None = Field(default=None, description="Default: the caller's email")
    url: Url | None = None
    description: str = Field(default="", max_length=5000)


class Deployment(BaseModel):
    id: uuid.UUID
    service: str
    environment: str
    version: str
    commit_sha: str | None
    deployed_at: datetime
    deployed_by: str
    source: str
    url: str | None
    description: str
    created_at: datetime


class MatrixEnvironment(BaseModel):
    slug: str
    name: str
    rank: int


class DeployedVersion(BaseModel):
    version: str
    deployed_at: datetime
    deployed_by: str
    commit_sha: str | None


class DriftFinding(BaseModel):
    service: str
    environment: str
    kind: DriftKind
    message: str
    version: str
    reference_environment: str
    reference_version: str | None
    since: datetime


class MatrixRow(BaseModel):
    service: str
    name: str
    team_id: uuid.UUID
    tier: int
    versions: dict[str, DeployedVersion | None]
    drift: list[DriftFinding]


class VersionMatrix(BaseModel):
    environments: list[MatrixEnvironment]
    items: list[MatrixRow]


class DriftReport(BaseModel):
    items: list[DriftFinding]
