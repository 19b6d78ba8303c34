"""Requesting from an entry's page: Preview shows the plan (every task, its config rendered,
"known after task N"), Submit creates the request with the API's checks and goes to its
page; refusals come back next to the fields; a double submit makes one request."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from loom.provisioning.models import Request
from loom.queue.factory import queue_for
from loom.secrets.models import StoredSecret
from loom.settings import Settings
from tests.conftest import Tenant
from tests.web.conftest import csrf_of
from tests.web.support import SignedIn, catalog_settings, give_passwords, signed_in_as, synced
from tests.web.test_catalog_pages import parse

__all__ = ["signed_in_as"]

SECRET = "t0p-s3cret-value"


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return catalog_settings(database_url, tmp_path)


@pytest.fixture
async def portal(app: FastAPI, tenant: Tenant, signed_in_as: SignedIn) -> httpx.AsyncClient:
    """operator-a (one team) with the catalog synced."""
    await synced(app)
    await give_passwords(app, tenant)
    return await signed_in_as("operator-a@loom.test")


async def _count(app: FastAPI, model: type) -> int:
    async with app.state.runtime.sessions() as s:
        return int(await s.scalar(select(func.count()).select_from(model)) or 0)


async def _form(client: httpx.AsyncClient, entry_id: str) -> dict[str, str]:
    """The hidden fields of the entry's form (CSRF and the one-time token)."""
    page = await client.get(f"/ui/catalog/{entry_id}")
    assert page.status_code == 200
    token = parse(page.text).by_id("catalog-form").find_all("input", name="once_token")[0]
    return {"csrf_token": csrf_of(page), "once_token": token.get("value") or ""}


async def test_the_form_offers_preview_and_submit(portal: httpx.AsyncClient) -> None:
    doc = parse((await portal.get("/ui/catalog/dns-record")).text)
    form = doc.by_id("catalog-form")
    assert form.get("action") == "/ui/catalog/dns-record/request"
    preview = doc.by_id("preview-button")
    assert preview.get("formaction") == "/ui/catalog/dns-record/preview"
    assert preview.get("hx-post") == "/ui/catalog/dns-record/preview"
    assert preview.get("hx-target") == "#plan-panel"
    assert doc.by_id("submit-button").text == "Submit request"
    # One team to request for: chosen already.
    team = doc.by_id("team")
    assert [(o.get("value"), o.has("selected")) for o in team.find_all("option")] == [
        ("team-a", True)
    ]
    assert len(form.find_all("input", name="once_token")[0].get("value") or "") >= 16


async def test_preview_shows_every_task_with_its_rendered_config(
    portal: httpx.AsyncClient, app: FastAPI
) -> None:
    hidden = await _form(portal, "dns-record")
    values = {**hidden, "team": "team-a", "input.name": "shop", "input.token": SECRET}
    response = await portal.post("/ui/catalog/dns-record/preview", data=values)
    assert response.status_code == 200, response.text
    panel = parse(response.text).by_id("plan-panel")
    assert panel.get("data-ok") == "true"
    tasks = panel.find_all("li")
    assert [t.get("data-task") for t in tasks] == ["1", "2"]
    assert "Task 1: create" in tasks[0].text and "rest-api" in tasks[0].text
    assert '"name": "shop"' in tasks[0].text
    assert "https://dns.internal.example/records" in tasks[0].text
    assert "known after task 1" in tasks[1].text  # the first task's output
    rows = {r.get("data-path"): r.find_all("td")[0].text for r in panel.find_all("tr")}
    assert rows == {"name": "shop", "token": "••••"}
    assert "Team A" in panel.text
    assert SECRET not in response.text
    # No-JS preview: the form comes back too, the secret not echoed, and a note says so.
    assert parse(response.text).by_id("in-token").get("value") == ""
    assert "type them again" in parse(response.text).by_id("plan-secrets").text
    assert await _count(app, Request) == 0  # a preview stores nothing


async def test_htmx_preview_answers_with_the_panel_alone(portal: httpx.AsyncClient) -> None:
    hidden = await _form(portal, "web-service")
    response = await portal.post(
        "/ui/catalog/web-service/preview",
        data={**hidden, "input.name": "shop"},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200
    assert response.text.lstrip().startswith('<section id="plan-panel"')
    assert "<html" not in response.text
    tasks = parse(response.text).by_id("plan-tasks").find_all("li")
    # A bundle: its components' tasks in dependency order.
    assert ["component ns" in tasks[0].text, "component db" in tasks[1].text] == [True, True]
    assert "Create shop (small)" in tasks[1].text


async def test_a_refused_htmx_preview_replaces_the_form(portal: httpx.AsyncClient) -> None:
    hidden = await _form(portal, "dns-record")
    response = await portal.post(
        "/ui/catalog/dns-record/preview",
        data={**hidden, "input.name": "Bad Name"},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 422
    assert response.headers["hx-retarget"] == "#request-form"
    assert response.headers["hx-reselect"] == "#request-form"
    doc = parse(response.text)
    assert doc.by_id("in-name-error").text == "must match the pattern [a-z][a-z0-9-]*"
    assert doc.by_id("in-token-error").text == "is required"


async def test_submit_creates_the_request_and_goes_to_its_page(
    portal: httpx.AsyncClient, app: FastAPI
) -> None:
    hidden = await _form(portal, "dns-record")
    values = {**hidden, "team": "team-a", "input.name": "shop", "input.token": SECRET}
    response = await portal.post("/ui/catalog/dns-record/request", data=values)
    assert response.status_code == 303, response.text
    location = response.headers["location"]
    assert location.startswith("/ui/requests/")
    async with app.state.runtime.sessions() as s:
        request = (await s.scalars(select(Request))).one()
        assert request.inputs == {"name": "shop"}  # the secret is kept apart, encrypted
        assert request.secret_fields == ["token"]
        stored = (await s.scalars(select(StoredSecret.ciphertext))).all()
    assert location == f"/ui/requests/{request.id}"
    assert len(stored) == 1 and SECRET not in stored[0]
    [message] = (await queue_for(app.state.runtime, "tasks").list()).items
    assert message.group_id == str(request.id)  # the first task is queued
    page = await portal.get(location)
    assert page.status_code == 200
    assert "DNS record" in page.text and SECRET not in page.text


async def test_a_bundle_is_submitted_the_same_way(portal: httpx.AsyncClient, app: FastAPI) -> None:
    hidden = await _form(portal, "web-service")
    response = await portal.post(
        "/ui/catalog/web-service/request", data={**hidden, "input.name": "shop"}
    )
    assert response.status_code == 303
    page = parse((await portal.get(response.headers["location"])).text)
    steps = [
        (t.get("data-task"), t.get("data-state")) for t in page.by_id("timeline").find_all("li")
    ]
    assert steps == [("1", "queued"), ("2", "pending")]  # its components, in dependency order
    assert await _count(app, Request) == 1


async def test_bad_input_comes_back_next_to_each_field_and_stores_nothing(
    portal: httpx.AsyncClient, app: FastAPI
) -> None:
    hidden = await _form(portal, "dns-record")
    values = {**hidden, "team": "team-a", "input.name": "Bad Name", "input.token": SECRET}
    response = await portal.post("/ui/catalog/dns-record/request", data=values)
    assert response.status_code == 422
    doc = parse(response.text)
    assert doc.by_id("in-name-error").text == "must match the pattern [a-z][a-z0-9-]*"
    assert doc.by_id("in-name").get("value") == "Bad Name"  # kept as typed
    assert doc.by_id("in-token").get("value") == ""  # never echoed
    assert SECRET not in response.text
    assert "Record name: must match the pattern" in doc.by_id("form-errors").text
    assert await _count(app, Request) == 0
    # The refused post did not use up the token: the same form can be sent again, fixed.
    fixed = await portal.post(
        "/ui/catalog/dns-record/request", data={**values, "input.name": "shop"}
    )
    assert fixed.status_code == 303
    assert await _count(app, Request) == 1


async def test_a_team_without_the_operator_role_is_refused_next_to_the_team(
    app: FastAPI, tenant: Tenant, signed_in_as: SignedIn
) -> None:
    await synced(app)
    await give_passwords(app, tenant)
    viewer = await signed_in_as("viewer-a@loom.test")
    page = parse((await viewer.get("/ui/catalog/postgres")).text)
    assert "needs the operator role" in page.by_id("no-team").text
    hidden = await _form(viewer, "postgres")
    response = await viewer.post(
        "/ui/catalog/postgres/request", data={**hidden, "team": "team-a", "input.name": "orders"}
    )
    assert response.status_code == 422
    assert "requires the operator role" in parse(response.text).by_id("team-error").text
    other = await viewer.post(
        "/ui/catalog/postgres/request", data={**hidden, "team": "team-b", "input.name": "orders"}
    )
    assert other.status_code == 422
    assert "no team 'team-b' you belong to" in parse(other.text).by_id("team-error").text
    assert await _count(app, Request) == 0


async def test_an_org_admin_chooses_among_every_team(
    app: FastAPI, tenant: Tenant, signed_in: httpx.AsyncClient
) -> None:
    await synced(app)
    doc = parse((await signed_in.get("/ui/catalog/postgres")).text)
    options = [(o.get("value"), o.has("selected")) for o in doc.by_id("team").find_all("option")]
    # The admin's own (only) team first: the one the API picks when none is named.
    assert options == [("", False), ("platform", True), ("team-a", False), ("team-b", False)]
    hidden = await _form(signed_in, "postgres")
    chosen = await signed_in.post(
        "/ui/catalog/postgres/request", data={**hidden, "team": "team-b", "input.name": "orders"}
    )
    assert chosen.status_code == 303
    async with app.state.runtime.sessions() as s:
        assert await s.scalar(select(Request.team_id)) == tenant.team_b


async def test_a_double_submit_makes_one_request(portal: httpx.AsyncClient, app: FastAPI) -> None:
    hidden = await _form(portal, "postgres")
    values = {**hidden, "team": "team-a", "input.name": "orders"}
    first, second = await asyncio.gather(
        portal.post("/ui/catalog/postgres/request", data=values),
        portal.post("/ui/catalog/postgres/request", data=values),
    )
    again = await portal.post("/ui/catalog/postgres/request", data=values)
    assert {first.status_code, second.status_code, again.status_code} == {303}
    locations = {r.headers["location"] for r in (first, second, again)}
    assert len(locations) == 1
    assert await _count(app, Request) == 1
    # A fresh form is a new request.
    fresh = await _form(portal, "postgres")
    other = await portal.post(
        "/ui/catalog/postgres/request", data={**values, "once_token": fresh["once_token"]}
    )
    assert other.headers["location"] not in locations
    assert await _count(app, Request) == 2


async def test_posts_need_the_csrf_token_and_a_submission_token(
    portal: httpx.AsyncClient, app: FastAPI
) -> None:
    hidden = await _form(portal, "postgres")
    values = {"team": "team-a", "input.name": "orders"}
    for path in ("/ui/catalog/postgres/request", "/ui/catalog/postgres/preview"):
        refused = await portal.post(path, data={**values, "once_token": hidden["once_token"]})
        assert refused.status_code == 403, path
        assert "This form has expired" in refused.text
    no_token = await portal.post(
        "/ui/catalog/postgres/request", data={**values, "csrf_token": hidden["csrf_token"]}
    )
    assert no_token.status_code == 400
    assert await _count(app, Request) == 0


async def test_unknown_entries_are_404_pages(portal: httpx.AsyncClient) -> None:
    hidden = await _form(portal, "postgres")
    for path in ("/ui/catalog/nope/request", "/ui/catalog/nope/preview"):
        response = await portal.post(path, data=hidden)
        assert response.status_code == 404, path
        assert "no catalog item or bundle" in response.text
