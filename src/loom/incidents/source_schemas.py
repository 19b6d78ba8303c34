"""API shapes of alert sources."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from loom.incidents.kinds import AlertSourceKind

SourceName = Annotated[
    str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9._-]{0,99}$", strip_whitespace=True)
]


class SourceCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: SourceName
    kind: AlertSourceKind


class SourceUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool


class Source(BaseModel):
    id: uuid.UUID
    name: str
    kind: AlertSourceKind
    enabled: bool
    last_used_at: datetime | None
    created_at: datetime


class SourceCredentials(Source):
    """Returned once, on creation and rotation: keep the token and secret safe."""

    token: str = Field(description="Bearer token for this source")
    hmac_secret: str = Field(
        description="Secret for X-Loom-Signature-256 (HMAC-SHA256 of the body)"
    )
