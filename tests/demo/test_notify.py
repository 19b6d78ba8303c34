"""The demo pages somebody: channels to a fake Slack and PagerDuty, a schedule, a policy
and rules are created on the first start, pointed at the fakes running now on every
start, and a message really reaches the fake."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
from fastapi import FastAPI

from loom.app import create_app
from loom.demo import notify as demo_notify
from loom.notify.consumer import EXTRA_HOSTS_KEY, NotifyConsumers
from loom.queue.factory import queue_for
from loom.settings import Settings
from tests.conftest import ADMIN_EMAIL, bearer, make_settings, token_for

API = "http://loom.test/api/v1"


async def _running(settings: Settings) -> AsyncIterator[FastAPI]:
    app = create_app(settings, background=False)
    async with app.router.lifespan_context(app):
        yield app


def _client(app: FastAPI, token: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), headers=bearer(token))


async def test_the_demo_sends_to_its_fakes_and_follows_them_across_restarts(
    database_url: str,
) -> None:
    settings = make_settings(database_url, demo_data=True)
    bases = []
    for _start in range(2):
        async for app in _running(settings):
            runtime = app.state.runtime
            demo: demo_notify.DemoNotify = runtime.extras[demo_notify.EXTRAS_KEY]
            assert runtime.extras[EXTRA_HOSTS_KEY] == ("127.0.0.1",)
            async with _client(app, await token_for(app, ADMIN_EMAIL)) as admin:
                channels = (await admin.get(f"{API}/notify/channels")).json()["items"]
                by_name = {c["name"]: c for c in channels}
                assert set(by_name) == {demo_notify.SLACK, demo_notify.PAGERDUTY}
                slack = by_name[demo_notify.SLACK]
                assert slack["config"]["api_base"] == demo.slack.api_base
                assert by_name[demo_notify.PAGERDUTY]["config"]["events_url"] == (
                    demo.pagerduty.events_url
                )
                bases.append(slack["config"]["api_base"])
                rules = (await admin.get(f"{API}/notify/rules")).json()["items"]
                assert sorted(r["name"] for r in rules) == ["critical-pages",
                                                            "every-incident-to-slack"]  # fmt: skip
                now = (await admin.get(f"{API}/notify/schedules/primary/oncall")).json()
                assert now["shift"]["user"] in ("alice@loom.local", "dan@loom.local")
                sent = await admin.post(f"{API}/notify/channels/{slack['id']}/test")
                assert sent.status_code == 202, sent.text
            runtime.extras.setdefault("queues", {})
            consumers = NotifyConsumers(runtime)
            queue = queue_for(runtime, "notifications")
            for message in await queue.receive(10, 60):
                await consumers.process(message)
            texts = [m.text for m in demo.slack.messages("#incidents")]
            assert any("test" in t.lower() for t in texts), texts
            async with httpx.AsyncClient() as http:
                page = await http.get(demo.slack.url + "/")
            assert "#incidents" in page.text and "Demo integration" in page.text
        assert demo_notify.EXTRAS_KEY not in runtime.extras
    assert bases[0] != bases[1]  # the second start re-pointed the channel at its new fake
