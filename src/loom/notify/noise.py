"""Noise control of the dispatcher: an incident's *pattern* (what makes two incidents
"the same recurring problem"), each rule's hourly limit per pattern, and the log rows of
what was muted (over a limit, or in a maintenance window), with the reason.

A pattern is a hash of the organisation, the environment, the probable root cause (else
the services with alerts) and the dominant alert name: PostgresDown on orders-db in
prod, every night, is one pattern; the same alert on another service, or another alert
on the same service, is another. The incident's number, its changing title ("— 5 more
services affected") and its counts are left out on purpose.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from loom.incidents.models import Incident, IncidentEvent
from loom.incidents.tally import Tally
from loom.notify.kinds import AttemptStatus
from loom.notify.message import Message
from loom.notify.models import Channel, Notification, Rule, RuleHit

HOUR = timedelta(hours=1)
#: Hit and muted-row ids derive from the event (and the rule or channel): an event read
#: twice counts once and is logged once. The dispatcher's namespace, as before.
_IDS = uuid.UUID("6c0c8a52-5d3e-4c61-9d0f-2f7f0b1f5a10")
_NUMBERS = re.compile(r"\d+")


def pattern(incident: Incident, slugs: Sequence[str]) -> str:
    """The incident's pattern key (64 hex characters); `slugs`: its services' slugs."""
    root = incident.root_cause[0].get("service") if incident.root_cause else None
    where = str(root) if root else ",".join(sorted(slugs))
    parts = [str(incident.org_id), incident.environment or "", where, _alert_name(incident)]
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


def _alert_name(incident: Incident) -> str:
    """The alert name the incident is mostly about: the root cause's, else all of its
    alerts', else its title with numbers blurred ("disk 91% full" ~ "disk 95% full")."""
    stats = Tally.from_json(incident.stats)
    root_id = incident.root_cause_service_id
    root = stats.services.get(root_id) if root_id is not None else None
    names = root.names if root is not None else stats.names
    if names:
        return str(names.most_common(1)[0][0])
    return _NUMBERS.sub("#", incident.title.lower())


@dataclass
class HourlyLimits:
    """The hits of a pass's rules and patterns in the hour before its events, read in
    one query; `admit` counts from them and notes the new hits (so two events of one
    pass count each other)."""

    #: (rule id, pattern) -> hit times.
    hits: dict[tuple[uuid.UUID, str], list[datetime]] = field(default_factory=dict)
    ids: set[uuid.UUID] = field(default_factory=set)

    @classmethod
    async def load(
        cls,
        session: AsyncSession,
        pending: Iterable[tuple[IncidentEvent, list[Rule], str]],
    ) -> HourlyLimits:
        """For `pending` (event, the rules it fires, its incident's pattern), in order."""
        todo = list(pending)
        rules = {r.id for _, rs, _ in todo for r in rs}
        found = cls()
        if not rules:
            return found
        keys = {key for _, _, key in todo}
        # An event read again counts once, even if its incident's pattern moved since.
        again = [_hit_id(r, e) for e, rs, _ in todo for r in rs]
        # Only hits under the limit are written, so this reads at most max_per_hour rows
        # per (rule, pattern) and hour the pass spans.
        rows = await session.execute(
            select(RuleHit.id, RuleHit.rule_id, RuleHit.pattern, RuleHit.at).where(
                RuleHit.rule_id.in_(rules),
                or_(RuleHit.pattern.in_(keys), RuleHit.id.in_(again)),
                RuleHit.at > min(e.created_at for e, _, _ in todo) - HOUR,
            )
        )
        for hit_id, rule_id, key, at in rows:
            found.ids.add(hit_id)
            found.hits.setdefault((rule_id, key), []).append(at)
        return found

    def admit(
        self, session: AsyncSession, rules: list[Rule], event: IncidentEvent, key: str
    ) -> tuple[list[Rule], list[Rule]]:
        """The rules that may fire for `event` (each hit noted), and those that fired
        `max_per_hour` times in the hour before it for incidents of pattern `key`."""
        fired, limited = [], []
        for rule in rules:
            hit_id = _hit_id(rule, event)
            if hit_id in self.ids:
                fired.append(rule)  # counted already (read twice)
                continue
            times = self.hits.setdefault((rule.id, key), [])
            if sum(at > event.created_at - HOUR for at in times) >= rule.max_per_hour:
                limited.append(rule)
                continue
            session.add(RuleHit(id=hit_id, rule_id=rule.id, incident_id=event.incident_id,
                                pattern=key, at=event.created_at))  # fmt: skip
            self.ids.add(hit_id)
            times.append(event.created_at)
            fired.append(rule)
        return fired, limited


def _hit_id(rule: Rule, event: IncidentEvent) -> uuid.UUID:
    return uuid.uuid5(_IDS, f"{rule.id}:{event.id}:hit")


def limited_because(rule: Rule) -> str:
    """Why a rule over its limit sent nothing, for the notification log."""
    return (
        f"rule '{rule.name}' fired {rule.max_per_hour} times in the last hour "
        "for incidents like this one"
    )


async def muted(
    session: AsyncSession,
    event_id: uuid.UUID,
    incident_id: uuid.UUID | None,
    message: Message,
    channels: Sequence[Channel],
    why: str,
) -> None:
    """Log what was kept from being sent for the event `event_id` (of an incident's
    timeline, or a request's), and why (once, however often read)."""
    for channel in channels:
        row_id = uuid.uuid5(_IDS, f"{event_id}:{channel.id}:muted")
        if await session.get(Notification, row_id) is not None:
            continue
        session.add(Notification(
            id=row_id, org_id=channel.org_id, delivery_id=row_id, channel_id=channel.id,
            channel_name=channel.name, channel_kind=channel.kind,
            incident_id=incident_id, event=message.event.value, event_at=message.at,
            status=AttemptStatus.MUTED.value, error=why,
        ))  # fmt: skip
