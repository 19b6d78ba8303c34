"""API shapes of silences: what an operator sends to make one, and what is read back."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import AwareDatetime, BaseModel, Field

MatcherOp = Literal["=", "!=", "=~", "!~"]


class SilenceState(StrEnum):
    PENDING = "pending"
    ACTIVE = "active"
    EXPIRED = "expired"


class Matcher(BaseModel):
    name: str = Field(min_length=1, max_length=200, description="A label name")
    value: str = Field(max_length=1000, description="A value, or a regex for =~ and !~")
    op: MatcherOp = "="


class SilenceCreate(BaseModel):
    matchers: list[Matcher] = Field(min_length=1, max_length=50)
    starts_at: AwareDatetime | None = Field(default=None, description="Default: now")
    ends_at: AwareDatetime
    comment: str = Field(default="", max_length=2000)


class Silence(BaseModel):
    id: uuid.UUID
    matchers: list[Matcher]
    starts_at: datetime
    ends_at: datetime
    comment: str
    created_by: str
    state: SilenceState
    created_at: datetime
