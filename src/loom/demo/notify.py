"""Demo notifications: `make serve` pages somebody. A fake Slack and a fake PagerDuty
(loom.demo.fakes) run inside the process, and the demo organisation gets channels to
them, an on-call schedule, an escalation policy and a rule, so an incident shows where
its notifications went, and the fakes show what they received: open the fake Slack's
page (its URL is logged at start-up, and is the channel's `api_base` without `/api`).

The fakes listen on ephemeral ports, so at each start the demo channels (created by
"demo") are pointed at the fakes running now, and 127.0.0.1 is added to the hosts
notifications may reach, in this process only.

Demo only, not for production: the fakes keep what they receive in memory."""

from __future__ import annotations

import asyncio
import dataclasses
import html
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from loom.auth.models import User
from loom.auth.principal import Principal, load_principal
from loom.auth.roles import Role
from loom.db.types import utcnow
from loom.demo.fakes.pagerduty import FakePagerDuty
from loom.demo.fakes.server import RecordedCall, Reply
from loom.demo.fakes.slack import FakeSlack
from loom.notify import channels_service, policies_service, rules_service, schedules_service
from loom.notify import schemas as notify_schemas
from loom.notify.consumer import EXTRA_HOSTS_KEY
from loom.notify.message import NotifyEvent
from loom.notify.models import Channel
from loom.platform.runtime import Runtime
from loom.secrets.crypto import derive_key

log = structlog.get_logger("loom.demo")

EXTRAS_KEY = "demo_notify"
HOST = "127.0.0.1"
#: Who created the demo's notification settings (how they are found again).
CREATED_BY = "demo"
SLACK, PAGERDUTY = "demo-slack", "demo-pagerduty"
KEEP_CALLS = 200


@dataclass
class DemoNotify:
    slack: FakeSlack
    pagerduty: FakePagerDuty

    @classmethod
    def launch(cls) -> DemoNotify:
        slack = FakeSlack(token="xoxb-demo-" + uuid.uuid4().hex).start()
        try:
            pagerduty = FakePagerDuty(routing_key=uuid.uuid4().hex).__enter__()
        except BaseException:
            slack.stop()
            raise
        for server in (slack, pagerduty):
            server.max_calls = KEEP_CALLS
        slack.route("GET", "/", _slack_page(slack))
        return cls(slack, pagerduty)

    def close(self) -> None:
        self.slack.stop()
        self.pagerduty.stop()


async def start(runtime: Runtime) -> DemoNotify:
    """Start the fakes, point the demo channels at them (creating the demo's notification
    settings the first time), and let this process's notifications reach them."""
    demo = await asyncio.to_thread(DemoNotify.launch)
    runtime.extras[EXTRAS_KEY] = demo
    runtime.extras[EXTRA_HOSTS_KEY] = (HOST,)
    key = derive_key(runtime.settings.secret_key.get_secret_value())
    async with runtime.sessions() as session, session.begin():
        for admin in await _admins(session):
            await connect(session, key, admin, demo)
    log.info("demo notifications started (fakes, not for production)",
             slack=demo.slack.url, pagerduty=demo.pagerduty.url)  # fmt: skip
    return demo


async def stop(runtime: Runtime) -> None:
    demo = runtime.extras.pop(EXTRAS_KEY, None)
    runtime.extras.pop(EXTRA_HOSTS_KEY, None)
    if isinstance(demo, DemoNotify):
        await asyncio.to_thread(demo.close)


async def connect(session: AsyncSession, key: bytes, admin: Principal, demo: DemoNotify) -> None:
    """Point the organisation's demo channels at `demo`, or create the demo settings."""
    found = {
        c.name: c
        for c in await session.scalars(
            select(Channel).where(Channel.org_id == admin.org_id, Channel.created_by == CREATED_BY)
        )
    }
    slack_config = {"mode": "bot", "channel": "#incidents", "api_base": demo.slack.api_base}
    pd_config = {"events_url": demo.pagerduty.events_url}
    if found:
        for name, config, secrets in (
            (SLACK, slack_config, {"bot_token": demo.slack.token}),
            (PAGERDUTY, pd_config, {"routing_key": demo.pagerduty.routing_key}),
        ):
            if name in found:
                await channels_service.update_channel(
                    session, key, admin, found[name].id, config=config, secret_values=secrets
                )
        return
    await _create(session, key, admin, slack_config, pd_config, demo)


async def _create(
    session: AsyncSession,
    key: bytes,
    admin: Principal,
    slack_config: dict[str, str],
    pd_config: dict[str, str],
    demo: DemoNotify,
) -> None:
    # As "demo", not the admin: the audit says who made them, and the next start finds them.
    seeder = dataclasses.replace(admin, email=CREATED_BY, name="Loom demo", via="system")
    await channels_service.create_channel(
        session, key, seeder, name=SLACK, kind="slack", team=None, config=slack_config,
        secret_values={"bot_token": demo.slack.token},
    )  # fmt: skip
    await channels_service.create_channel(
        session, key, seeder, name=PAGERDUTY, kind="pagerduty", team=None, config=pd_config,
        secret_values={"routing_key": demo.pagerduty.routing_key},
    )  # fmt: skip
    start = (utcnow() - timedelta(days=utcnow().weekday())).date()
    await schedules_service.save_schedule(session, seeder, notify_schemas.ScheduleIn(
        name="primary", time_zone="Europe/Paris",
        layers=[notify_schemas.LayerIn(rotation="weekly", handoff="09:00", start=start,
                                       users=["alice@loom.local", "dan@loom.local"])],
    ))  # fmt: skip
    await policies_service.save_policy(session, seeder, notify_schemas.PolicyIn(
        name="page-then-broadcast",
        levels=[notify_schemas.PolicyLevel(delay_minutes=0, channels=[PAGERDUTY]),
                notify_schemas.PolicyLevel(delay_minutes=15, channels=[SLACK])],
    ))  # fmt: skip
    await rules_service.save_rule(session, seeder, notify_schemas.RuleIn(
        name="every-incident-to-slack", position=10, channels=[SLACK],
        events=[NotifyEvent.OPENED, NotifyEvent.ACKNOWLEDGED, NotifyEvent.RESOLVED,
                NotifyEvent.REOPENED],
    ))  # fmt: skip
    await rules_service.save_rule(session, seeder, notify_schemas.RuleIn(
        name="critical-pages", position=20, severities=["critical"],
        events=[NotifyEvent.OPENED, NotifyEvent.REOPENED], policy="page-then-broadcast",
    ))  # fmt: skip


async def _admins(session: AsyncSession) -> list[Principal]:
    """One admin per organisation (the first created), as the demo's acting principal."""
    rows = await session.scalars(
        select(User).where(User.org_role >= Role.ADMIN).order_by(User.created_at)
    )
    first: dict[uuid.UUID, uuid.UUID] = {}
    for user in rows:
        first.setdefault(user.org_id, user.id)
    return [await load_principal(session, user_id) for user_id in first.values()]


def _slack_page(slack: FakeSlack) -> Callable[[RecordedCall], Reply]:
    def page(_call: RecordedCall) -> Reply:
        rows = "".join(
            f"<li><code>{html.escape(m.ts)}</code> {html.escape(m.text)}"
            + (f" <em>(edited {m.edits} times)</em>" if m.edits else "")
            + "</li>"
            for m in reversed(slack.messages("#incidents"))
        )
        body = (
            "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
            "<link rel='icon' href='data:,'><title>#incidents · demo Slack</title></head><body>"
            "<p><strong>Demo integration.</strong> A fake Slack inside Loom, not a real Slack."
            f"</p><h1>#incidents</h1><ul>{rows or '<li>Nothing yet.</li>'}</ul></body></html>"
        )
        return Reply(200, body=body, headers={"Content-Type": "text/html; charset=utf-8"})

    return page
