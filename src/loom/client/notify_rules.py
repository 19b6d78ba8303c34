"""`client.notify` for rules (which events notify which channels) and escalation
policies (levels of channels, one after the other until someone acknowledges).

Rules and policies are named by id or name. The create methods take the fields the API
documents as keywords; any other keyword is sent as is, so conditions or level targets
of a newer server need no new client."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from loom.client.base import parse
from loom.client.errors import ApiError
from loom.client.notify_base import NotifyBase, body
from loom.client.notify_models import Policy, Rule
from loom.client.pagination import Page

RULES = "/notify/rules"
POLICIES = "/notify/policies"


class RulesApi(NotifyBase):
    def rules(self, *, limit: int | None = None, cursor: str | None = None) -> Page[Rule]:
        """One page of the rules you see, in the order they are tried."""
        return self._core.get(RULES, Page[Rule], params={"limit": limit, "cursor": cursor})

    def rule(self, rule: str) -> Rule:
        return self._core.get(f"{RULES}/{self._rule_id(rule)}", Rule)

    def create_rule(
        self, name: str, events: Sequence[str], *, channels: Sequence[str] | None = None,
        policy: str | None = None, severities: Sequence[str] | None = None,
        services: Sequence[str] | None = None, environments: Sequence[str] | None = None,
        team: str | None = None, position: int | None = None, stop: bool | None = None,
        enabled: bool | None = None, max_per_hour: int | None = None, **fields: Any,
    ) -> Rule:  # fmt: skip
        """A rule: on `events` (e.g. `incident.opened`) matching its conditions, notify
        `channels` and/or start the escalation `policy`."""
        sent = body(
            name=name, events=list(events), channels=channels, policy=policy,
            severities=severities, services=services, environments=environments, team=team,
            position=position, stop=stop, enabled=enabled, max_per_hour=max_per_hour,
            **fields,
        )  # fmt: skip
        return self._core.post(RULES, Rule, json=sent, ok=(201,))

    def replace_rule(self, rule: str, fields: Mapping[str, Any]) -> Rule:
        """Store `fields` as the whole rule (what is left out takes its default)."""
        response = self._core.request("PUT", f"{RULES}/{self._rule_id(rule)}", json=body(**fields))
        return parse(response, Rule)

    def update_rule(self, rule: str, **changes: Any) -> Rule:
        """Change some fields of a rule (read, change, replace), e.g. `enabled=False`."""
        found = self.rule(rule)
        return self.replace_rule(str(found.id), {**found.body(), **changes})

    def delete_rule(self, rule: str) -> None:
        self._core.request("DELETE", f"{RULES}/{self._rule_id(rule)}", ok=(204,))

    def policies(self, *, limit: int | None = None, cursor: str | None = None) -> Page[Policy]:
        return self._core.get(POLICIES, Page[Policy], params={"limit": limit, "cursor": cursor})

    def policy(self, policy: str) -> Policy:
        """A policy by id or name."""
        # The API has no GET of one policy: find it in the list.
        for found in self._core.get_list(POLICIES, Policy):
            if policy in (found.name, str(found.id)):
                return found
        raise ApiError(404, "NOT_FOUND", f"no escalation policy '{policy}'")

    def create_policy(
        self, name: str, levels: Sequence[Mapping[str, Any]], *, repeat: int | None = None,
        team: str | None = None, **fields: Any,
    ) -> Policy:  # fmt: skip
        """A policy: `levels` like `{"delay_minutes": 15, "channels": ["pager"]}`, run
        in turn; `repeat` runs the sequence again that many times."""
        sent = body(name=name, levels=list(levels), repeat=repeat, team=team, **fields)
        return self._core.post(POLICIES, Policy, json=sent, ok=(201,))

    def replace_policy(self, policy: str, fields: Mapping[str, Any]) -> Policy:
        path = f"{POLICIES}/{self._ref(POLICIES, policy, 'escalation policy')}"
        return parse(self._core.request("PUT", path, json=body(**fields)), Policy)

    def delete_policy(self, policy: str) -> None:
        path = f"{POLICIES}/{self._ref(POLICIES, policy, 'escalation policy')}"
        self._core.request("DELETE", path, ok=(204,))

    def _rule_id(self, rule: str) -> str:
        return self._ref(RULES, rule, "rule")
