"""The scorecard rules an organisation serves, as last synced from its catalog repository
(`scorecards/`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from loom.db.base import Base, OrgScoped, UUIDPrimaryKey
from loom.db.types import PortableJSON, UTCDateTime, utcnow


class ScorecardRule(UUIDPrimaryKey, OrgScoped, Base):
    __tablename__ = "scorecard_rules"
    __table_args__ = (UniqueConstraint("org_id", "rule_id"),)

    rule_id: Mapped[str] = mapped_column(String(63))
    title: Mapped[str] = mapped_column(String(200))
    level: Mapped[str] = mapped_column(String(10))
    #: The document as written (camelCase keys); read back through ScorecardRuleDocument.
    definition: Mapped[dict[str, Any]] = mapped_column(PortableJSON)
    digest: Mapped[str] = mapped_column(String(64))
    source_file: Mapped[str] = mapped_column(String(500))
    commit_sha: Mapped[str | None] = mapped_column(String(64), default=None)
    #: The newest sync found this document invalid: this last good version still counts.
    stale: Mapped[bool] = mapped_column(default=False)
    synced_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
