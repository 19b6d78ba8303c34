"""Notifications: channels (create, list, change, delete, send a test message) and the
notification log (every delivery attempt); rules and policies (`notify_rules`),
schedules and maintenance windows (`notify_schedules`) and contact methods
(`notify_contacts`) complete `client.notify`."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from loom.client.base import parse
from loom.client.notify_contacts import ContactsApi
from loom.client.notify_models import (
    Channel,
    ContactMethod,
    Layer,
    Maintenance,
    Notification,
    OnCall,
    Override,
    Policy,
    PolicyLevel,
    Rule,
    Schedule,
    ScheduleInfo,
    Shift,
    TestQueued,
)
from loom.client.notify_rules import RulesApi
from loom.client.notify_schedules import SchedulesApi
from loom.client.pagination import Page, iterate

__all__ = [
    "Channel", "ContactMethod", "Layer", "Maintenance", "Notification", "NotifyApi", "OnCall",
    "Override", "Policy", "PolicyLevel", "Rule", "Schedule", "ScheduleInfo", "Shift", "TestQueued",
]  # fmt: skip

CHANNELS = "/notify/channels"


class NotifyApi(RulesApi, SchedulesApi, ContactsApi):
    """`client.notify`: channels and the log here; rules and policies, schedules and
    maintenance windows, contact methods from its bases."""

    def channels(self, *, limit: int | None = None, cursor: str | None = None) -> Page[Channel]:
        return self._core.get(CHANNELS, Page[Channel], params={"limit": limit, "cursor": cursor})

    def channel(self, channel: str) -> Channel:
        """A channel by id or name."""
        return self._core.get(f"{CHANNELS}/{self._id(channel)}", Channel)

    def create_channel(
        self, name: str, kind: str, *, config: dict[str, Any] | None = None,
        secrets: dict[str, str] | None = None, team: str | None = None, enabled: bool = True,
    ) -> Channel:  # fmt: skip
        body = {"name": name, "kind": kind, "config": config or {}, "secrets": secrets or {},
                "team": team, "enabled": enabled}  # fmt: skip
        return self._core.post(CHANNELS, Channel, json=body, ok=(201,))

    def update_channel(self, channel: str, **changes: Any) -> Channel:
        """Change `name`, `config`, `secrets` (those named) or `enabled`."""
        body = {k: v for k, v in changes.items() if v is not None}
        return parse(
            self._core.request("PATCH", f"{CHANNELS}/{self._id(channel)}", json=body), Channel
        )

    def delete_channel(self, channel: str) -> None:
        self._core.request("DELETE", f"{CHANNELS}/{self._id(channel)}", ok=(204,))

    def test(self, channel: str) -> TestQueued:
        """Queue a test message to the channel; its attempts show in `log`."""
        return self._core.post(f"{CHANNELS}/{self._id(channel)}/test", TestQueued, ok=(202,))

    def log(
        self, *, channel: str | None = None, delivery: str | None = None,
        status: str | None = None, limit: int | None = None, cursor: str | None = None,
    ) -> Page[Notification]:  # fmt: skip
        """One page of the notification log, newest first."""
        params = {"channel": self._id(channel) if channel else None, "delivery": delivery,
                  "status": status, "limit": limit, "cursor": cursor}  # fmt: skip
        return self._core.get("/notify/notifications", Page[Notification], params=params)

    def iter_log(self, *, page_size: int = 100, **filters: Any) -> Iterator[Notification]:
        return iterate(lambda cursor: self.log(limit=page_size, cursor=cursor, **filters))

    def _id(self, channel: str) -> str:
        """A channel's id, given its id or its name."""
        return self._ref(CHANNELS, channel, "channel")
