"""Why Loom refused an outgoing call before it left the process."""

from __future__ import annotations


class OutboundRefused(Exception):
    """Loom refused an outgoing call before it left the process."""


class HostNotAllowed(OutboundRefused):
    """The URL's host is not in `allowed_hosts` (or is an unlisted IP literal)."""


class CircuitOpen(OutboundRefused):
    """Recent calls to this host failed; calls are refused until the cool-down ends."""

    def __init__(self, key: str, retry_after: float) -> None:
        self.key = key
        self.retry_after = retry_after
        super().__init__(
            f"circuit open for {key}: recent calls failed; next trial in {retry_after:.0f} s"
        )
