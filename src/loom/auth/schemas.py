"""Pydantic input and output shapes of identity resources."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from loom.auth.roles import Role

Slug = Annotated[str, StringConstraints(pattern=r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")]
RoleName = Literal["viewer", "operator", "admin", "owner"]
ScopeName = Literal["read", "write", "admin"]


class TokenCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, StringConstraints(min_length=1, max_length=200, strip_whitespace=True)]
    scopes: list[ScopeName] = Field(default_factory=lambda: ["read", "write"])  # type: ignore[arg-type]
    #: Not sent: the configured default lifetime. null: never expires.
    expires_in_days: int | None = Field(default=None, ge=1, le=3650)


class Token(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    prefix: str
    scopes: list[str]
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None


class TokenCreated(Token):
    token: str = Field(description="The secret token. Shown only in this response.")


class TeamCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    slug: Slug
    name: Annotated[str, StringConstraints(min_length=1, max_length=200, strip_whitespace=True)]
    description: str = Field(default="", max_length=2000)


class TeamUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, StringConstraints(min_length=1, max_length=200)] | None = None
    description: str | None = Field(default=None, max_length=2000)


class Team(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    slug: str
    name: str
    description: str
    created_at: datetime


class MemberSet(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: str = Field(min_length=3, max_length=320)
    role: RoleName


class Member(BaseModel):
    user_id: uuid.UUID
    email: str
    name: str
    role: RoleName


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: Annotated[str, StringConstraints(pattern=r"^[^@\s]+@[^@\s]+$", max_length=320)]
    name: str = Field(default="", max_length=200)
    password: str | None = Field(default=None, min_length=8, max_length=200)
    org_role: RoleName = "viewer"


class User(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    email: str
    name: str
    org_role: RoleName
    is_active: bool
    created_at: datetime

    @field_validator("org_role", mode="before")
    @classmethod
    def _role_label(cls, value: object) -> object:
        return Role(value).label if isinstance(value, int) else value


class Me(BaseModel):
    user_id: uuid.UUID
    org_id: uuid.UUID
    email: str
    name: str
    org_role: RoleName
    teams: dict[str, RoleName]
    scopes: list[str]
    via: str
