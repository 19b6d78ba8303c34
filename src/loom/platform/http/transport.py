"""The transport every outgoing request goes through, redirect hops included:
allow-list, circuit breaker, timeouts, correlation id, and credential headers dropped
when a redirect leaves the first origin."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx

from loom.api.correlation import HEADER as CORRELATION_HEADER
from loom.api.correlation import correlation_id
from loom.audit.masking import is_secret_key
from loom.platform.http.allowlist import HostPolicy
from loom.platform.http.circuit import CircuitBreaker

#: Request extension naming extra headers to drop on a cross-origin redirect.
SENSITIVE_HEADERS_EXTENSION = "loom.sensitive_headers"
_ORIGIN_EXTENSION = "loom.origin"
_CREDENTIAL_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie"})


def is_credential_header(name: str) -> bool:
    """Authorization, Cookie, and any header named like a secret (X-Api-Key, X-Auth-Token,
    X-Webhook-Secret...)."""
    return name.lower() in _CREDENTIAL_HEADERS or is_secret_key(name)


class GuardedTransport(httpx.AsyncBaseTransport):
    """Wraps the real transport: allow-list, breaker, timeouts and headers on every hop."""

    def __init__(
        self,
        inner: httpx.AsyncBaseTransport,
        policy: HostPolicy,
        breaker_for: Callable[[httpx.URL], CircuitBreaker],
        timeout: httpx.Timeout,
        *,
        owns_inner: bool = True,
    ) -> None:
        self._inner = inner
        self._owns_inner = owns_inner
        self._policy = policy
        self._breaker_for = breaker_for
        self._timeout = timeout.as_dict()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self._policy.check(request.url)
        _drop_credentials_off_origin(request)
        cid = correlation_id()
        if cid and CORRELATION_HEADER not in request.headers:
            request.headers[CORRELATION_HEADER] = cid
        given = request.extensions.get("timeout") or {}
        request.extensions["timeout"] = {
            key: default if given.get(key) is None else given[key]
            for key, default in self._timeout.items()
        }
        breaker = self._breaker_for(request.url)
        breaker.before_call()
        try:
            response = await self._inner.handle_async_request(request)
        except httpx.TransportError:
            breaker.record_failure()
            raise
        except BaseException:
            breaker.release()
            raise
        if response.status_code >= 500:
            breaker.record_failure()
        else:
            breaker.record_success()
        response.stream = _WatchedStream(response.stream, breaker)
        return response

    async def aclose(self) -> None:
        if self._owns_inner:
            await self._inner.aclose()


class _WatchedStream(httpx.AsyncByteStream):
    """A response body whose read failures (a server stalling mid-body) count too."""

    def __init__(self, inner: Any, breaker: CircuitBreaker) -> None:
        self._inner = inner
        self._breaker = breaker

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._inner:
                yield chunk
        except httpx.TransportError:
            self._breaker.record_failure()
            raise

    async def aclose(self) -> None:
        await self._inner.aclose()


def _drop_credentials_off_origin(request: httpx.Request) -> None:
    """httpx passes one extensions dict along a redirect chain: the first hop records its
    origin there, and later hops to another origin lose their credential headers."""
    origin = (request.url.scheme, request.url.host, request.url.port)
    first = request.extensions.setdefault(_ORIGIN_EXTENSION, origin)
    if first == origin:
        return
    extra = {name.lower() for name in request.extensions.get(SENSITIVE_HEADERS_EXTENSION, ())}
    for name in list(request.headers):
        if is_credential_header(name) or name.lower() in extra:
            del request.headers[name]
