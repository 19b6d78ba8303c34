"""The channel kinds: for each, its sender, the model of its settings, which of them are
secret, the hosts it may call beyond `allowed_hosts`, whether it takes consolidated
updates, and how a channel is named in the notification log."""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any, cast
from urllib.parse import urlsplit

from pydantic import BaseModel

from loom.notify.channels.base import Sender
from loom.notify.kinds import ChannelKind

#: The well-known hosts of each kind's service, allowed for that kind only (a generic
#: webhook or an SMTP server must be in `allowed_hosts`).
_HOSTS: dict[ChannelKind, tuple[str, ...]] = {
    ChannelKind.SLACK: ("slack.com", "hooks.slack.com"),
    ChannelKind.PAGERDUTY: ("events.pagerduty.com", "events.eu.pagerduty.com"),
    ChannelKind.TEAMS: (
        "*.webhook.office.com",
        "*.logic.azure.com",
        "*.environment.api.powerplatform.com",
    ),
    ChannelKind.EMAIL: (),
    ChannelKind.WEBHOOK: (),
}

#: Kinds that get "incident.updated" (alerts kept joining an incident they were told
#: about). Slack bots edit their message in place; webhooks, Teams and e-mail get one
#: message per consolidation window. PagerDuty does not: it deduplicates on its own
#: dedup key, and another trigger would only add noise to the alert's log.
_UPDATES: dict[ChannelKind, bool] = {
    ChannelKind.SLACK: True,
    ChannelKind.PAGERDUTY: False,
    ChannelKind.TEAMS: True,
    ChannelKind.EMAIL: True,
    ChannelKind.WEBHOOK: True,
}


@dataclass(frozen=True)
class KindSpec:
    kind: ChannelKind
    sender: Sender
    config: type[BaseModel]
    secret_fields: tuple[str, ...]
    hosts: tuple[str, ...]
    #: Whether channels of this kind get consolidated updates ("incident.updated").
    updates: bool = True

    def describe(self, config: Mapping[str, Any]) -> str:
        """Where a channel of this kind sends, for people: never a secret."""
        if self.kind == ChannelKind.EMAIL:
            return ", ".join(config.get("recipients", []))[:500]
        if self.kind == ChannelKind.WEBHOOK:
            return urlsplit(str(config.get("url", ""))).netloc
        if self.kind == ChannelKind.SLACK and config.get("channel"):
            return str(config["channel"])
        return self.kind.value


@cache
def kind(name: str) -> KindSpec:
    """The spec of channel kind `name` (ValueError for an unknown kind)."""
    which = ChannelKind(name)
    module = importlib.import_module(f"loom.notify.channels.{which.value}")
    senders = [
        cls for _, cls in inspect.getmembers(module, inspect.isclass)
        if getattr(cls, "kind", None) == which.value and hasattr(cls, "send")
    ]  # fmt: skip
    if len(senders) != 1:
        raise LookupError(f"channel module {module.__name__} has no single sender")
    sender = cast(Sender, senders[0]())
    return KindSpec(
        kind=which, sender=sender, config=module.Config,
        secret_fields=tuple(module.SECRET_FIELDS), hosts=_HOSTS[which],
        updates=_UPDATES[which],
    )  # fmt: skip
