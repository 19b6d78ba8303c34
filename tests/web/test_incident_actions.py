"""The operators' actions on an incident's page: each form posts, changes the incident
through the lifecycle (timeline event, audit entry) and comes back to the page saying
so; a refusal the person can fix comes back as the page with the message; viewers are
refused; every post needs the page's CSRF token."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from loom.audit.models import AuditEntry
from loom.incidents.models import Change, ChangeCorrelation, Incident
from tests.web.conftest import csrf_of
from tests.web.incident_support import (
    OPERATOR,
    VIEWER,
    Scene,
    add_people,
    incident,
    make_scene,
    org_of_admin,
)
from tests.web.test_incident_pages import As, as_user, rows_of, section

__all__ = ["as_user"]

PAGE = "/ui/incidents/INC-7"


@pytest.fixture
async def scene(app: FastAPI) -> Scene:
    await add_people(app)
    return await make_scene(app)


async def post(client: httpx.AsyncClient, path: str, **form: str) -> httpx.Response:
    token = csrf_of(await client.get(PAGE))
    return await client.post(path, data={"csrf_token": token, **form})


async def incident_row(app: FastAPI, number: int) -> Incident:
    async with app.state.runtime.sessions() as s:
        found = await s.scalar(select(Incident).where(Incident.number == number))
        assert found is not None
        return found


async def audit_actions(app: FastAPI) -> list[str]:
    async with app.state.runtime.sessions() as s:
        return list(await s.scalars(select(AuditEntry.action).order_by(AuditEntry.seq)))


async def test_operator_acknowledges_an_incident(app: FastAPI, scene: Scene, as_user: As) -> None:
    client = await as_user(OPERATOR)
    response = await post(client, f"{PAGE}/ack")
    assert response.status_code == 303
    assert response.headers["location"] == f"{PAGE}?done=ack"
    page = await client.get(response.headers["location"])
    assert "Acknowledged." in section(page.text, "incident-notice")
    assert section(page.text, "incident-status").endswith(">acknowledged")
    assert rows_of(section(page.text, "timeline"), "data-kind")[-1] == "acknowledged"
    assert "ack" not in rows_of(section(page.text, "incident-actions"), "data-action")
    found = await incident_row(app, 7)
    assert found.status == "acknowledged" and found.mtta_seconds is not None
    assert "incident.acknowledge" in await audit_actions(app)


async def test_a_move_the_lifecycle_refuses_comes_back_with_the_message(
    app: FastAPI, scene: Scene, as_user: As
) -> None:
    client = await as_user(OPERATOR)
    response = await post(client, f"{PAGE}/reopen")  # it is not resolved
    assert response.status_code == 409
    assert 'id="action-error"' in response.text
    assert (await incident_row(app, 7)).status == "triggered"


async def test_viewers_are_refused(app: FastAPI, scene: Scene, as_user: As) -> None:
    client = await as_user(VIEWER)
    for path, form in ((f"{PAGE}/ack", {}), (f"{PAGE}/comments", {"body": "hi"}),
                       (f"{PAGE}/changes/{scene.change_id}/verdict", {"verdict": "confirmed"})):  # fmt: skip
        response = await post(client, path, **form)
        assert response.status_code == 403, path
    assert (await incident_row(app, 7)).status == "triggered"
    assert not [a for a in await audit_actions(app) if a.startswith("incident.")]


async def test_posts_without_the_csrf_token_are_refused(
    app: FastAPI, scene: Scene, as_user: As
) -> None:
    client = await as_user(OPERATOR)
    response = await client.post(f"{PAGE}/resolve", data={})
    assert response.status_code == 403
    assert (await incident_row(app, 7)).status == "triggered"


async def test_operator_comments_and_the_comment_shows_escaped(scene: Scene, as_user: As) -> None:
    client = await as_user(OPERATOR)
    response = await post(client, f"{PAGE}/comments", body="<b>rolled back</b> db")
    assert response.status_code == 303
    timeline = section((await client.get(PAGE)).text, "timeline")
    assert "&lt;b&gt;rolled back&lt;/b&gt; db" in timeline
    assert f"{OPERATOR}" in timeline
    blank = await post(client, f"{PAGE}/comments", body="   ")
    assert blank.status_code in (400, 422)
    assert "body" in section(blank.text, "action-error")


async def test_hold_open_and_release(app: FastAPI, scene: Scene, as_user: As) -> None:
    client = await as_user(OPERATOR)
    held = await post(client, f"{PAGE}/hold", hold="true")
    assert held.headers["location"] == f"{PAGE}?done=hold"
    assert (await incident_row(app, 7)).hold_open is True
    assert 'id="held-open"' in (await client.get(PAGE)).text
    released = await post(client, f"{PAGE}/hold", hold="false")
    assert released.headers["location"] == f"{PAGE}?done=release"
    assert (await incident_row(app, 7)).hold_open is False


async def test_operator_confirms_a_related_change(app: FastAPI, scene: Scene, as_user: As) -> None:
    client = await as_user(OPERATOR)
    path = f"{PAGE}/changes/{scene.change_id}/verdict"
    response = await post(client, path, verdict="confirmed")
    assert response.headers["location"] == f"{PAGE}?done=verdict"
    related = section((await client.get(PAGE)).text, "related-changes")
    assert "verdict-confirmed" in related and 'data-verdict="confirmed"' not in related
    async with app.state.runtime.sessions() as s:
        row = await s.scalar(select(ChangeCorrelation))
        assert row is not None and (row.verdict, row.verdict_by) == ("confirmed", OPERATOR)
    wrong = await post(client, path, verdict="maybe")
    assert wrong.status_code in (400, 422) and "verdict" in section(wrong.text, "action-error")


async def test_merging_into_an_unknown_incident_says_so(scene: Scene, as_user: As) -> None:
    client = await as_user(OPERATOR)
    response = await post(client, f"{PAGE}/merge", into="INC-404")
    assert response.status_code in (400, 422)
    assert "into" in section(response.text, "action-error")
    assert 'value="INC-404"' in response.text  # what was typed stays


async def test_actions_on_an_unknown_incident_are_404(scene: Scene, as_user: As) -> None:
    client = await as_user(OPERATOR)
    response = await post(client, "/ui/incidents/INC-999/ack")
    assert response.status_code == 404


async def test_operator_merges_an_incident_into_another(
    app: FastAPI, scene: Scene, as_user: As
) -> None:
    async with app.state.runtime.sessions() as s, s.begin():
        await incident(s, await org_of_admin(s), 8, title="api errors")
    client = await as_user(OPERATOR)
    response = await post(client, f"{PAGE}/merge", into="INC-8")
    assert response.status_code == 303
    assert response.headers["location"] == "/ui/incidents/INC-8?done=merged"
    target = (await client.get(response.headers["location"])).text
    assert len(rows_of(section(target, "incident-alerts"), "data-alert")) == 3
    assert "merged" in rows_of(section(target, "timeline"), "data-kind")
    merged = (await client.get(PAGE)).text
    assert '<a href="/ui/incidents/INC-8">INC-8</a>' in section(merged, "merged-into")
    assert (await incident_row(app, 7)).status == "resolved"


async def test_an_operator_records_a_change_by_hand(
    app: FastAPI, scene: Scene, as_user: As
) -> None:
    client = await as_user(OPERATOR)
    page = await client.get("/ui/changes")
    assert 'id="change-form"' in page.text
    form = {"csrf_token": csrf_of(page), "type": "config", "service": "db",
            "environment": "production", "title": "max_connections 200 → 50"}  # fmt: skip
    response = await client.post("/ui/changes", data=form)
    assert response.status_code == 303
    listed = await client.get(response.headers["location"])
    assert 'id="change-recorded"' in listed.text
    assert "max_connections 200 → 50" in section(listed.text, "changes-table")
    async with app.state.runtime.sessions() as s:
        change = await s.scalar(select(Change).where(Change.title == "max_connections 200 → 50"))
    assert change is not None and change.source == "manual" and change.author == OPERATOR
    assert "change.create" in await audit_actions(app)


async def test_a_bad_change_comes_back_with_the_field_named(scene: Scene, as_user: As) -> None:
    client = await as_user(OPERATOR)
    page = await client.get("/ui/changes")
    form = {"csrf_token": csrf_of(page), "type": "config", "service": "no-such-service",
            "title": "typo"}  # fmt: skip
    response = await client.post("/ui/changes", data=form)
    assert response.status_code == 400
    assert "service" in section(response.text, "record-error")
    assert 'value="no-such-service"' in response.text


async def test_viewers_see_no_change_form_and_cannot_post_one(scene: Scene, as_user: As) -> None:
    client = await as_user(VIEWER)
    page = await client.get("/ui/changes")
    assert 'id="change-form"' not in page.text
    form = {"csrf_token": csrf_of(page), "type": "config", "title": "sneaky"}
    assert (await client.post("/ui/changes", data=form)).status_code == 403
