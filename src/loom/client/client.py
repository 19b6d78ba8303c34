"""`LoomClient`: the typed client of Loom's public API, one attribute per area."""

from __future__ import annotations

from types import TracebackType

import httpx

from loom.client.alerts import AlertsApi, SilencesApi
from loom.client.audit import AuditApi
from loom.client.base import DEFAULT_TIMEOUT, HttpCore
from loom.client.catalog import CatalogApi
from loom.client.changes import ChangesApi
from loom.client.identity import IdentityApi
from loom.client.incidents import IncidentsApi
from loom.client.notify import NotifyApi
from loom.client.platform import PlatformApi
from loom.client.queue import QueueApi
from loom.client.requests import RequestsApi
from loom.client.services import ServicesApi


class LoomClient:
    """A synchronous client: `client.platform`, `client.identity`, `client.audit`,
    `client.catalog`, `client.requests`, `client.queue`, `client.services`,
    `client.incidents`, `client.changes`, `client.alerts`, `client.silences`,
    `client.notify`.

    >>> with LoomClient("http://127.0.0.1:8080", token) as loom:
    ...     loom.identity.me().email

    `transport` replaces the network (an `httpx.MockTransport`, or an app under test);
    `correlation_id` pins the X-Correlation-ID of every request (else one per request).
    """

    def __init__(
        self,
        base_url: str,
        token: str | None = None,
        *,
        transport: httpx.BaseTransport | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        correlation_id: str | None = None,
    ) -> None:
        self.core = HttpCore(
            base_url, token, transport=transport, timeout=timeout, correlation_id=correlation_id
        )
        self.platform = PlatformApi(self.core)
        self.identity = IdentityApi(self.core)
        self.audit = AuditApi(self.core)
        self.catalog = CatalogApi(self.core)
        self.requests = RequestsApi(self.core)
        self.queue = QueueApi(self.core)
        self.services = ServicesApi(self.core)
        self.incidents = IncidentsApi(self.core)
        self.changes = ChangesApi(self.core)
        self.notify = NotifyApi(self.core)
        self.alerts = AlertsApi(self.core)
        self.silences = SilencesApi(self.core)

    @property
    def base_url(self) -> str:
        return self.core.base_url

    @property
    def last_correlation_id(self) -> str | None:
        """The X-Correlation-ID sent with the latest request."""
        return self.core.last_correlation_id

    def close(self) -> None:
        self.core.close()

    def __enter__(self) -> LoomClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
