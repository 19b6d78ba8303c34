"""Catalog tables: the version of each entry being served, its last versions, and the
record of each sync."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from loom.db.base import Base, OrgScoped, UUIDPrimaryKey
from loom.db.types import PortableJSON, UTCDateTime, utcnow

KEEP_VERSIONS = 10


class CatalogEntry(UUIDPrimaryKey, OrgScoped, Base):
    """The served version of one CatalogItem or CatalogBundle (visible to the whole org)."""

    __tablename__ = "catalog_entries"
    __table_args__ = (UniqueConstraint("org_id", "entry_id"),)

    entry_id: Mapped[str] = mapped_column(String(63), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    category: Mapped[str] = mapped_column(String(100), index=True)
    version: Mapped[str] = mapped_column(String(50))
    tags: Mapped[list[str]] = mapped_column(PortableJSON, default=list)
    owner_team: Mapped[str | None] = mapped_column(String(63), default=None, index=True)
    owner_team_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("teams.id", ondelete="SET NULL"), default=None
    )
    definition: Mapped[dict[str, Any]] = mapped_column(PortableJSON)
    digest: Mapped[str] = mapped_column(String(64))
    commit_sha: Mapped[str | None] = mapped_column(String(64), default=None)
    source_file: Mapped[str] = mapped_column(String(500))
    #: The newest sync found this document invalid: this last good version is still served.
    stale: Mapped[bool] = mapped_column(default=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    synced_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CatalogEntryVersion(UUIDPrimaryKey, OrgScoped, Base):
    """One of the last KEEP_VERSIONS definitions of an entry (requests pin one of these)."""

    __tablename__ = "catalog_entry_versions"
    __table_args__ = (UniqueConstraint("org_id", "entry_id", "digest"),)

    entry_id: Mapped[str] = mapped_column(String(63), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    version: Mapped[str] = mapped_column(String(50))
    digest: Mapped[str] = mapped_column(String(64))
    commit_sha: Mapped[str | None] = mapped_column(String(64), default=None)
    definition: Mapped[dict[str, Any]] = mapped_column(PortableJSON)
    source_file: Mapped[str] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class CatalogSync(UUIDPrimaryKey, OrgScoped, Base):
    __tablename__ = "catalog_syncs"

    trigger: Mapped[str] = mapped_column(String(20))
    source: Mapped[str] = mapped_column(String(1000))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    status: Mapped[str] = mapped_column(String(20), default="running")
    commit_sha: Mapped[str | None] = mapped_column(String(64), default=None)
    items: Mapped[int] = mapped_column(Integer, default=0)
    bundles: Mapped[int] = mapped_column(Integer, default=0)
    changed: Mapped[int] = mapped_column(Integer, default=0)
    problems: Mapped[list[dict[str, Any]]] = mapped_column(PortableJSON, default=list)
    error: Mapped[str | None] = mapped_column(Text, default=None)
