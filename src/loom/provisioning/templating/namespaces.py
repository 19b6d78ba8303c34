"""The four namespaces a reference starts with (`.current`, `.output`, `.metadata`,
`.system`): the catalog's vocabulary for them, and the values they hold at render time."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from typing import Any, NamedTuple


class Vocabulary(NamedTuple):
    namespaces: tuple[str, ...]
    system: frozenset[str]
    metadata: frozenset[str]


@cache
def vocabulary() -> Vocabulary:
    """The catalog's words for references (imported late: the catalog imports this
    module to install its checker)."""
    from loom.catalog import references

    return Vocabulary(references.NAMESPACES, references.SYSTEM_KEYS, references.METADATA_FIELDS)


@dataclass(frozen=True)
class Variables:
    """The values the namespaces hold when a task's config is rendered."""

    current: Mapping[str, Any] = field(default_factory=dict)
    output: Mapping[str, Any] = field(default_factory=dict)
    metadata: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    system: Mapping[str, Any] = field(default_factory=dict)
    #: Output keys not produced yet → the number of the task that will produce them
    #: (a request plan renders them as "known after task N").
    pending: Mapping[str, int] = field(default_factory=dict)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> Variables:
        """From sample values `{"current": {...}, "output": {...}, ...}` (the
        test-variables tool); unknown keys are refused."""
        unknown = sorted(set(data) - {*vocabulary().namespaces, "pending"})
        if unknown:
            raise ValueError(f"unknown namespace(s): {', '.join(unknown)}")
        for key, value in data.items():
            if not isinstance(value, Mapping):
                raise ValueError(f"'{key}' must be an object")
        return cls(**{key: dict(value) for key, value in data.items()})


def system_values(
    *,
    request_id: str,
    correlation_id: str,
    timestamp: datetime,
    user_email: str,
    user_name: str,
    user_teams: Sequence[str],
    region: str,
    environment: str,
    task_id: str = "",
    callback_url: str | None = None,
) -> dict[str, Any]:
    """The `.system` namespace of one request (`taskId`: of the task being rendered;
    `callbackUrl`: only for a callback task)."""
    values = {
        "requestId": request_id,
        "taskId": task_id,
        "correlationId": correlation_id,
        "timestamp": timestamp,
        "user": {"email": user_email, "name": user_name, "teams": list(user_teams)},
        "platform": {"region": region, "environment": environment},
    }
    if callback_url is not None:
        values["callbackUrl"] = callback_url
    return values
