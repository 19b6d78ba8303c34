"""`HttpClients`, the process's factory of outgoing HTTP clients: one cached client
per integration, and one circuit breaker per (integration, host)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from http.cookiejar import CookieJar, DefaultCookiePolicy
from typing import TYPE_CHECKING, Any

import httpx

from loom.platform.http.allowlist import HostPolicy
from loom.platform.http.circuit import BreakerState, CircuitBreaker
from loom.platform.http.transport import GuardedTransport
from loom.settings import HttpSettings, Settings

if TYPE_CHECKING:
    from loom.platform.runtime import Runtime


#: The breaker of clients made with `breaker=False`: no threshold is ever reached.
_NEVER_OPEN = CircuitBreaker("unbroken", threshold=2**62, cooldown=0.0, clock=time.monotonic)


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

    def client(
        self, integration: str, *, extra_hosts: Iterable[str] = (), breaker: bool = True
    ) -> httpx.AsyncClient:
        """The shared client of `integration` (`"rest-api"`, `"jira:main"`...). It sends no
        cookies between calls, follows redirects (each hop checked) and has no base URL:
        callers pass full URLs and their own auth headers per request.

        `extra_hosts` adds hosts this integration may call besides `allowed_hosts` (the
        base URL of a configured JIRA instance, say); it is fixed by the first call.

        `breaker=False` is for probes (endpoint health checks): a failing answer is what
        they measure, and one failing endpoint must not get its host's other endpoints
        refused. The allow-list, timeouts and header rules still apply.
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
            (lambda url: self.breaker(integration, url.netloc.decode("ascii")))
            if breaker
            else (lambda _url: _NEVER_OPEN),
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
