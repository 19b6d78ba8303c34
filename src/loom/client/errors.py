"""What can go wrong when talking to Loom, as exceptions a caller can catch in one place.

Every failure the client raises is a `LoomClientError`: the server answered with an error
envelope (`ApiError`), it could not be reached (`ConnectionFailed`), or it answered with
something that is not Loom's API (`UnexpectedResponse`).
"""

from __future__ import annotations

from dataclasses import dataclass, field


class LoomClientError(Exception):
    """Base of every error the client raises."""


@dataclass(frozen=True)
class FieldIssue:
    field: str
    issue: str


@dataclass
class ApiError(LoomClientError):
    """An error envelope: `{"error": {"code", "message", "details", "correlation_id"}}`."""

    status: int
    code: str
    message: str
    details: list[FieldIssue] = field(default_factory=list)
    correlation_id: str | None = None

    def __str__(self) -> str:
        return f"{self.message} ({self.code}, HTTP {self.status})"


@dataclass
class ConnectionFailed(LoomClientError):
    """No HTTP answer at all: refused, DNS failure, TLS failure or timeout."""

    url: str
    reason: str

    def __str__(self) -> str:
        return f"cannot reach Loom at {self.url}: {self.reason}"


@dataclass
class UnexpectedResponse(LoomClientError):
    """An answer that is not the API's (a proxy's HTML page, a body of the wrong shape)."""

    status: int
    reason: str
    correlation_id: str | None = None

    def __str__(self) -> str:
        return f"unexpected response (HTTP {self.status}): {self.reason}"
