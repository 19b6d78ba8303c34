"""In a real browser: an outage grouped by the pipeline shows up in the incident list;
its page shows the root cause box, the related deployment and the timeline; an operator
confirms the deployment as the cause and acknowledges the incident, and the page says so,
the timeline gaining the acknowledgement. No console errors (a CSP
violation or a script error would show up there)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from loom.auth.models import User
from loom.auth.passwords import hash_password
from loom.auth.roles import Role
from loom.db.types import utcnow
from loom.platform.runtime import Runtime
from loom.settings import Settings
from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, LiveServer
from tests.e2e.conftest import Console
from tests.e2e.test_catalog import shots
from tests.incidents.pipeline_support import T0, AlertSpec, fire

pytestmark = [pytest.mark.sqlite_only, pytest.mark.e2e]

OPERATOR = "oncall@loom.test"
PASSWORD = "oncall-password-1"
#: caller -> callees: a database under two services.
GRAPH = {"web": ["orders"], "orders": ["orders-db"], "orders-db": []}


@pytest.fixture
async def outage(live_server: LiveServer, settings: Settings) -> LiveServer:
    """The services through the API; an on-call operator and a database outage (alerts
    through the grouping pipeline) with a runtime of the test's own, before the browser
    starts (the live server's runtime lives on its own thread's loop)."""
    async with httpx.AsyncClient(base_url=live_server.url, timeout=30) as api:
        login = await api.post("/api/v1/auth/login",
                               json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})  # fmt: skip
        assert login.status_code == 200, login.text
        bodies: list[tuple[str, dict[str, Any]]] = [
            ("/api/v1/teams", {"slug": "shop", "name": "Shop"})
        ]
        bodies += [("/api/v1/services", {"slug": slug, "name": slug.title(), "team": "shop"})
                   for slug in GRAPH]  # fmt: skip
        bodies += [(f"/api/v1/services/{slug}/dependencies", {"target": target})
                   for slug, targets in GRAPH.items() for target in targets]  # fmt: skip
        # A deployment of the database 15 minutes before its first alert.
        deployed = (utcnow() - timedelta(minutes=25)).isoformat()
        bodies.append(("/api/v1/changes", {"type": "deployment", "service": "orders-db",
                                           "version": "2.0.1", "happened_at": deployed}))  # fmt: skip
        for path, body in bodies:
            response = await api.post(path, json=body)
            assert response.status_code == 201, response.text
    runtime = Runtime.build(settings)
    try:
        async with runtime.sessions() as s, s.begin():
            org_id = await s.scalar(select(User.org_id).where(User.email == ADMIN_EMAIL))
            assert org_id is not None
            s.add(User(org_id=org_id, email=OPERATOR, name="On call", org_role=Role.OPERATOR,
                       password_hash=hash_password(PASSWORD)))  # fmt: skip
        holder: Any = SimpleNamespace(state=SimpleNamespace(runtime=runtime))
        ago = utcnow() - T0 - timedelta(minutes=10)  # the outage began 10 minutes ago
        await fire(holder, org_id, [
            AlertSpec("DBDown", "orders-db", ago),
            AlertSpec("OrdersErrors", "orders", ago + timedelta(minutes=1)),
            AlertSpec("<b>WebErrors</b>", "web", ago + timedelta(minutes=2)),
        ], now=utcnow())  # fmt: skip
    finally:
        await runtime.close()
    return live_server


def test_an_operator_opens_an_incident_and_acknowledges_it(
    outage: LiveServer, page: Page, console: Console, tmp_path: Path
) -> None:
    base = outage.url
    page.goto(f"{base}/ui/incidents")
    page.get_by_label("Email").fill(OPERATOR)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{base}/ui/incidents")
    row = page.locator('#open-table tr[data-incident="1"]')
    expect(row).to_contain_text("orders-db")
    expect(row.locator(".alert-count")).to_have_text("3/3")
    expect(row).to_contain_text("10 min")  # its age
    row.get_by_role("link", name="INC-1").click()
    expect(page).to_have_url(f"{base}/ui/incidents/INC-1")

    box = page.locator("#root-cause")
    expect(box.locator("#root-cause-service")).to_have_text("orders-db")
    expect(box.locator("#root-cause-reasons li").first).to_be_visible()
    expect(page.locator("#other-causes tr[data-candidate]")).to_have_count(2)
    timeline = page.locator("#timeline li.event")
    # The deployment first (it happened before), then the incident opening.
    expect(timeline.first).to_have_attribute("data-kind", "change")
    expect(timeline.nth(1)).to_have_attribute("data-kind", "incident_created")
    expect(page.locator('#timeline li[data-kind="root_cause"]')).to_contain_text("orders-db")
    expect(page.locator("#incident-alerts")).to_contain_text("<b>WebErrors</b>")  # as text
    expect(page.locator("#incident-status")).to_have_text("triggered")

    related = page.locator("#related-changes tr[data-change]")
    expect(related).to_have_count(1)
    expect(related).to_contain_text("orders-db")
    related.get_by_role("button", name="Confirm").click()
    expect(page.locator("#incident-notice")).to_contain_text("your answer on the change")
    expect(related.locator(".verdict-confirmed")).to_have_text("confirmed")

    page.get_by_role("button", name="Acknowledge").click()
    expect(page).to_have_url(f"{base}/ui/incidents/INC-1?done=ack")
    expect(page.locator("#incident-notice")).to_have_text("Acknowledged.")
    expect(page.locator("#incident-status")).to_have_text("acknowledged")
    expect(timeline.last).to_have_attribute("data-kind", "acknowledged")
    expect(timeline.last).to_contain_text(OPERATOR)
    expect(page.get_by_role("button", name="Acknowledge")).to_have_count(0)
    page.screenshot(path=shots(tmp_path) / "incident.png", full_page=True)
    assert console.errors == []
