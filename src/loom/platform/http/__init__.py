"""The one way Loom calls other systems over HTTP: `HttpClients.client(integration)`.

Every client it hands out goes through `GuardedTransport`, so every request, redirect
hops included, gets the same treatment before a connection is made:

* the host must be allowed (`HostPolicy`: `settings.allowed_hosts`, exact names and
  `*.suffix` wildcards; IP literals only when listed exactly, so nothing reaches a
  private, loopback or link-local address by IP unless an operator listed it);
* the circuit breaker of (integration, host[:port]) must not be open (`CircuitBreaker`:
  opens after N consecutive failures — 5xx, timeouts, connection errors — and lets one
  trial call through after a cool-down);
* timeouts are always set (a caller's `timeout=None` is replaced by the defaults);
* the correlation id of the current request or job goes out as `X-Correlation-ID`;
* credential headers are dropped when a redirect leaves the first origin.

Refusals raise `HostNotAllowed` or `CircuitOpen` (both `OutboundRefused`) from the
client call, before any byte is sent. Host names are matched as written in the URL; what
they resolve to is not checked (an allowed name pointing at an internal address is the
operator's choice).

Modules: `clients` (the factory), `transport` (the guard), `allowlist`, `circuit`,
`errors`. This package exports the public names.
"""

from __future__ import annotations

from loom.platform.http.allowlist import HostPolicy
from loom.platform.http.circuit import BreakerState, CircuitBreaker
from loom.platform.http.clients import HttpClients, http_clients
from loom.platform.http.errors import CircuitOpen, HostNotAllowed, OutboundRefused
from loom.platform.http.transport import (
    SENSITIVE_HEADERS_EXTENSION,
    GuardedTransport,
    is_credential_header,
)

__all__ = [
    "SENSITIVE_HEADERS_EXTENSION",
    "BreakerState",
    "CircuitBreaker",
    "CircuitOpen",
    "GuardedTransport",
    "HostNotAllowed",
    "HostPolicy",
    "HttpClients",
    "OutboundRefused",
    "http_clients",
    "is_credential_header",
]
