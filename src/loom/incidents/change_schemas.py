"""Input shapes of changes: `ChangeCreate` (POST /changes, and what every webhook
adapter produces), the correlation verdict, and the change-frequency answer.

Change payloads are parsed with `parse`, which turns every problem into one
`RejectedInput` (a 400 naming each field), as the issue asks of malformed payloads.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Annotated, Any, TypeVar

from pydantic import (
    AnyHttpUrl,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
)

from loom.errors import FieldIssue, RejectedInput
from loom.incidents.kinds import ChangeType, Verdict

Slug = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=63)]
Version = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


class ChangeCreate(BaseModel):
    """A change as posted by a person, a pipeline or a webhook adapter."""

    model_config = ConfigDict(extra="forbid")

    type: ChangeType
    service: Slug | None = Field(default=None, description="The registry slug of the service")
    environment: Slug | None = None
    version: Version | None = None
    previous_version: Version | None = Field(
        default=None, description="Default: what the version matrix showed for a deployment"
    )
    title: Annotated[str, StringConstraints(strip_whitespace=True, max_length=300)] = ""
    description: Annotated[str, StringConstraints(max_length=20_000)] = ""
    author: (
        Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=320)]
        | None
    ) = Field(
        default=None, description="Default: the caller (a person's email, or the source's name)"
    )
    happened_at: datetime | None = Field(
        default=None, description="With a time zone; default now; at most 1 min ahead"
    )
    url: AnyHttpUrl | None = None
    external_id: (
        Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
        | None
    ) = Field(default=None, description="The sender's id of the change: a repeat records nothing")
    commit_sha: Annotated[str, StringConstraints(pattern=r"^[0-9a-fA-F]{7,64}$")] | None = Field(
        default=None, description="Kept on the registry deployment a deployment records"
    )

    @field_validator("happened_at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("needs a time zone (e.g. 2026-01-31T12:00:00Z)")
        return value


class VerdictIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    verdict: Verdict
    note: Annotated[str, StringConstraints(max_length=2000)] = ""


class ChangeFrequency(BaseModel):
    service: str | None = Field(description="Slug; null for changes that name no service")
    last_7_days: int
    last_30_days: int


class ChangeFrequencies(BaseModel):
    items: list[ChangeFrequency]
    since_7_days: datetime
    since_30_days: datetime


class Recorded(BaseModel):
    """What a change webhook answers."""

    status: str
    change_id: uuid.UUID | None = None
    reason: str | None = None


M = TypeVar("M", bound=BaseModel)


def _field(loc: tuple[int | str, ...]) -> str:
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path or "body"


def validate(model: type[M], data: Any, *, prefix: str = "") -> M:
    """`model` from `data`, or a RejectedInput (400) naming every bad field."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        details = [
            FieldIssue(
                prefix + _field(tuple(e["loc"])) if e["loc"] else prefix.rstrip(".") or "body",
                e["msg"],
            )
            for e in exc.errors()
        ]
        summary = "; ".join(f"{d.field}: {d.issue}" for d in details[:3])
        raise RejectedInput(f"invalid payload: {summary}", details) from None


def json_object(body: bytes) -> dict[str, Any]:
    """The JSON object in a request body, or a 400."""
    try:
        data = json.loads(body)
    except ValueError:
        raise RejectedInput.on("body", "not valid JSON") from None
    if not isinstance(data, dict):
        raise RejectedInput.on("body", "must be a JSON object")
    return data


def parse(body: bytes) -> ChangeCreate:
    return validate(ChangeCreate, json_object(body))
