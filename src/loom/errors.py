"""Domain errors. Services raise these; `loom.api.errors` maps each to one HTTP status and
the error envelope, so no service needs to know about HTTP."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class FieldIssue:
    field: str
    issue: str


@dataclass
class LoomError(Exception):
    message: str
    details: list[FieldIssue] = field(default_factory=list)
    code: str = "ERROR"

    def __str__(self) -> str:
        return self.message


@dataclass
class InvalidInput(LoomError):
    code: str = "VALIDATION_ERROR"

    @classmethod
    def on(cls, field_name: str, issue: str) -> InvalidInput:
        return cls(f"{field_name}: {issue}", [FieldIssue(field_name, issue)])


@dataclass
class RejectedInput(InvalidInput):
    """Well-formed input that a domain rule refused as a whole (e.g. a request's form
    values): a 400 listing every field error."""


@dataclass
class NotAuthenticated(LoomError):
    code: str = "UNAUTHENTICATED"


@dataclass
class Forbidden(LoomError):
    code: str = "FORBIDDEN"


@dataclass
class NotFound(LoomError):
    code: str = "NOT_FOUND"


@dataclass
class Conflict(LoomError):
    code: str = "CONFLICT"


@dataclass
class Gone(LoomError):
    """Something that existed is no longer usable (an expired or used one-time link)."""

    code: str = "GONE"


@dataclass
class UpstreamFailed(LoomError):
    """An outside system Loom called (JIRA...) answered with an error: a 502 naming it."""

    code: str = "UPSTREAM_ERROR"


@dataclass
class UpstreamUnavailable(LoomError):
    """An outside system could not be reached in time, its circuit is open, or it is not
    configured: a 503."""

    code: str = "UPSTREAM_UNAVAILABLE"


@dataclass
class RateLimited(LoomError):
    code: str = "RATE_LIMITED"


@dataclass
class IllegalTransition(Conflict):
    code: str = "ILLEGAL_TRANSITION"


def field_path(loc: Sequence[Any], prefix: str = "") -> str:
    """A pydantic error location as a field name: `items[0].name` (the request part
    `body` left out), after `prefix` (`config`: `config.url`)."""
    parts = list(loc)
    if parts and parts[0] in ("body", "query", "path", "header", "cookie"):
        parts = parts[1:] if parts[0] == "body" else parts
    path = prefix
    for part in parts:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path or "body"
