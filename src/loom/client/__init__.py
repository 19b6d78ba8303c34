"""Typed client of Loom's public API (httpx, synchronous), used by the CLI and the
end-to-end tests: `LoomClient(base_url, token).identity.me()`."""

from loom.client.client import LoomClient
from loom.client.errors import (
    ApiError,
    ConnectionFailed,
    FieldIssue,
    LoomClientError,
    UnexpectedResponse,
)
from loom.client.pagination import Page

__all__ = [
    "ApiError",
    "ConnectionFailed",
    "FieldIssue",
    "LoomClient",
    "LoomClientError",
    "Page",
    "UnexpectedResponse",
]
