"""Which rules an incident event matches: a rule names events and conditions (severity,
service, environment, team); rules are tried in `position` order, every matching one
fires, and a matching rule that says `stop` ends the search."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from loom.notify.message import NotifyEvent
from loom.notify.models import Rule


@dataclass(frozen=True)
class Facts:
    """What rules look at about one event."""

    event: NotifyEvent
    severity: str
    services: frozenset[str]
    environment: str | None
    #: The teams owning the incident's services.
    team_ids: frozenset[uuid.UUID]


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
    return not (wanted.get("environments") and facts.environment not in wanted["environments"])


def firing(rules: Sequence[Rule], facts: Facts) -> list[Rule]:
    """The rules that fire for `facts`, in order."""
    out: list[Rule] = []
    for rule in sorted(rules, key=lambda r: (r.position, r.name)):
        if matches(rule, facts):
            out.append(rule)
            if rule.stop:
                break
    return out
