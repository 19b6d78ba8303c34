"""Which registry service an alert is about, from its labels.

The candidates of an alert are, in order: the service its payload names outright, then
the values of `settings.incidents.service_labels` in that order. A value is looked up as
a slug after `service_aliases` (value -> slug) is applied; the first candidate that is a
service of the organisation wins. A whole batch costs one query.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from loom.incidents.normalize import AlertIn
from loom.services.models import Service
from loom.settings import IncidentSettings


def candidates(item: AlertIn, settings: IncidentSettings) -> list[str]:
    """The slugs to try for `item`, best first."""
    values = [item.service] if item.service else []
    values += [item.labels[name] for name in settings.service_labels if item.labels.get(name)]
    out: list[str] = []
    for value in values:
        slug = settings.service_aliases.get(value, value)
        if slug not in out:
            out.append(slug)
    return out


async def resolve(
    session: AsyncSession,
    org_id: uuid.UUID,
    items: Sequence[AlertIn],
    settings: IncidentSettings,
) -> list[uuid.UUID | None]:
    """The service id of each item (None when no candidate is a service), in order."""
    wanted = [candidates(item, settings) for item in items]
    every = {slug for slugs in wanted for slug in slugs}
    if not every:
        return [None] * len(items)
    rows = await session.execute(
        select(Service.slug, Service.id).where(Service.org_id == org_id, Service.slug.in_(every))
    )
    ids = {slug: sid for slug, sid in rows}
    return [next((ids[s] for s in slugs if s in ids), None) for slugs in wanted]
