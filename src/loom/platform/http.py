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
"""

from __future__ import annotations

import ipaddress
import re
import time
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field
from http.cookiejar import CookieJar, DefaultCookiePolicy
from typing import TYPE_CHECKING, Any, Literal

import httpx

from loom.api.correlation import HEADER as CORRELATION_HEADER
from loom.api.correlation import correlation_id
from loom.audit.masking import is_secret_key
from loom.settings import HttpSettings, Settings

if TYPE_CHECKING:
    from loom.platform.runtime import Runtime

#: Request extension naming extra headers to drop on a cross-origin redirect.
SENSITIVE_HEADERS_EXTENSION = "loom.sensitive_headers"
_ORIGIN_EXTENSION = "loom.origin"
_CREDENTIAL_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie"})
_NUMERIC_LABEL = re.compile(r"^(0x[0-9a-f]*|[0-9]+)$")
_HOST_LABEL = re.compile(r"^(?!-)[a-z0-9_-]{1,63}(?<!-)$")

BreakerState = Literal["closed", "open", "half-open"]


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


def is_credential_header(name: str) -> bool:
    """Authorization, Cookie, and any header named like a secret (X-Api-Key, X-Auth-Token,
    X-Webhook-Secret...)."""
    return name.lower() in _CREDENTIAL_HEADERS or is_secret_key(name)


# --- host allow-list ---------------------------------------------------------------


@dataclass(frozen=True)
class HostPolicy:
    """Which hosts outgoing calls may reach. Entries are host names (`api.example.com`),
    wildcards (`*.example.com`: any name under it, not the name itself) or IP literals
    (`127.0.0.1`, `::1`: that address only). An empty list refuses every host."""

    entries: tuple[str, ...] = ()
    _names: frozenset[str] = field(init=False, repr=False)
    _suffixes: tuple[str, ...] = field(init=False, repr=False)
    _addresses: frozenset[ipaddress.IPv4Address | ipaddress.IPv6Address] = field(
        init=False, repr=False
    )

    def __post_init__(self) -> None:
        names, suffixes, addresses = set(), [], set()
        for raw in self.entries:
            entry = raw.strip().lower().rstrip(".")
            address = _ip_literal(entry)
            if address is not None:
                addresses.add(address)
            elif entry.startswith("*.") and _is_host_name(entry[2:]):
                suffixes.append(entry[1:])
            elif _is_host_name(entry) and not _is_numeric_host(entry):
                names.add(entry)
            else:
                raise ValueError(
                    f"allowed_hosts: {raw!r} is not a host name, *.suffix wildcard or IP address"
                )
        object.__setattr__(self, "_names", frozenset(names))
        object.__setattr__(self, "_suffixes", tuple(suffixes))
        object.__setattr__(self, "_addresses", frozenset(addresses))

    def check(self, url: httpx.URL) -> None:
        """Raise HostNotAllowed unless `url` may be called."""
        if url.scheme not in ("http", "https"):
            raise HostNotAllowed(f"refused {url.scheme}:// URL: only http and https are allowed")
        host = url.raw_host.decode("ascii").lower().rstrip(".")
        address = _ip_literal(host)
        if address is not None:
            if address in self._addresses:
                return
            kind = "a public" if address.is_global else "a private/loopback/link-local"
            raise HostNotAllowed(f"refused {host}: {kind} IP address not listed in allowed_hosts")
        if _is_numeric_host(host):
            raise HostNotAllowed(f"refused {host}: a numeric host that is not a plain IP address")
        if host in self._names or any(host.endswith(suffix) for suffix in self._suffixes):
            return
        raise HostNotAllowed(f"refused {host}: not in allowed_hosts (LOOM_ALLOWED_HOSTS)")


def _ip_literal(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def _is_numeric_host(host: str) -> bool:
    """`2130706433`, `127.1`, `0x7f.1`: resolvers read these as addresses; refuse them."""
    return bool(_NUMERIC_LABEL.match(host.rsplit(".", 1)[-1]))


def _is_host_name(name: str) -> bool:
    return bool(name) and all(_HOST_LABEL.match(label) for label in name.split("."))


# --- circuit breaker ---------------------------------------------------------------


class CircuitBreaker:
    """closed → open after `threshold` consecutive failures → half-open once `cooldown`
    seconds have passed, letting one trial call through: its success closes the circuit,
    its failure opens it again for another cool-down. Single event loop; not thread-safe."""

    def __init__(
        self, key: str, threshold: int, cooldown: float, clock: Callable[[], float]
    ) -> None:
        self.key = key
        self._threshold = threshold
        self._cooldown = cooldown
        self._clock = clock
        self._failures = 0
        self._opened_at: float | None = None
        self._trial_running = False

    @property
    def state(self) -> BreakerState:
        if self._opened_at is None:
            return "closed"
        if self._trial_running or self._clock() - self._opened_at >= self._cooldown:
            return "half-open"
        return "open"

    @property
    def failures(self) -> int:
        return self._failures

    def before_call(self) -> None:
        """Raise CircuitOpen, or let the call through (as the trial when half-open)."""
        if self._opened_at is None:
            return
        waited = self._clock() - self._opened_at
        if self._trial_running or waited < self._cooldown:
            raise CircuitOpen(self.key, max(self._cooldown - waited, 0.0))
        self._trial_running = True

    def record_success(self) -> None:
        self._failures = 0
        self._opened_at = None
        self._trial_running = False

    def record_failure(self) -> None:
        self._failures += 1
        if self._trial_running or self._failures >= self._threshold:
            self._opened_at = self._clock()
        self._trial_running = False

    def release(self) -> None:
        """The call ended without a verdict (cancelled): free the trial slot."""
        self._trial_running = False


# --- transport and factory ---------------------------------------------------------


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


class HttpClients:
    """One per process (see `http_clients(runtime)`): a cached `httpx.AsyncClient` per
    integration, and a circuit breaker per (integration, host).

    `transport` is the seam for tests (an `httpx.MockTransport`); the guard wraps it too.
    `clock` drives the breakers' cool-downs.
    """

    def __init__(
        self,
        settings: HttpSettings,
        allowed_hosts: Iterable[str] = (),
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.allowed_hosts = tuple(allowed_hosts)
        self._transport = transport
        self._clock = clock
        self._clients: dict[str, tuple[httpx.AsyncClient, tuple[str, ...]]] = {}
        self._breakers: dict[str, CircuitBreaker] = {}
        HostPolicy(self.allowed_hosts)  # a bad entry fails here, at start-up

    @classmethod
    def from_settings(cls, settings: Settings, **kwargs: Any) -> HttpClients:
        return cls(settings.http, settings.allowed_hosts, **kwargs)

    @property
    def timeout(self) -> httpx.Timeout:
        s = self.settings
        return httpx.Timeout(s.timeout_seconds, connect=s.connect_timeout_seconds)

    def client(self, integration: str, *, extra_hosts: Iterable[str] = ()) -> httpx.AsyncClient:
        """The shared client of `integration` (`"rest-api"`, `"jira:main"`...). It sends no
        cookies between calls, follows redirects (each hop checked) and has no base URL:
        callers pass full URLs and their own auth headers per request.

        `extra_hosts` adds hosts this integration may call besides `allowed_hosts` (the
        base URL of a configured JIRA instance, say); it is fixed by the first call.
        """
        extra = tuple(extra_hosts)
        if integration in self._clients:
            client, first_extra = self._clients[integration]
            if set(extra) - set(first_extra):
                raise ValueError(f"client {integration!r} exists with other extra hosts")
            return client
        policy = HostPolicy((*self.allowed_hosts, *extra))
        guarded = GuardedTransport(
            self._transport or httpx.AsyncHTTPTransport(),
            policy,
            lambda url: self.breaker(integration, url.netloc.decode("ascii")),
            self.timeout,
            owns_inner=self._transport is None,
        )
        client = httpx.AsyncClient(
            transport=guarded,
            timeout=self.timeout,
            headers={"User-Agent": self.settings.user_agent},
            follow_redirects=True,
            max_redirects=self.settings.max_redirects,
            cookies=CookieJar(policy=DefaultCookiePolicy(allowed_domains=[])),
        )
        self._clients[integration] = (client, extra)
        return client

    def breaker(self, integration: str, host: str) -> CircuitBreaker:
        """The breaker of calls from `integration` to `host` (`name` or `name:port` as in
        the URL), created closed."""
        key = f"{integration} {host}"
        if key not in self._breakers:
            self._breakers[key] = CircuitBreaker(
                key,
                self.settings.breaker_failure_threshold,
                self.settings.breaker_cooldown_seconds,
                self._clock,
            )
        return self._breakers[key]

    def breaker_states(self) -> dict[str, BreakerState]:
        """`"integration host"` → state, for health details and metrics."""
        return {key: breaker.state for key, breaker in sorted(self._breakers.items())}

    async def aclose(self) -> None:
        for client, _extra in self._clients.values():
            await client.aclose()
        self._clients.clear()


def http_clients(runtime: Runtime) -> HttpClients:
    """The process's HttpClients, kept in `runtime.extras["http_clients"]` (created on
    first use from `runtime.settings`; a test may put its own there first)."""
    clients = runtime.extras.get("http_clients")
    if clients is None:
        clients = runtime.extras["http_clients"] = HttpClients.from_settings(runtime.settings)
    assert isinstance(clients, HttpClients)
    return clients
