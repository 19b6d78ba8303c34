"""The incident page's notification parts: "Acknowledged by … ago" in the header once
someone acknowledged it (and not after a reopen), and the Notifications section: the
incident's notification log newest first, with why an attempt is dead, muted or
retrying, the same rows as `GET /incidents/{ref}/notifications`."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from fastapi import FastAPI

from loom.db.types import utcnow
from loom.notify.models import Notification
from tests.conftest import ADMIN_EMAIL
from tests.web.conftest import csrf_of
from tests.web.incident_support import OPERATOR, VIEWER, add_people, incident, org_of_admin
from tests.web.test_incident_pages import As, as_user, rows_of, section

__all__ = ["as_user"]

PAGE = "/ui/incidents/INC-3"


@pytest.fixture
async def opened(app: FastAPI) -> uuid.UUID:
    """INC-3, open, with three attempts to notify about it; INC-4 with one; INC-5 none."""
    await add_people(app)
    now = utcnow()
    async with app.state.runtime.sessions() as s, s.begin():
        org_id = await org_of_admin(s)
        row = await incident(s, org_id, 3, title="Checkout down")
        other = await incident(s, org_id, 4)
        await incident(s, org_id, 5)
        delivery = uuid.uuid4()
        attempts = [
            (row.id, "sent", 1, "", now - timedelta(minutes=3), "#incidents", "slack"),
            (row.id, "retrying", 1, "HTTP 503 from the pager", now - timedelta(minutes=2),
             "events.pagerduty.com", "pagerduty"),
            (row.id, "dead", 2, "<b>bad routing key</b>", now - timedelta(minutes=1),
             "events.pagerduty.com", "pagerduty"),
            (other.id, "sent", 1, "", now, "#other", "slack"),
        ]  # fmt: skip
        for incident_id, status, attempt, error, at, target, kind in attempts:
            s.add(Notification(
                org_id=org_id, delivery_id=delivery, channel_name=f"{kind}-main",
                channel_kind=kind, incident_id=incident_id, event="incident.opened",
                target=target, status=status, attempt=attempt, error=error, created_at=at,
            ))  # fmt: skip
        return row.id


async def test_the_notifications_section_lists_the_incidents_log_newest_first(
    opened: uuid.UUID, as_user: As
) -> None:
    client = await as_user(VIEWER)
    page = await client.get(PAGE)
    assert page.status_code == 200
    log = section(page.text, "incident-notifications")
    assert rows_of(log, "data-status") == ["dead", "retrying", "sent"]
    assert "#other" not in log  # another incident's attempt
    assert "#incidents" in log and "slack-main" in log and "incident.opened" in log
    # Why it was not delivered, escaped; a sent attempt explains nothing.
    assert "&lt;b&gt;bad routing key&lt;/b&gt;" in log and "<b>bad" not in log
    assert "HTTP 503 from the pager" in log
    assert log.count('class="why"') == 2


async def test_the_page_shows_the_same_rows_as_the_api(
    opened: uuid.UUID, as_user: As, app: FastAPI
) -> None:
    client = await as_user(ADMIN_EMAIL)
    api = await client.get("/api/v1/incidents/INC-3/notifications")
    assert api.status_code == 200, api.text
    page = await client.get(PAGE)
    shown = rows_of(section(page.text, "incident-notifications"), "data-notification")
    assert shown == [item["id"] for item in api.json()["items"]]


async def test_an_incident_nobody_was_told_about_says_so(opened: uuid.UUID, as_user: As) -> None:
    client = await as_user(VIEWER)
    page = await client.get("/ui/incidents/INC-5")
    assert page.status_code == 200
    assert 'id="no-notifications"' in page.text
    assert 'id="notification-log"' not in page.text


async def test_acknowledged_by_shows_who_and_how_long_ago(opened: uuid.UUID, as_user: As) -> None:
    viewer = await as_user(VIEWER)
    assert 'id="acknowledged-by"' not in (await viewer.get(PAGE)).text
    operator = await as_user(OPERATOR)
    token = csrf_of(await operator.get(PAGE))
    response = await operator.post(f"{PAGE}/ack", data={"csrf_token": token})
    assert response.status_code == 303
    page = await viewer.get(PAGE)
    header = section(page.text, "acknowledged-by")
    assert OPERATOR in header and "ago" in header


async def test_a_person_who_resolves_acknowledges_and_a_reopen_clears_it(
    opened: uuid.UUID, as_user: As
) -> None:
    operator = await as_user(OPERATOR)
    token = csrf_of(await operator.get(PAGE))
    await operator.post(f"{PAGE}/resolve", data={"csrf_token": token})
    admin = await as_user(ADMIN_EMAIL)
    page = await admin.get(PAGE)
    assert OPERATOR in section(page.text, "acknowledged-by")
    token = csrf_of(page)
    assert (await admin.post(f"{PAGE}/reopen", data={"csrf_token": token})).status_code == 303
    assert 'id="acknowledged-by"' not in (await admin.get(PAGE)).text
