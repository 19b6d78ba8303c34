"""Health probes and version: the unauthenticated endpoints."""

from __future__ import annotations

from loom.client.base import HttpCore
from loom.client.models import ApiModel


class Health(ApiModel):
    status: str


class CheckResult(ApiModel):
    ok: bool
    detail: str = ""


class Readiness(ApiModel):
    """`/health/ready`: 200 when every check passes, 503 (same body) when one fails."""

    status: str
    checks: dict[str, CheckResult]

    @property
    def ready(self) -> bool:
        return self.status == "ok" and all(c.ok for c in self.checks.values())


class Version(ApiModel):
    version: str
    python: str = ""
    database: str = ""


class PlatformApi:
    def __init__(self, core: HttpCore) -> None:
        self._core = core

    def health(self) -> Health:
        return self._core.get("/health", Health)

    def ready(self) -> Readiness:
        """Readiness; a 503 is an answer here (not ready), not an error."""
        return self._core.get("/health/ready", Readiness, ok=(200, 503))

    def version(self) -> Version:
        return self._core.get("/version", Version)
