"""Service registry tables: the services an organisation runs and what each one calls
(another registered service, or an outside resource such as a database)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from loom.db.base import Base, OrgScoped, TeamScoped, Timestamps, UUIDPrimaryKey
from loom.db.types import PortableJSON, UTCDateTime, utcnow


class Service(UUIDPrimaryKey, Timestamps, TeamScoped, Base):
    """A service, owned by one team (`team_id`) and named in the API by its `slug`."""

    __tablename__ = "services"
    __table_args__ = (UniqueConstraint("org_id", "slug"),)
    #: Every member of the organisation reads the registry; writes check the owning team.
    __scope_team_column__ = None

    slug: Mapped[str] = mapped_column(String(63))
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    lifecycle: Mapped[str] = mapped_column(String(20), index=True)
    tier: Mapped[int] = mapped_column(Integer, index=True)
    system: Mapped[str | None] = mapped_column(String(100), default=None, index=True)
    domain: Mapped[str | None] = mapped_column(String(100), default=None, index=True)
    repository_url: Mapped[str | None] = mapped_column(String(1000), default=None)
    #: [{"title", "url", "kind"}]
    links: Mapped[list[dict[str, Any]]] = mapped_column(PortableJSON, default=list)
    api_spec_url: Mapped[str | None] = mapped_column(String(1000), default=None)
    openapi: Mapped[dict[str, Any] | None] = mapped_column(PortableJSON, default=None)
    tags: Mapped[list[str]] = mapped_column(PortableJSON, default=list)
    #: Free-form key/values (the column is `metadata`, a name SQLAlchemy reserves).
    extra: Mapped[dict[str, Any]] = mapped_column("metadata", PortableJSON, default=dict)
    #: Synced from a catalog document: refuses edits by hand (they would be overwritten).
    managed: Mapped[bool] = mapped_column(default=False)


class ServiceDependency(UUIDPrimaryKey, OrgScoped, Base):
    """`service_id` calls `target_service_id`, or uses the outside `target_resource`
    (exactly one of the two)."""

    __tablename__ = "service_dependencies"
    __table_args__ = (
        # NULLs are distinct on both stores, so each constraint applies to its own kind.
        UniqueConstraint(
            "service_id", "target_service_id", name="uq_service_dependencies_service_target"
        ),
        UniqueConstraint(
            "service_id", "target_resource", name="uq_service_dependencies_service_resource"
        ),
        CheckConstraint(
            "(target_service_id IS NULL) <> (target_resource IS NULL)", name="one_target"
        ),
        # Graph walks ask for the edges of some services within one organisation: with the
        # org in the index, no planner (SQLite's has no statistics) picks the org_id index
        # and scans every edge of the organisation instead.
        Index("ix_service_dependencies_service_org", "service_id", "org_id"),
        Index("ix_service_dependencies_target_org", "target_service_id", "org_id"),
    )

    service_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("services.id", ondelete="CASCADE"))
    target_service_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("services.id", ondelete="CASCADE"), default=None
    )
    target_resource: Mapped[str | None] = mapped_column(String(250), default=None)
    kind: Mapped[str] = mapped_column(String(10))
    criticality: Mapped[str] = mapped_column(String(10))
    description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Environment(UUIDPrimaryKey, Timestamps, OrgScoped, Base):
    """A place services are deployed to (dev, staging, production...), ordered by `rank`:
    drift compares each environment with the one ranked just before it."""

    __tablename__ = "environments"
    __table_args__ = (
        UniqueConstraint("org_id", "slug", name="uq_environments_org_slug"),
        UniqueConstraint("org_id", "rank", name="uq_environments_org_rank"),
    )

    slug: Mapped[str] = mapped_column(String(63))
    name: Mapped[str] = mapped_column(String(100))
    rank: Mapped[int] = mapped_column(Integer)
    production: Mapped[bool] = mapped_column(default=False)
    #: None: the `services.drift_threshold_hours` setting.
    drift_threshold_hours: Mapped[int | None] = mapped_column(Integer, default=None)


class ServiceDeployment(UUIDPrimaryKey, OrgScoped, Base):
    """One deployment of a version of a service to an environment. Append-only: the
    latest row per (service, environment) is what runs there now."""

    __tablename__ = "service_deployments"
    __table_args__ = (
        # "Latest per (service, environment)" and each service's history, newest first.
        Index("ix_service_deployments_latest", "service_id", "environment_id", "deployed_at"),
    )

    service_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("services.id", ondelete="CASCADE"))
    #: RESTRICT: an environment with deployments cannot be removed (the API says 409 first).
    environment_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("environments.id", ondelete="RESTRICT"), index=True
    )
    version: Mapped[str] = mapped_column(String(200))
    commit_sha: Mapped[str | None] = mapped_column(String(64), default=None)
    deployed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    deployed_by: Mapped[str] = mapped_column(String(320))
    source: Mapped[str] = mapped_column(String(20))
    url: Mapped[str | None] = mapped_column(String(1000), default=None)
    description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
