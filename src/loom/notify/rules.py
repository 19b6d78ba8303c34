"""Which rules an incident event matches: a rule names events and conditions (severity,
service, environment, team, labels, time of day); rules are tried in `position` order,
every matching one fires, and a matching rule that says `stop` ends the search.

An incident's labels, for rules, are those of its first alert (the one that opened it,
or the earliest of those it holds now): they say where it started, cost one small query
per dispatcher batch, and do not drift as a storm gathers alerts from elsewhere."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from loom.incidents.models import Alert
from loom.notify.message import NotifyEvent
from loom.notify.models import Channel, Rule

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True)
class Facts:
    """What rules look at about one event."""

    event: NotifyEvent
    severity: str
    services: frozenset[str]
    environment: str | None
    #: The teams owning the incident's services.
    team_ids: frozenset[uuid.UUID]
    #: The labels of the incident's first alert.
    labels: Mapping[str, str] = field(default_factory=dict)
    #: When the event happened (time-of-day conditions).
    at: datetime | None = None


def matches(rule: Rule, facts: Facts) -> bool:
    if not rule.enabled or facts.event.value not in rule.events:
        return False
    if rule.team_id is not None and rule.team_id not in facts.team_ids:
        return False
    wanted = rule.conditions
    if wanted.get("severities") and facts.severity not in wanted["severities"]:
        return False
    if wanted.get("services") and not facts.services & set(wanted["services"]):
        return False
    if wanted.get("environments") and facts.environment not in wanted["environments"]:
        return False
    if wanted.get("labels") and not labels_match(wanted["labels"], facts.labels):
        return False
    return not (wanted.get("time_of_day") and not in_hours(wanted["time_of_day"], facts.at))


def labels_match(wanted: Mapping[str, str | list[str]], labels: Mapping[str, str]) -> bool:
    """Every key wanted is there, with the value given (or one of the values listed)."""
    for key, value in wanted.items():
        allowed = [value] if isinstance(value, str) else value
        if labels.get(key) not in allowed:
            return False
    return True


def in_hours(spec: Mapping[str, Any], at: datetime | None) -> bool:
    """Whether `at` falls in the daily span `spec` ("from", "to", local to "time_zone").
    A span whose end is not after its start runs past midnight ("22:00" to "07:00"); one
    that ends when it starts lasts the whole day. "weekdays" name the days a span
    begins on: Friday's 22:00 to 07:00 covers Saturday 03:00, Thursday's does not."""
    if at is None:
        return False
    zone = ZoneInfo(spec.get("time_zone") or "UTC")
    begins, ends = time.fromisoformat(spec["from"]), time.fromisoformat(spec["to"])
    local = at.astimezone(zone)
    days = spec.get("weekdays") or WEEKDAYS
    # Wall-clock arithmetic, compared on wall-clock times: on a day clocks change, the
    # span still starts and ends at the local times it names.
    for back in (0, 1):
        day = local.date() - timedelta(days=back)
        if WEEKDAYS[day.weekday()] not in days:
            continue
        start = datetime.combine(day, begins)
        end = datetime.combine(day + timedelta(days=1 if ends <= begins else 0), ends)
        if start <= local.replace(tzinfo=None) < end:
            return True
    return False


def firing(rules: Sequence[Rule], facts: Facts) -> list[Rule]:
    """The rules that fire for `facts`, in order."""
    out: list[Rule] = []
    for rule in sorted(rules, key=lambda r: (r.position, r.name)):
        if matches(rule, facts):
            out.append(rule)
            if rule.stop:
                break
    return out


async def first_alert_labels(
    session: AsyncSession, incidents: Collection[uuid.UUID], rules: Collection[Rule]
) -> dict[uuid.UUID, dict[str, str]]:
    """The labels of each incident's first alert: one query, and none when no rule of
    `rules` looks at labels."""
    if not incidents or not any(r.conditions.get("labels") for r in rules):
        return {}
    earlier = aliased(Alert)
    first = (
        select(earlier.id)
        .where(earlier.incident_id == Alert.incident_id)
        .order_by(earlier.first_seen, earlier.id)
        .limit(1)
        .scalar_subquery()
    )
    rows = await session.execute(
        select(Alert.incident_id, Alert.labels).where(
            Alert.incident_id.in_(incidents), Alert.id == first
        )
    )
    return {incident_id: dict(labels or {}) for incident_id, labels in rows if incident_id}


@dataclass(frozen=True)
class RuleBook:
    """The rules of some organisations and the enabled channels they name, read once
    for a dispatcher pass (incident or request events alike)."""

    rules: Mapping[uuid.UUID, list[Rule]]
    #: Channel id (as rules name it) -> the channel, enabled ones only.
    channels: Mapping[str, Channel]

    @classmethod
    async def load(cls, session: AsyncSession, orgs: Collection[uuid.UUID]) -> RuleBook:
        rules: dict[uuid.UUID, list[Rule]] = {}
        for rule in await session.scalars(select(Rule).where(Rule.org_id.in_(orgs))):
            rules.setdefault(rule.org_id, []).append(rule)
        wanted = {c for rs in rules.values() for r in rs for c in r.channel_ids}
        channels: dict[str, Channel] = {}
        if wanted:
            found = await session.scalars(
                select(Channel).where(Channel.org_id.in_(orgs), Channel.enabled.is_(True))
            )
            channels = {str(c.id): c for c in found if str(c.id) in wanted}
        return cls(rules, channels)

    def of(self, org_id: uuid.UUID) -> list[Rule]:
        return self.rules.get(org_id, [])

    def every_rule(self) -> list[Rule]:
        return [r for rs in self.rules.values() for r in rs]

    def channels_of(self, rules: Sequence[Rule]) -> list[Channel]:
        """The enabled channels `rules` name, each once, in the rules' order."""
        out: dict[str, Channel] = {}
        for rule in rules:
            for channel_id in rule.channel_ids:
                if channel_id in self.channels:
                    out.setdefault(channel_id, self.channels[channel_id])
        return list(out.values())
