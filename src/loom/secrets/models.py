"""The secrets table: one row per secret form value of an owner (a request)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from loom.db.base import Base, OrgScoped, UUIDPrimaryKey
from loom.db.types import UTCDateTime, utcnow


class StoredSecret(UUIDPrimaryKey, OrgScoped, Base):
    __tablename__ = "secrets"
    __table_args__ = (UniqueConstraint("owner_type", "owner_id", "path"),)

    owner_type: Mapped[str] = mapped_column(String(40))
    owner_id: Mapped[uuid.UUID] = mapped_column(index=True)
    #: The form field path the value came from (e.g. `db.password`).
    path: Mapped[str] = mapped_column(String(200))
    ciphertext: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
