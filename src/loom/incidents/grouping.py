"""Which incident a new alert joins (pure: the pipeline brings the open incidents, the
graph and the alerts, and writes the outcome).

An alert joins an incident only within the time window of the incident's alerts *and*
for a reason: the same service, a service within N hops up or down the dependency graph
(`topology`), or a shared grouping label (host, pod, cluster...). Time alone never
merges unrelated services. With several candidates it joins the closest reason (same
service, then fewer hops, then label), the most recent on a tie; an alert that links
two incidents nobody is working on yet (both triggered, unassigned) by service or graph
merges them: one failure shows as one incident.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from loom.incidents.kinds import GroupingStrategy, IncidentStatus
from loom.incidents.models import LABEL_KEY_MAX, Alert, Incident
from loom.incidents.topology import Topology


@dataclass
class Group:
    """An open incident, or one this batch is about to open (`incident` None)."""

    first_alert_at: datetime
    last_alert_at: datetime
    service_ids: set[uuid.UUID]
    label_keys: set[str]
    incident: Incident | None = None
    #: An incident that was open before this batch (not one the batch opens).
    existed: bool = False
    #: New alerts and why each joined.
    joined: list[tuple[Alert, Match]] = field(default_factory=list)
    merged_into: Group | None = None
    #: Groups merged into this one, with the alert and reason that linked them.
    absorbed: list[tuple[Group, Match]] = field(default_factory=list)

    @classmethod
    def of(cls, incident: Incident, label_keys: set[str]) -> Group:
        """An open incident's group; `label_keys`: those of its grouping keys that the
        alerts being placed may match."""
        return cls(
            first_alert_at=incident.opened_at,
            last_alert_at=incident.last_alert_at,
            service_ids={uuid.UUID(s) for s in incident.service_ids},
            label_keys=set(label_keys),
            incident=incident,
            existed=True,
        )

    @property
    def mergeable(self) -> bool:
        """Nobody works on it yet: a new group, or a triggered incident without assignee."""
        if self.incident is None:
            return True
        return (
            self.incident.status == IncidentStatus.TRIGGERED and self.incident.assignee_id is None
        )

    def live(self) -> Group:
        group = self
        while group.merged_into is not None:
            group = group.merged_into
        return group


@dataclass(frozen=True)
class Match:
    strategy: GroupingStrategy
    #: Lower is a closer reason: 0 same service, 1..N hops, N+1 label.
    rank: int
    #: The reason in words, without the incident ("`api` depends on `db` (1 hop)").
    detail: str


@dataclass(frozen=True)
class Rules:
    window: timedelta
    strategies: frozenset[str]
    hops: int
    labels: tuple[str, ...]


def label_keys(labels: dict[str, str], names: tuple[str, ...]) -> set[str]:
    """The "name=value" grouping keys of an alert's `labels` (the `names` it has; none
    longer than `LABEL_KEY_MAX`)."""
    keys = (f"{name}={labels[name]}" for name in names if labels.get(name))
    return {key for key in keys if len(key) <= LABEL_KEY_MAX}


def event_time(alert: Alert, now: datetime) -> datetime:
    """When the alert started, as far as grouping goes (never in the future)."""
    return min(alert.starts_at, now)


class Grouper:
    def __init__(
        self,
        groups: list[Group],
        topology: Topology,
        slugs: dict[uuid.UUID, str],
        rules: Rules,
    ) -> None:
        self.groups = groups
        self.topology = topology
        self.slugs = slugs
        self.rules = rules
        self._reach: dict[uuid.UUID, dict[str, dict[uuid.UUID, int]]] = {}

    def _near(self, service: uuid.UUID) -> dict[str, dict[uuid.UUID, int]]:
        if service not in self._reach:
            self._reach[service] = {
                way: self.topology.reach(service, way, self.rules.hops) for way in ("down", "up")
            }
        return self._reach[service]

    def _slug(self, service: uuid.UUID) -> str:
        return self.slugs.get(service, "unknown")

    def match(self, alert: Alert, keys: set[str], at: datetime, group: Group) -> Match | None:
        window = self.rules.window
        if not group.first_alert_at - window <= at <= group.last_alert_at + window:
            return None
        on = self.rules.strategies
        service = alert.service_id
        if service is not None and "same_service" in on and service in group.service_ids:
            return Match(GroupingStrategy.SAME_SERVICE, 0, f"same service `{self._slug(service)}`")
        if service is not None and "topology" in on and group.service_ids:
            best: tuple[int, str, uuid.UUID] | None = None
            for way, found in self._near(service).items():
                for other, hops in found.items():
                    if other in group.service_ids and (best is None or hops < best[0]):
                        best = (hops, way, other)
            if best is not None:
                hops, way, other = best
                a, b = (service, other) if way == "down" else (other, service)
                plural = "s" if hops > 1 else ""
                text = f"`{self._slug(a)}` depends on `{self._slug(b)}` ({hops} hop{plural})"
                return Match(GroupingStrategy.TOPOLOGY, hops, text)
        if "label" in on:
            shared = sorted(keys & group.label_keys)
            if shared:
                name, _, value = shared[0].partition("=")
                return Match(GroupingStrategy.LABEL, self.rules.hops + 1, f"same {name} `{value}`")
        return None

    def place(self, alert: Alert, now: datetime) -> Group:
        """Put `alert` in the group it belongs to (a new one if none), merging the
        groups it links when nobody works on them yet."""
        at = event_time(alert, now)
        keys = label_keys(alert.labels, self.rules.labels)
        found: list[tuple[Match, Group]] = []
        for group in self.groups:
            if group.merged_into is None:
                m = self.match(alert, keys, at, group)
                if m is not None:
                    found.append((m, group))
        if not found:
            group = Group(at, at, set(), set())
            self.groups.append(group)
            match = Match(GroupingStrategy.NEW, 0, "")
        else:
            match, group = self._choose(found)
            for other_match, other in found:
                if other is not group and self._links(other_match, other):
                    self._merge(other, group, other_match)
        group.joined.append((alert, match))
        if alert.service_id is not None:
            group.service_ids.add(alert.service_id)
        group.label_keys |= keys
        group.first_alert_at = min(group.first_alert_at, at)
        group.last_alert_at = max(group.last_alert_at, at)
        return group

    @staticmethod
    def _links(match: Match, group: Group) -> bool:
        """Whether an alert matching `group` this way merges it with the group it joins:
        by service or graph (a shared label is too weak), if nobody works on it yet."""
        return match.strategy != GroupingStrategy.LABEL and group.mergeable

    def _choose(self, found: list[tuple[Match, Group]]) -> tuple[Match, Group]:
        """The group the alert joins: the closest reason (same service, fewer hops,
        label), the latest on a tie. When it links groups that will merge, they merge
        into the oldest incident among them, so the first one paged stays."""
        found.sort(key=lambda f: (f[0].rank, -f[1].last_alert_at.timestamp()))
        best = found[0]
        if not self._links(*best):
            return best
        merging = [best] + [f for f in found[1:] if self._links(*f)]
        existing = [f for f in merging if f[1].incident is not None]
        if existing:
            return min(existing, key=lambda f: (f[1].incident.number, f[0].rank))  # type: ignore[union-attr]
        return best

    @staticmethod
    def _merge(source: Group, target: Group, why: Match) -> None:
        source.merged_into = target
        target.absorbed.append((source, why))
        target.service_ids |= source.service_ids
        target.label_keys |= source.label_keys
        target.first_alert_at = min(target.first_alert_at, source.first_alert_at)
        target.last_alert_at = max(target.last_alert_at, source.last_alert_at)
