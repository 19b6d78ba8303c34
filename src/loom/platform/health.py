"""Health checks: liveness (the process answers) and readiness (it can do its work:
the database answers, its schema is at the code's migration head, and every background
component that registered a heartbeat has beaten recently)."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from functools import cache

from sqlalchemy import text

from loom.db.migrate import current_revision, head_revision
from loom.platform.runtime import Runtime

#: A probe must answer even when the database hangs: past this, the check fails.
DATABASE_TIMEOUT_SECONDS = 5.0


@dataclass(frozen=True)
class Check:
    """One readiness check: its name, whether it passed, and a line for a human."""

    name: str
    ok: bool
    detail: str


@cache
def _code_head() -> str | None:
    # Reading the migration scripts is slow and their head cannot change while we run.
    return head_revision()


async def check_database(runtime: Runtime) -> Check:
    try:
        async with asyncio.timeout(DATABASE_TIMEOUT_SECONDS):
            async with runtime.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
    except TimeoutError:
        return Check("database", False, f"no answer within {DATABASE_TIMEOUT_SECONDS:g}s")
    except Exception as exc:  # any driver error means "not ready"
        return Check("database", False, f"unreachable: {type(exc).__name__}")
    return Check("database", True, runtime.engine.dialect.name)


async def check_migrations(runtime: Runtime) -> Check:
    try:
        async with asyncio.timeout(DATABASE_TIMEOUT_SECONDS):
            current = await current_revision(runtime.engine)
    except Exception as exc:
        return Check("migrations", False, f"cannot read revision: {type(exc).__name__}")
    head = _code_head()
    if current != head:
        return Check(
            "migrations",
            False,
            f"database at {current or 'no revision'}, code expects {head}: run `loom db upgrade`",
        )
    return Check("migrations", True, f"at head {head}")


def stale_after_seconds(runtime: Runtime) -> float:
    """Silence longer than this (three missed beats, at least 30 s) means dead."""
    return max(3 * runtime.settings.workers.heartbeat_seconds, 30)


def check_components(runtime: Runtime) -> list[Check]:
    """Every background component that registered must have beaten recently."""
    stale_after = stale_after_seconds(runtime)
    now = time.monotonic()
    return [
        Check(name, now - last < stale_after, f"last heartbeat {now - last:.0f}s ago")
        for name, last in sorted(runtime.heartbeats.items())
    ]


async def readiness(runtime: Runtime) -> list[Check]:
    """All checks, database first (the migrations check is skipped when it is down)."""
    database = await check_database(runtime)
    checks = [database]
    if database.ok:
        checks.append(await check_migrations(runtime))
    checks.extend(check_components(runtime))
    return checks
