"""The grouping labels of incidents ("host=db-1", "pod=api-7c9f"...), kept as rows of
`IncidentLabel`: grouping reads only the keys the alerts of a batch carry, writes only
the keys new to an incident, and copies an incident's keys into the one it merges into.
Manual changes (merge, split, move) recompute them from the alerts."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field

from sqlalchemy import delete, insert, literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from loom.db.filters import one_of
from loom.incidents.grouping import label_keys
from loom.incidents.models import Alert, IncidentLabel


async def matching(
    session: AsyncSession, incidents: Collection[uuid.UUID], keys: Collection[str]
) -> dict[uuid.UUID, set[str]]:
    """Which of `keys` each of `incidents` has (one query)."""
    found: dict[uuid.UUID, set[str]] = {}
    if not incidents or not keys:
        return found
    rows = await session.execute(
        select(IncidentLabel.incident_id, IncidentLabel.key).where(
            one_of(session, IncidentLabel.incident_id, incidents),
            one_of(session, IncidentLabel.key, keys),
        )
    )
    for incident_id, key in rows:
        found.setdefault(incident_id, set()).add(key)
    return found


async def add(session: AsyncSession, new: Mapping[uuid.UUID, Iterable[str]]) -> None:
    """Add keys the incidents do not have yet (the caller knows they are new; the
    incidents are flushed)."""
    rows = [{"incident_id": i, "key": k} for i, keys in new.items() for k in sorted(keys)]
    if rows:
        await session.execute(insert(IncidentLabel), rows)


async def copy(session: AsyncSession, source: uuid.UUID, target: uuid.UUID) -> None:
    """Give `target` the keys of `source` it lacks (`source` merges into it)."""
    has = select(IncidentLabel.key).where(IncidentLabel.incident_id == target)
    missing = select(literal(target, IncidentLabel.incident_id.type), IncidentLabel.key).where(
        IncidentLabel.incident_id == source, IncidentLabel.key.not_in(has)
    )
    await session.execute(insert(IncidentLabel).from_select(["incident_id", "key"], missing))


async def recompute(
    session: AsyncSession, incidents: Collection[uuid.UUID], names: tuple[str, ...]
) -> None:
    """The keys of `incidents`, from their alerts as they are now (flushed)."""
    if not incidents:
        return
    keys: dict[uuid.UUID, set[str]] = {i: set() for i in incidents}
    found = await session.execute(
        select(Alert.incident_id, Alert.labels).where(Alert.incident_id.in_(incidents))
    )
    for incident_id, labels in found:
        if incident_id is not None:
            keys[incident_id] |= label_keys(labels, names)
    await session.execute(delete(IncidentLabel).where(IncidentLabel.incident_id.in_(incidents)))
    await add(session, keys)


async def of(session: AsyncSession, incident: uuid.UUID) -> list[str]:
    """Every key of `incident`, sorted."""
    stmt = select(IncidentLabel.key).where(IncidentLabel.incident_id == incident)
    return sorted(await session.scalars(stmt))


@dataclass
class Pending:
    """The keys of a batch's grouping: those of the open incidents that its alerts carry
    (read before grouping), and what grouping adds, written once at the end."""

    known: dict[uuid.UUID, set[str]] = field(default_factory=dict)
    #: Incident id -> keys it gains from its new alerts.
    fresh: dict[uuid.UUID, set[str]] = field(default_factory=dict)
    #: (merged incident, the one it merged into): every key of the first goes to the second.
    copies: list[tuple[uuid.UUID, uuid.UUID]] = field(default_factory=list)

    async def write(self, session: AsyncSession) -> None:
        """After everything else (the new incidents must exist first)."""
        if not self.fresh and not self.copies:
            return
        await session.flush()
        for source, target in self.copies:
            await copy(session, source, target)
        await add(session, self.fresh)
