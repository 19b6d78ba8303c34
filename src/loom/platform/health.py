"""Health checks: liveness (the process answers) and readiness (it can do its work)."""

from __future__ import annotations

import time
from dataclasses import dataclass

from sqlalchemy import text

from loom.db.migrate import current_revision, head_revision
from loom.platform.runtime import Runtime


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


async def check_database(runtime: Runtime) -> Check:
    try:
        async with runtime.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
    except Exception as exc:  # any driver error means "not ready"
        return Check("database", False, f"unreachable: {type(exc).__name__}")
    return Check("database", True, runtime.engine.dialect.name)


async def check_migrations(runtime: Runtime) -> Check:
    try:
        current = await current_revision(runtime.engine)
    except Exception as exc:
        return Check("migrations", False, f"cannot read revision: {type(exc).__name__}")
    head = head_revision()
    if current != head:
        return Check(
            "migrations",
            False,
            f"database at {current}, code expects {head}: run `loom db upgrade`",
        )
    return Check("migrations", True, f"at head {head}")


def check_components(runtime: Runtime) -> list[Check]:
    """Every background component that registered must have beaten recently."""
    stale_after = max(3 * runtime.settings.workers.heartbeat_seconds, 30)
    now = time.monotonic()
    return [
        Check(name, now - last < stale_after, f"last heartbeat {now - last:.0f}s ago")
        for name, last in sorted(runtime.heartbeats.items())
    ]


async def readiness(runtime: Runtime) -> list[Check]:
    database = await check_database(runtime)
    checks = [database]
    if database.ok:
        checks.append(await check_migrations(runtime))
    checks.extend(check_components(runtime))
    return checks
