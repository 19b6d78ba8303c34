"""Escalation levels that page people: a schedule's on-call at the (test clock's) moment
the level fires, a team's on-call or members, each through their contact methods (a
Slack DM from the bot, a mail to one address), the account e-mail when they have none,
and a dead log row for whoever cannot be paged."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller
from fastapi import FastAPI

from loom.demo.fakes.slack import FakeSlack
from loom.notify.channels.base import PermanentFailure, Target
from loom.notify.channels.slack import SlackSender
from tests.conftest import Tenant
from tests.notify.conftest import Clock, Notifier
from tests.notify.test_email import Received, Recorder, free_port, incident
from tests.notify.test_escalation import open_incident, post, step

NOTIFY = "/api/v1/notify"
ANN, BOB = "viewer-a@loom.test", "operator-a@loom.test"
MEMBERS = {"U0ANN": ANN, "U0BOB": BOB}
RULE = {"name": "critical", "severities": ["critical"], "policy": "people",
        "events": ["incident.opened", "incident.acknowledged", "incident.resolved"]}  # fmt: skip


@pytest.fixture(autouse=True)
def clock_time(monkeypatch: pytest.MonkeyPatch, clock: Clock) -> None:
    """The consumers' "now" (when a level fires, who is on call) is the test's clock."""
    monkeypatch.setattr("loom.notify.consumer.utcnow", clock)


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack(users=dict(MEMBERS)) as server:
        yield server


@dataclass
class Mailbox:
    """A real SMTP server (aiosmtpd) on `port`, keeping what it receives."""

    port: int
    recorder: Recorder

    @property
    def received(self) -> list[Received]:
        return self.recorder.received


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    recorder = Recorder()
    controller = Controller(recorder, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield Mailbox(controller.port, recorder)
    controller.stop()


@pytest.fixture
async def carriers(
    client: httpx.AsyncClient, admin_headers: dict[str, str], slack: FakeSlack, mailbox: Mailbox
) -> None:
    """A Slack bot channel posting to #incidents, and an e-mail channel."""
    await post(client, NOTIFY + "/channels", {
        "name": "slack-bot", "kind": "slack", "secrets": {"bot_token": slack.token},
        "config": {"mode": "bot", "channel": "#incidents", "api_base": slack.api_base},
    }, admin_headers)  # fmt: skip
    await post(client, NOTIFY + "/channels", {
        "name": "mail", "kind": "email",
        "config": {"host": "127.0.0.1", "port": mailbox.port, "security": "none",
                   "sender": "loom@loom.test", "recipients": ["ops@loom.test"]},
    }, admin_headers)  # fmt: skip


async def contact(
    client: httpx.AsyncClient, headers: dict[str, str], kind: str, address: str, channel: str
) -> None:
    await post(client, NOTIFY + "/contact-methods",
               {"kind": kind, "address": address, "channel": channel}, headers)  # fmt: skip


async def policy(
    client: httpx.AsyncClient, admin_headers: dict[str, str], *levels: dict[str, Any]
) -> None:
    await post(client, NOTIFY + "/policies", {"name": "people", "levels": list(levels)},
               admin_headers)  # fmt: skip
    await post(client, NOTIFY + "/rules", RULE, admin_headers)


def dm_posts(slack: FakeSlack) -> list[str]:
    """The `channel` of every chat.postMessage naming a member (a DM)."""
    posts = [c.json()["channel"] for c in slack.calls if c.path == "/api/chat.postMessage"]
    return [p for p in posts if p.startswith("U")]


async def log(client: httpx.AsyncClient, headers: dict[str, str], **query: str) -> list[Any]:
    response = await client.get(NOTIFY + "/notifications", params=query, headers=headers)
    assert response.status_code == 200, response.text
    items: list[Any] = response.json()["items"]
    return items


async def test_a_schedule_level_pages_whoever_is_on_call_when_it_fires(
    app: FastAPI, client: httpx.AsyncClient, admin_headers: dict[str, str], tenant: Tenant,
    notifier: Notifier, slack: FakeSlack, mailbox: Mailbox, carriers: None,
) -> None:  # fmt: skip
    await contact(client, tenant.headers["viewer-a"], "slack", "U0ANN", "slack-bot")
    await contact(client, tenant.headers["viewer-a"], "email", "ann@home.test", "mail")
    await contact(client, tenant.headers["operator-a"], "slack", "U0BOB", "slack-bot")
    await post(client, NOTIFY + "/schedules", {
        "name": "db-oncall", "time_zone": "Europe/Paris",
        "layers": [{"rotation": "weekly", "start": "2026-01-05", "users": [ANN]}],
    }, admin_headers)  # fmt: skip
    # Bob covers from 10 minutes on: level 1 (now) finds Ann, level 2 (15 min) Bob.
    start = notifier.clock() + timedelta(minutes=10)
    await post(client, NOTIFY + "/schedules/db-oncall/overrides", {
        "user": BOB, "starts_at": start.isoformat(),
        "ends_at": (start + timedelta(hours=1)).isoformat(),
    }, admin_headers)  # fmt: skip
    await policy(client, admin_headers, {"delay_minutes": 0, "schedules": ["db-oncall"]},
                 {"delay_minutes": 15, "schedules": ["db-oncall"]})  # fmt: skip
    ref = await open_incident(client, admin_headers)
    await step(app, notifier)
    assert dm_posts(slack) == ["U0ANN"]
    (ann_dm,) = slack.messages(slack.dm_id("U0ANN") or "")
    assert ref in ann_dm.text
    (mail,) = mailbox.received
    assert mail.rcpt_tos == ["ann@home.test"]  # her address alone, not the channel's
    assert ref in str(mail.message["Subject"])
    assert slack.messages("#incidents") == []  # a page is not a post in the channel
    targets = {row["target"] for row in await log(client, admin_headers, status="sent")}
    assert targets == {f"{ANN} via slack DM U0ANN", f"{ANN} via email ann@home.test"}

    await step(app, notifier, 14)
    assert dm_posts(slack) == ["U0ANN"]
    await step(app, notifier, 1.5)
    assert dm_posts(slack) == ["U0ANN", "U0BOB"]
    (bob_dm,) = slack.messages(slack.dm_id("U0BOB") or "")
    assert ref in bob_dm.text
    assert len(mailbox.received) == 1  # Bob has no e-mail contact method
    await step(app, notifier, 60)
    assert len(dm_posts(slack)) == 2  # nothing sent twice


async def test_a_team_level_pages_its_on_call_else_every_member(
    app: FastAPI, client: httpx.AsyncClient, admin_headers: dict[str, str], tenant: Tenant,
    notifier: Notifier, slack: FakeSlack, mailbox: Mailbox, carriers: None,
) -> None:  # fmt: skip
    await contact(client, tenant.headers["viewer-a"], "slack", "U0ANN", "slack-bot")
    await contact(client, tenant.headers["operator-a"], "slack", "U0BOB", "slack-bot")
    await post(client, NOTIFY + "/schedules", {
        "name": "team-a-rota", "team": "team-a", "time_zone": "UTC",
        "layers": [{"rotation": "daily", "start": "2026-01-01", "users": [ANN]}],
    }, admin_headers)  # fmt: skip
    # Team A has a rota: only Ann. Team B has none: all three, who have no contact
    # method, by mail to their account address through the organisation's e-mail channel.
    await policy(client, admin_headers, {"delay_minutes": 0, "teams": ["team-a", "team-b"]})
    await open_incident(client, admin_headers)
    await step(app, notifier)
    assert dm_posts(slack) == ["U0ANN"]
    assert sorted(r for m in mailbox.received for r in m.rcpt_tos) == [
        "admin-b@loom.test", "operator-b@loom.test", "viewer-b@loom.test"
    ]  # fmt: skip
    rows = await log(client, admin_headers, status="sent")
    assert "viewer-b@loom.test via email viewer-b@loom.test" in {r["target"] for r in rows}


async def test_who_cannot_be_paged_is_a_dead_row_saying_why(
    app: FastAPI, client: httpx.AsyncClient, admin_headers: dict[str, str], tenant: Tenant,
    notifier: Notifier, slack: FakeSlack,
) -> None:  # fmt: skip
    await post(client, NOTIFY + "/schedules", {
        "name": "next-year", "time_zone": "UTC",
        "layers": [{"rotation": "daily", "start": "2099-01-01", "users": [ANN]}],
    }, admin_headers)  # fmt: skip
    # No e-mail channel at all: Bob, without a contact method, cannot be reached.
    await policy(client, admin_headers, {"users": [BOB], "schedules": ["next-year"]})
    await open_incident(client, admin_headers)
    await step(app, notifier)
    dead = {r["target"]: r["error"] for r in await log(client, admin_headers, status="dead")}
    assert dead == {
        BOB: f"{BOB} has no contact method, and the organisation no enabled e-mail channel",
        "schedule next-year": "nobody is on call",
    }
    await step(app, notifier, 30)
    assert len(await log(client, admin_headers, status="dead")) == 2


async def test_a_page_and_the_channels_shared_message_never_edit_each_other(
    app: FastAPI, client: httpx.AsyncClient, admin_headers: dict[str, str], tenant: Tenant,
    notifier: Notifier, slack: FakeSlack, carriers: None,
) -> None:  # fmt: skip
    await contact(client, tenant.headers["viewer-a"], "slack", "U0ANN", "slack-bot")
    await policy(client, admin_headers, {"delay_minutes": 0, "users": [ANN]},
                 {"delay_minutes": 5, "channels": ["slack-bot"], "users": [ANN]})  # fmt: skip
    await open_incident(client, admin_headers)
    await step(app, notifier)
    await step(app, notifier, 6)
    # The channel's first message is a new post in #incidents (not an edit of Ann's DM),
    # and Ann's second page is a second DM (an edit would not ring).
    (shared,) = slack.messages("#incidents")
    assert shared.edits == 0
    ann = slack.messages(slack.dm_id("U0ANN") or "")
    assert len(ann) == 2 and all(m.edits == 0 for m in ann)
    assert not [c for c in slack.calls if c.path == "/api/chat.update"]
    assert await log(client, admin_headers, status="dead") == []


async def test_a_person_is_never_paged_into_a_webhooks_shared_channel(slack: FakeSlack) -> None:
    target = Target(kind="slack", config={"mode": "webhook"},
                    secrets={"webhook_url": slack.webhook_url}, recipient="U0ANN")  # fmt: skip
    async with httpx.AsyncClient() as http:
        with pytest.raises(PermanentFailure, match="only a bot-token channel can DM"):
            await SlackSender().send(target, incident(), http=http)
    assert slack.calls == []
