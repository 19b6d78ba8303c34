"""What happens to alerts once stored: new ones join or open incidents, resolved ones
may quiet their incident, and every incident touched is refreshed (counts, severity,
root cause, affected services, related changes, title).

`process` runs in the ingesting transaction, after `lock_alerts`: one batch at a time
per organisation decides grouping, so two batches never open two incidents for one
failure, and the incident exists when the POST answers.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from loom.incidents.models import Alert
from loom.settings import IncidentSettings


@dataclass
class StoredBatch:
    """The outcome of storing one batch of alerts."""

    #: New episodes, firing and not silenced: to be grouped.
    opened: list[Alert] = field(default_factory=list)
    #: Firing episodes seen again (count and last_seen bumped).
    repeated: list[Alert] = field(default_factory=list)
    #: Episodes that the source says resolved in this batch.
    resolved: list[Alert] = field(default_factory=list)
    #: Stored silenced: kept, grouped into nothing.
    silenced: list[Alert] = field(default_factory=list)
    #: Resolved episodes firing again while their incident is open (also in `repeated`).
    refired: list[Alert] = field(default_factory=list)


async def lock_alerts(session: AsyncSession, org_id: uuid.UUID) -> None:
    """Serialise alert ingestion of one organisation until the transaction ends.
    PostgreSQL: a transaction-level advisory lock. SQLite: the transaction already holds
    the database's write lock (BEGIN IMMEDIATE)."""
    if session.get_bind().dialect.name == "postgresql":
        key = int.from_bytes(org_id.bytes[:8], "big", signed=True) ^ 0x414C52  # "ALR"
        await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})


async def process(
    session: AsyncSession,
    org_id: uuid.UUID,
    batch: StoredBatch,
    *,
    settings: IncidentSettings,
    now: datetime,
) -> None:
    """Group `batch.opened`, quiet incidents of `batch.resolved`, refresh what changed."""
    raise NotImplementedError  # written by the grouping work (session 6, in progress)
