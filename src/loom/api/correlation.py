"""The correlation id of the current request, shared with logs, audit entries and
outgoing calls through a context variable."""

from __future__ import annotations

import re
import uuid
from contextvars import ContextVar

HEADER = "X-Correlation-ID"
_current: ContextVar[str | None] = ContextVar("loom_correlation_id", default=None)
_VALID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")


def accept_or_new(incoming: str | None) -> str:
    """Keep a caller's id if it is sane; otherwise mint one (never echo arbitrary bytes)."""
    if incoming and _VALID.match(incoming):
        return incoming
    return uuid.uuid4().hex


def set_correlation_id(value: str) -> None:
    _current.set(value)


def correlation_id() -> str | None:
    return _current.get()
