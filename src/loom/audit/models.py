"""The audit table. There is deliberately no update or delete path for it in the code."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from loom.db.base import Base
from loom.db.types import PortableJSON, UTCDateTime, utcnow


class AuditEntry(Base):
    __tablename__ = "audit_entries"
    __table_args__ = (UniqueConstraint("org_id", "seq"),)

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    org_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    #: Position in the organisation's chain, 1, 2, 3...: a gap shows a deleted entry.
    seq: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    actor_type: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[uuid.UUID | None] = mapped_column(default=None, index=True)
    actor_name: Mapped[str] = mapped_column(String(320), default="")
    action: Mapped[str] = mapped_column(String(100), index=True)
    target_type: Mapped[str] = mapped_column(String(64), index=True)
    target_id: Mapped[str] = mapped_column(String(200), index=True)
    team_id: Mapped[uuid.UUID | None] = mapped_column(default=None, index=True)
    correlation_id: Mapped[str | None] = mapped_column(String(128), default=None, index=True)
    before: Mapped[dict[str, Any] | None] = mapped_column(PortableJSON, default=None)
    after: Mapped[dict[str, Any] | None] = mapped_column(PortableJSON, default=None)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditChainHead(Base):
    """The last entry of an organisation's chain. Writers lock this row to append (on
    PostgreSQL in the same statement that appends, see loom.audit.raw); `verify` checks
    the chain ends here, so deleting the newest entries is detected too."""

    __tablename__ = "audit_chain_heads"

    org_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), primary_key=True
    )
    seq: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"))
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
