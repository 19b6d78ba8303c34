"""A manual step inside an automated request: an approval, then a `jira-ticket` with
`waitFor: done` against the fake JIRA, carried out by the real worker and completed by
the periodic check once a person moves the ticket to Done."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from loom.app import create_app
from loom.auth.models import User
from loom.catalog.sync import sync
from loom.db.types import utcnow
from loom.demo.fakes.jira import FakeJira
from loom.workers.runner import Outcome
from loom.workers.wait_checks import check_due
from tests.catalog.conftest import write_catalog
from tests.conftest import ADMIN_EMAIL, bearer, make_settings, token_for
from tests.provisioning.waits_support import drain

ITEM = """\
apiVersion: loom/v1
kind: CatalogItem
metadata: {id: firewall, name: Firewall rule, category: networking}
spec:
  form:
    fields: [{id: name, type: string, required: true}]
  approval:
    users: [sec@loom.test]
  fulfillment:
    actions:
      - id: open
        type: jira-ticket
        config: {project: SEC, summary: "Open 443 for {{ .current.name }}", waitFor: done}
        outputs: [ticketKey, ticketUrl]
"""
LATER = timedelta(minutes=5)


@pytest.fixture
def jira() -> Iterator[FakeJira]:
    with FakeJira() as fake:
        yield fake


@pytest.fixture
async def jira_app(database_url: str, tmp_path: Path, jira: FakeJira) -> AsyncIterator[FastAPI]:
    repo = write_catalog(tmp_path / "repo", {"catalog/firewall.yaml": ITEM})
    main = {"base_url": jira.url, "email": jira.email, "token": jira.token}
    settings = make_settings(
        database_url, catalog={"source": str(repo)}, integrations={"jira": {"main": main}}
    )
    app = create_app(settings, background=False)
    async with app.router.lifespan_context(app):
        record = await sync(app.state.runtime, trigger="test")
        assert record.status == "ok", record.problems
        async with app.state.runtime.sessions() as s, s.begin():
            org_id = await s.scalar(select(User.org_id).where(User.email == ADMIN_EMAIL))
            s.add(User(org_id=org_id, email="sec@loom.test", name="Sec"))
        yield app


async def _client(app: FastAPI, email: str) -> httpx.AsyncClient:
    headers = bearer(await token_for(app, email))
    transport = httpx.ASGITransport(app=app)
    return httpx.AsyncClient(transport=transport, base_url="http://loom.test", headers=headers)


async def test_an_approved_ticket_step_waits_until_the_ticket_is_done(
    jira_app: FastAPI, jira: FakeJira
) -> None:
    runtime = jira_app.state.runtime
    async with (
        await _client(jira_app, ADMIN_EMAIL) as admin,
        await _client(jira_app, "sec@loom.test") as sec,
    ):
        body = {"item": "firewall", "team": "platform", "inputs": {"name": "shop"}}
        request_id = (await admin.post("/api/v1/requests", json=body)).json()["id"]
        assert await drain(runtime) == [Outcome.WAITING]
        approved = await sec.post(f"/api/v1/requests/{request_id}/approve")
        assert approved.status_code == 200, approved.text
        assert await drain(runtime) == [Outcome.WAITING]  # the ticket is open: it waits

        waiting = (await admin.get(f"/api/v1/requests/{request_id}")).json()
        [key] = jira.issues
        assert waiting["state"] == "processing"
        assert waiting["tasks"][1]["state"] == "waiting"
        assert waiting["tasks"][1]["outputs"]["ticketKey"] == key

        assert await check_due(runtime, utcnow() + LATER) == {"waiting": 1}
        jira.set_status(key, "Done", "Done")
        assert await check_due(runtime, utcnow() + LATER * 2) == {"completed": 1}
        done = (await admin.get(f"/api/v1/requests/{request_id}")).json()

    assert done["state"] == "completed" and done["waiting_for"] is None
    assert done["outputs"]["ticketKey"] == key
