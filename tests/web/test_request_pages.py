"""The requests list (yours or your teams', filters, cursor pages, scoping) and a request's
page (status, progress, timeline, logs, the live fragment that stops polling once the
request is final, Retry and Abort by role)."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from loom.audit.models import AuditEntry
from loom.auth.models import Organization, Team, User
from loom.provisioning.models import Request
from loom.settings import Settings
from tests.conftest import ADMIN_EMAIL, Tenant
from tests.web.conftest import csrf_of
from tests.web.support import (
    SignedIn,
    catalog_settings,
    give_passwords,
    signed_in_as,
    submit_api,
    synced,
    work,
)
from tests.web.test_catalog_pages import parse

__all__ = ["signed_in_as"]

SECRET = "t0p-s3cret-value"


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return catalog_settings(database_url, tmp_path)


@pytest.fixture
async def people(app: FastAPI, tenant: Tenant) -> Tenant:
    await synced(app)
    await give_passwords(app, tenant)
    return tenant


def listed(page: httpx.Response) -> list[str]:
    return [
        row.get("data-request") or ""
        for row in parse(page.text).find_all("tr")
        if row.has("data-request")
    ]


def buttons(page: httpx.Response) -> set[str]:
    return {b.get("id") or "" for b in parse(page.text).by_id("request-actions").find_all("button")}


# --- the list ---------------------------------------------------------------------------


async def test_the_list_shows_state_item_created_and_progress(
    app: FastAPI, people: Tenant, signed_in_as: SignedIn
) -> None:
    request_id = await submit_api(app, people.headers["operator-a"], "web-service", name="shop")
    await work(app.state.runtime, request_id)
    client = await signed_in_as("operator-a@loom.test")
    page = await client.get("/ui/requests")
    assert page.status_code == 200
    assert "coming soon" not in page.text
    assert '<a href="/ui/requests" aria-current="page">' in page.text
    [row] = [r for r in parse(page.text).find_all("tr") if r.has("data-request")]
    assert row.get("data-request") == request_id
    cells = [c.text for c in row.find_all("td")]
    assert cells[0].startswith("New web service") and "web-service" in cells[0]
    assert cells[1] == "processing"
    assert cells[2] == "1 of 2"
    assert cells[3] == "Team A" and cells[4] == "operator-a@loom.test"
    assert "UTC" in cells[5]
    assert row.find_all("a")[0].get("href") == f"/ui/requests/{request_id}"


async def test_mine_by_default_or_every_request_of_my_teams(
    app: FastAPI, people: Tenant, signed_in_as: SignedIn
) -> None:
    mine = await submit_api(app, people.headers["operator-a"])
    colleague = await submit_api(app, people.headers["admin-a"])
    elsewhere = await submit_api(app, people.headers["operator-b"], team="team-b")
    operator = await signed_in_as("operator-a@loom.test")
    assert listed(await operator.get("/ui/requests")) == [mine]
    assert listed(await operator.get("/ui/requests?scope=teams")) == [colleague, mine]
    # An organisation admin sees every team's, as the API's mine=false does.
    admin = await signed_in_as(ADMIN_EMAIL)
    assert listed(await admin.get("/ui/requests")) == []
    assert listed(await admin.get("/ui/requests?scope=teams")) == [elsewhere, colleague, mine]


async def test_filters_by_state_and_item(
    app: FastAPI, people: Tenant, signed_in_as: SignedIn
) -> None:
    headers = people.headers["operator-a"]
    database = await submit_api(app, headers)
    bundle = await submit_api(app, headers, "web-service", name="shop")
    await work(app.state.runtime, database, error="HTTP 500 from JIRA")
    client = await signed_in_as("operator-a@loom.test")
    assert listed(await client.get("/ui/requests?state=failed")) == [database]
    assert listed(await client.get("/ui/requests?state=submitted")) == [bundle]
    assert listed(await client.get("/ui/requests?item=web-service")) == [bundle]
    assert listed(await client.get("/ui/requests?item=web-service&state=failed")) == []
    # An unknown state filters nothing rather than failing the page.
    assert listed(await client.get("/ui/requests?state=nonsense")) == [bundle, database]
    page = parse((await client.get("/ui/requests?state=failed")).text)
    selected = [
        o.get("value") for o in page.by_id("filter-state").find_all("option") if o.has("selected")
    ]
    assert selected == ["failed"]


async def test_pages_follow_the_cursor(
    app: FastAPI, people: Tenant, signed_in_as: SignedIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    from loom.web import requests as requests_page

    monkeypatch.setattr(requests_page, "PAGE_SIZE", 2)
    ids = [await submit_api(app, people.headers["operator-a"]) for _ in range(5)]
    client = await signed_in_as("operator-a@loom.test")
    seen: list[str] = []
    url: str | None = "/ui/requests?state=submitted"
    while url is not None:
        page = await client.get(url)
        assert page.status_code == 200
        seen.extend(listed(page))
        doc = parse(page.text)
        more = [a for a in doc.find_all("a") if a.get("id") == "next-page"]
        url = more[0].get("href") if more else None
        if url is not None:
            assert "state=submitted" in url  # the filters travel with the cursor
    assert seen == list(reversed(ids))
    bad = await client.get("/ui/requests?cursor=garbage")
    assert bad.status_code == 422
    assert "not a cursor" in bad.text


async def test_an_empty_list_says_where_to_start(
    app: FastAPI, people: Tenant, signed_in_as: SignedIn
) -> None:
    client = await signed_in_as("viewer-a@loom.test")
    page = await client.get("/ui/requests")
    assert "You have not requested anything yet." in parse(page.text).by_id("requests-empty").text


# --- a request's page -------------------------------------------------------------------


async def test_the_page_shows_status_timeline_outputs_and_logs(
    app: FastAPI, people: Tenant, signed_in_as: SignedIn
) -> None:
    request_id = await submit_api(
        app, people.headers["operator-a"], "dns-record", name="shop", token=SECRET
    )
    await work(
        app.state.runtime,
        request_id,
        outputs={"record_id": "r-42", "api_token": "leaked?"},
        refs={"ticket": "https://dns.example/records/r-42"},
    )
    client = await signed_in_as("operator-a@loom.test")
    page = await client.get(f"/ui/requests/{request_id}")
    assert page.status_code == 200
    doc = parse(page.text)
    assert doc.by_id("request-state").text == "processing"
    assert doc.by_id("request-progress").text == "1 of 2"
    assert doc.by_id("request-team").text == "Team A"
    first, second = doc.by_id("timeline").find_all("li")
    assert (first.get("data-state"), second.get("data-state")) == ("completed", "queued")
    assert "1. create" in first.text and "rest-api" in first.text
    assert "started" in first.text and "finished" in first.text and "took" in first.text
    outputs = first.find_all("dl")[0]
    pairs = zip(outputs.find_all("dt"), outputs.find_all("dd"), strict=True)
    assert {dt.text: dd.text for dt, dd in pairs} == {"record_id": "r-42", "api_token": "••••"}
    link = first.find_all("a")[0]
    assert link.get("href") == "https://dns.example/records/r-42"
    logs = doc.by_id("logs").text
    assert "submitted by operator-a@loom.test" in logs
    assert "task 1 (create) processing → completed" in logs
    inputs = {
        r.get("data-path"): r.find_all("td")[0].text
        for r in doc.by_id("request-inputs").find_all("tr")
    }
    assert inputs == {"name": "shop", "token": "••••"}
    assert SECRET not in page.text


async def test_the_live_part_polls_until_the_request_is_final(
    app: FastAPI, people: Tenant, signed_in_as: SignedIn
) -> None:
    request_id = await submit_api(app, people.headers["operator-a"])
    client = await signed_in_as("operator-a@loom.test")
    live = parse((await client.get(f"/ui/requests/{request_id}")).text).by_id("request-live")
    assert live.get("hx-get") == f"/ui/requests/{request_id}/live?shown=submitted"
    assert live.get("hx-trigger") == "every 2s"
    assert live.get("hx-swap") == "outerHTML"

    # Nothing changed: the fragment is the live part alone, still polling.
    fragment = await client.get(f"/ui/requests/{request_id}/live?shown=submitted")
    assert fragment.status_code == 200
    assert fragment.text.lstrip().startswith('<section id="request-live"')
    assert "<html" not in fragment.text and "request-actions" not in fragment.text

    await work(app.state.runtime, request_id)  # its only task: completed
    fragment = await client.get(f"/ui/requests/{request_id}/live?shown=submitted")
    doc = parse(fragment.text)
    live = doc.by_id("request-live")
    assert live.get("data-state") == "completed"
    assert not live.has("hx-get") and not live.has("hx-trigger")  # final: no more polling
    assert doc.by_id("request-progress").text == "1 of 1"
    assert "no longer refreshes" in doc.by_id("refresh-note").text
    # The state changed: the actions come along, out of band (none left to take).
    actions = doc.by_id("request-actions")
    assert actions.get("hx-swap-oob") == "true"
    assert actions.find_all("button") == []


async def test_operators_may_abort_and_viewers_may_not(
    app: FastAPI, people: Tenant, signed_in_as: SignedIn
) -> None:
    request_id = await submit_api(app, people.headers["operator-a"], "web-service", name="shop")
    url = f"/ui/requests/{request_id}"
    viewer = await signed_in_as("viewer-a@loom.test")
    page = await viewer.get(url)
    assert page.status_code == 200
    assert buttons(page) == set()
    refused = await viewer.post(f"{url}/abort", data={"csrf_token": csrf_of(page)})
    assert refused.status_code == 403
    assert "requires the operator role" in refused.text

    operator = await signed_in_as("operator-a@loom.test")
    page = await operator.get(url)
    assert buttons(page) == {"abort-button"}  # nothing failed: nothing to retry
    no_csrf = await operator.post(f"{url}/abort")
    assert no_csrf.status_code == 403 and "This form has expired" in no_csrf.text
    aborted = await operator.post(f"{url}/abort", data={"csrf_token": csrf_of(page)})
    assert aborted.status_code == 303 and aborted.headers["location"] == url
    doc = parse((await operator.get(url)).text)
    assert doc.by_id("request-state").text == "aborted"
    assert [t.get("data-state") for t in doc.by_id("timeline").find_all("li")] == [
        "skipped",
        "skipped",
    ]
    # Aborting again (a second tab) explains itself instead of failing.
    again = await operator.post(f"{url}/abort", data={"csrf_token": csrf_of(page)})
    assert again.status_code == 409
    assert (
        "a request cannot go from aborted to aborted"
        in parse(again.text).by_id("action-notice").text
    )


async def test_a_failed_request_is_retried_as_is(
    app: FastAPI, people: Tenant, signed_in_as: SignedIn
) -> None:
    request_id = await submit_api(app, people.headers["operator-a"])
    await work(app.state.runtime, request_id, error="HTTP 500 from JIRA")
    url = f"/ui/requests/{request_id}"
    operator = await signed_in_as("operator-a@loom.test")
    page = await operator.get(url)
    doc = parse(page.text)
    assert doc.by_id("request-error").text == "HTTP 500 from JIRA"
    assert "HTTP 500 from JIRA" in doc.by_id("timeline").text
    assert buttons(page) == {"retry-button", "abort-button", "retry-corrected", "escalate-button"}
    retried = await operator.post(f"{url}/retry", data={"csrf_token": csrf_of(page)})
    assert retried.status_code == 303
    doc = parse((await operator.get(url)).text)
    assert doc.by_id("request-state").text == "retrying"
    assert doc.by_id("timeline").find_all("li")[0].get("data-state") == "queued"
    # The viewer sees the failure, not the buttons; a post is refused.
    await work(app.state.runtime, request_id, error="HTTP 500 again")
    viewer = await signed_in_as("viewer-a@loom.test")
    page = await viewer.get(url)
    assert buttons(page) == set()
    refused = await viewer.post(f"{url}/retry", data={"csrf_token": csrf_of(page)})
    assert refused.status_code == 403


async def test_retry_with_corrected_input_is_checked_like_a_submission(
    app: FastAPI, people: Tenant, signed_in_as: SignedIn
) -> None:
    request_id = await submit_api(app, people.headers["operator-a"])
    await work(app.state.runtime, request_id, error="HTTP 500 from JIRA")
    url = f"/ui/requests/{request_id}"
    operator = await signed_in_as("operator-a@loom.test")
    page = await operator.get(url)
    form = parse(page.text).by_id("correct-form")
    assert form.find_all("input", name="input.name")[0].get("value") == "orders"  # as stored
    values = {"csrf_token": csrf_of(page), "correct": "1", "input.size": "small"}

    bad = await operator.post(f"{url}/retry", data={**values, "input.name": "X"})
    assert bad.status_code == 422
    doc = parse(bad.text)
    assert doc.by_id("correct").has("open")
    assert doc.by_id("in-name-error").text.startswith("must match the pattern")
    assert doc.by_id("in-name").get("value") == "X"
    assert doc.by_id("request-state").text == "failed"  # nothing changed

    good = await operator.post(f"{url}/retry", data={**values, "input.name": "orders_v2"})
    assert good.status_code == 303
    async with app.state.runtime.sessions() as s:
        request = await s.get(Request, uuid.UUID(request_id))
        assert request is not None and request.inputs["name"] == "orders_v2"
        diff = await s.scalar(
            select(AuditEntry.after).where(AuditEntry.action == "request.inputs.correct")
        )
    assert diff is not None and diff["diff"] == {"name": {"before": "orders", "after": "orders_v2"}}


async def test_input_with_secrets_is_retried_as_is_only(
    app: FastAPI, people: Tenant, signed_in_as: SignedIn
) -> None:
    request_id = await submit_api(
        app, people.headers["operator-a"], "dns-record", name="shop", token=SECRET
    )
    await work(app.state.runtime, request_id, error="HTTP 500")
    operator = await signed_in_as("operator-a@loom.test")
    page = await operator.get(f"/ui/requests/{request_id}")
    assert buttons(page) == {"retry-button", "abort-button", "escalate-button"}
    assert "cannot be corrected here" in parse(page.text).by_id("request-actions").text


async def test_requests_of_other_teams_and_other_organisations_are_not_found(
    app: FastAPI, people: Tenant, signed_in_as: SignedIn
) -> None:
    theirs = await submit_api(app, people.headers["operator-b"], team="team-b")
    async with app.state.runtime.sessions() as s, s.begin():
        org = Organization(slug="other-org", name="Other")
        s.add(org)
        await s.flush()
        team = Team(org_id=org.id, slug="x", name="X")
        user = User(org_id=org.id, email="x@other.test", name="X")
        s.add_all([team, user])
        await s.flush()
        foreign = Request(
            org_id=org.id, team_id=team.id, requester_id=user.id, kind="CatalogItem",
            entry_id="postgres", entry_name="PostgreSQL database", entry_version="1",
            entry_digest="d", definition={}, inputs={}, state="submitted",
            correlation_id="c", tasks_total=0,
        )  # fmt: skip
        s.add(foreign)
        await s.flush()
        foreign_id = str(foreign.id)

    operator = await signed_in_as("operator-a@loom.test")
    admin = await signed_in_as(ADMIN_EMAIL)
    token = csrf_of(await operator.get("/ui/requests"))
    for path in (f"/ui/requests/{theirs}", f"/ui/requests/{theirs}/live"):
        response = await operator.get(path)
        assert response.status_code == 404, path
        assert "request not found" in response.text
    refused = await operator.post(f"/ui/requests/{theirs}/abort", data={"csrf_token": token})
    assert refused.status_code == 404
    assert theirs not in listed(await operator.get("/ui/requests?scope=teams"))
    # Another organisation's request: not found even for this organisation's admin.
    assert (await admin.get(f"/ui/requests/{foreign_id}")).status_code == 404
    assert foreign_id not in listed(await admin.get("/ui/requests?scope=teams"))
    assert (await admin.get(f"/ui/requests/{theirs}")).status_code == 200
    assert (await admin.get("/ui/requests/not-a-uuid")).status_code == 404


async def test_anonymous_visitors_go_to_login(app: FastAPI, client: httpx.AsyncClient) -> None:
    for path in ("/ui/requests", f"/ui/requests/{uuid.uuid4()}"):
        response = await client.get(path)
        assert response.status_code == 303
        assert response.headers["location"].startswith("/ui/login?next=%2Fui%2Frequests")
