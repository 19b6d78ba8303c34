"""The incident pages of the portal: the incident list (open first, then resolved, with
filters), an incident's page (root cause box, affected services, related changes with
the parts of their score, alerts with why they joined, the timeline oldest first),
actions only for operators, alert text escaped, and a 404 for an incident that is not
there (or is another organisation's)."""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta

import httpx
import pytest
from fastapi import FastAPI

from loom.auth.models import Organization
from loom.db.types import utcnow
from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, Tenant
from tests.incidents.pipeline_support import AlertSpec, build_shop, fire
from tests.web.conftest import sign_in
from tests.web.incident_support import (
    OPERATOR,
    PASSWORD,
    VIEWER,
    XSS_JOINED,
    XSS_NAME,
    Scene,
    add_people,
    alert,
    change,
    incident,
    make_scene,
    org_of_admin,
    service,
)

As = Callable[[str], Awaitable[httpx.AsyncClient]]


@pytest.fixture
async def scene(app: FastAPI) -> Scene:
    await add_people(app)
    return await make_scene(app)


@pytest.fixture
async def as_user(app: FastAPI) -> AsyncIterator[As]:
    clients: list[httpx.AsyncClient] = []

    async def open_as(email: str) -> httpx.AsyncClient:
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")
        clients.append(client)
        password = ADMIN_PASSWORD if email == ADMIN_EMAIL else PASSWORD
        response = await sign_in(client, email=email, password=password)
        assert response.status_code == 303, response.text
        return client

    yield open_as
    for client in clients:
        await client.aclose()


def section(page: str, element_id: str) -> str:
    """The markup of the element with this id, up to its closing tag of the same name."""
    found = re.search(rf'<(\w+)[^>]*\bid="{element_id}"', page)
    assert found, f"no #{element_id}"
    tag = found.group(1)
    end = page.index(f"</{tag}>", found.end())
    return page[found.start() : end]


def rows_of(markup: str, attribute: str) -> list[str]:
    return re.findall(rf'{attribute}="([^"]*)"', markup)


# --- the list -------------------------------------------------------------------------


async def test_list_shows_open_incidents_first_then_resolved(scene: Scene, as_user: As) -> None:
    client = await as_user(VIEWER)
    page = await client.get("/ui/incidents")
    assert page.status_code == 200
    text = page.text
    assert text.index('id="open-table"') < text.index('id="resolved-table"')
    opened = section(text, "open-table")
    assert rows_of(opened, "data-incident") == ["7"]
    assert 'href="/ui/incidents/INC-7"' in opened
    assert "db down: api and web failing" in opened
    assert 'class="badge severity severity-critical"' in opened
    assert "status-triggered" in opened
    assert '<span class="firing">2</span>/3' in opened
    assert '<a href="/ui/services/db" class="root-cause">db</a>' in opened
    assert "30 min" in opened  # its age
    assert rows_of(section(text, "resolved-table"), "data-incident") == ["3"]


async def test_list_orders_open_incidents_by_severity_then_newest(
    app: FastAPI, scene: Scene, as_user: As
) -> None:
    async with app.state.runtime.sessions() as s, s.begin():
        org_id = await org_of_admin(s)
        await incident(s, org_id, 8, severity="info")
        await incident(s, org_id, 9, severity="critical")
        await incident(s, org_id, 10, severity="warning", status="acknowledged")
    page = await (await as_user(VIEWER)).get("/ui/incidents")
    assert rows_of(section(page.text, "open-table"), "data-incident") == ["9", "7", "10", "8"]


async def test_list_filters_by_state_severity_and_service(scene: Scene, as_user: As) -> None:
    client = await as_user(VIEWER)
    only_open = await client.get("/ui/incidents", params={"state": "open"})
    assert 'id="open-table"' in only_open.text and 'id="resolved-incidents"' not in only_open.text
    resolved = await client.get("/ui/incidents", params={"state": "resolved"})
    assert 'id="open-incidents"' not in resolved.text
    assert rows_of(section(resolved.text, "resolved-table"), "data-incident") == ["3"]
    warning = await client.get("/ui/incidents", params={"severity": "warning"})
    assert 'id="open-empty"' in warning.text
    assert rows_of(section(warning.text, "resolved-table"), "data-incident") == ["3"]
    on_db = await client.get("/ui/incidents", params={"service": "db"})
    assert rows_of(section(on_db.text, "open-table"), "data-incident") == ["7"]
    assert 'id="resolved-empty"' in on_db.text


async def test_list_says_when_the_service_filter_names_no_service(
    scene: Scene, as_user: As
) -> None:
    page = await (await as_user(VIEWER)).get("/ui/incidents", params={"service": "nope"})
    assert page.status_code == 200
    assert "no service &#39;nope&#39;" in section(page.text, "filter-problem")


async def test_list_pages_through_resolved_incidents(
    app: FastAPI, scene: Scene, as_user: As
) -> None:
    async with app.state.runtime.sessions() as s, s.begin():
        org_id = await org_of_admin(s)
        for number in range(20, 50):
            await incident(s, org_id, number, status="resolved", severity="info")
    client = await as_user(VIEWER)
    first = await client.get("/ui/incidents", params={"state": "resolved"})
    listed = rows_of(section(first.text, "resolved-table"), "data-incident")
    assert listed == [str(n) for n in range(49, 24, -1)]
    next_url = html.unescape(re.search(r'href="([^"]+)" id="next-page"', first.text).group(1))  # type: ignore[union-attr]
    second = await client.get(next_url)
    rest = rows_of(section(second.text, "resolved-table"), "data-incident")
    assert rest == [str(n) for n in range(24, 19, -1)] + ["3"]
    assert 'id="next-page"' not in second.text


# --- an incident's page ---------------------------------------------------------------


async def test_incident_page_shows_root_cause_with_reasons_and_other_candidates(
    scene: Scene, as_user: As
) -> None:
    page = await (await as_user(VIEWER)).get("/ui/incidents/INC-7")
    assert page.status_code == 200
    box = section(page.text, "root-cause")
    assert '<a href="/ui/services/db" id="root-cause-service"><strong>db</strong></a>' in box
    assert "none of its dependencies fail" in box and "first to fail" in box
    others = section(page.text, "other-causes")
    assert 'data-candidate="api"' in others and "<td>41</td>" in others
    assert "depends on failing db" in others
    affected = section(page.text, "affected-services")
    assert rows_of(affected, "data-service") == ["api", "web"]
    assert '<span class="firing">0</span>/1' in affected  # web: one alert, resolved


async def test_incident_page_shows_related_changes_with_score_parts(
    scene: Scene, as_user: As
) -> None:
    page = await (await as_user(VIEWER)).get("/ui/incidents/7")  # the bare number works too
    related = section(page.text, "related-changes")
    assert f'data-change="{scene.change_id}"' in related
    assert '<strong class="score">84%</strong>' in related
    assert '<td data-part="time">88%</td>' in related
    assert '<td data-part="service">100%</td>' in related
    assert '<td data-part="environment">100%</td>' in related
    assert "2.0.0 → 2.0.1" in related and "15 min before the first alert" in related
    assert 'href="https://ci.example/run/1"' in related


async def test_incident_page_lists_alerts_with_why_they_joined(scene: Scene, as_user: As) -> None:
    page = await (await as_user(VIEWER)).get("/ui/incidents/INC-7")
    alerts = section(page.text, "incident-alerts")
    assert rows_of(alerts, "data-alert") == [str(scene.alert_ids[k]) for k in ("db", "api", "web")]
    assert "topology: web depends on api (2 hops)" in alerts
    assert "opened the incident" in alerts
    assert '<a href="/ui/services/web">web</a>' in alerts


async def test_incident_page_timeline_is_oldest_first_with_an_icon_per_kind(
    scene: Scene, as_user: As
) -> None:
    page = await (await as_user(VIEWER)).get("/ui/incidents/INC-7")
    events = section(page.text, "timeline")
    assert rows_of(events, "data-kind") == ["incident_created", "alert_fired", "comment"]
    assert events.count('class="icon"') == 3
    assert "&lt;i&gt;looking&lt;/i&gt;" in events  # a comment's body, escaped


async def test_alert_text_is_escaped_everywhere(scene: Scene, as_user: As) -> None:
    client = await as_user(VIEWER)
    for path in ("/ui/incidents/INC-7", "/ui/alerts"):
        text = (await client.get(path)).text
        assert XSS_NAME not in text, path
        assert html.escape(XSS_NAME, quote=False) in text.replace("&#39;", "'"), path
        assert "<b>bold</b>" not in text and "&lt;b&gt;bold&lt;/b&gt;" in text, path
    page = (await client.get("/ui/incidents/INC-7")).text
    assert XSS_JOINED not in page
    assert "&lt;img src=x onerror=&#34;alert(1)&#34;&gt;" in page


async def test_viewers_see_no_actions(scene: Scene, as_user: As) -> None:
    page = (await (await as_user(VIEWER)).get("/ui/incidents/INC-7")).text
    assert 'id="incident-actions"' not in page
    assert 'id="comment-form"' not in page
    assert "verdict-form" not in page
    assert 'method="post" action="/ui/incidents' not in page


async def test_operators_see_the_actions_the_lifecycle_allows(scene: Scene, as_user: As) -> None:
    client = await as_user(OPERATOR)
    page = (await client.get("/ui/incidents/INC-7")).text
    actions = section(page, "incident-actions")
    assert rows_of(actions, "data-action") == [
        "ack", "investigate", "mitigate", "resolve", "hold", "merge"
    ]  # fmt: skip
    assert 'action="/ui/incidents/INC-7/ack"' in actions
    assert 'id="comment-form"' in page
    assert 'action="/ui/incidents/INC-7/changes/' in page
    resolved = (await client.get("/ui/incidents/INC-3")).text
    assert rows_of(section(resolved, "incident-actions"), "data-action") == ["reopen"]


async def test_unknown_incident_is_a_404_page(scene: Scene, as_user: As) -> None:
    client = await as_user(VIEWER)
    for ref in ("INC-999", "999", "not-a-number"):
        page = await client.get(f"/ui/incidents/{ref}")
        assert page.status_code == 404, ref
        assert "not found" in page.text


async def test_another_organisations_incident_is_a_404(
    app: FastAPI, scene: Scene, as_user: As
) -> None:
    async with app.state.runtime.sessions() as s, s.begin():
        other = Organization(slug="elsewhere", name="Elsewhere")
        s.add(other)
        await s.flush()
        await incident(s, other.id, 55, title="their secret outage")
    page = await (await as_user(VIEWER)).get("/ui/incidents/INC-55")
    assert page.status_code == 404
    assert "their secret outage" not in page.text
    listed = await (await as_user(VIEWER)).get("/ui/incidents")
    assert "their secret outage" not in listed.text


async def test_anonymous_visitors_go_to_login(client: httpx.AsyncClient) -> None:
    for path in ("/ui/incidents", "/ui/incidents/INC-1", "/ui/alerts", "/ui/changes"):
        response = await client.get(path)
        assert response.status_code == 303, path
        assert response.headers["location"].startswith("/ui/login?next=")


# --- alerts and changes -----------------------------------------------------------------


async def test_alerts_page_lists_firing_first_with_incident_links(
    scene: Scene, as_user: As
) -> None:
    client = await as_user(VIEWER)
    page = await client.get("/ui/alerts")
    assert page.status_code == 200
    firing = section(page.text, "firing-table")
    assert rows_of(firing, "data-status") == ["firing", "firing"]
    assert str(scene.alert_ids["api"]) == rows_of(firing, "data-alert")[0]  # seen last
    assert '<a href="/ui/incidents/INC-7" class="incident-link">INC-7</a>' in firing
    resolved = section(page.text, "resolved-table")
    assert rows_of(resolved, "data-status") == ["resolved", "resolved"]
    assert page.text.index('id="firing-table"') < page.text.index('id="resolved-table"')


async def test_alerts_page_filters(app: FastAPI, scene: Scene, as_user: As) -> None:
    async with app.state.runtime.sessions() as s, s.begin():
        org_id = await org_of_admin(s)
        quiet = await alert(s, None, org_id, "Muted", severity="info")
        quiet.silence_id = None
    client = await as_user(VIEWER)
    warn = await client.get("/ui/alerts", params={"severity": "warning"})
    assert 'id="firing-empty"' in warn.text
    assert len(rows_of(section(warn.text, "resolved-table"), "data-alert")) == 2
    on_db = await client.get("/ui/alerts", params={"service": "db", "status": "firing"})
    assert rows_of(section(on_db.text, "firing-table"), "data-alert") == [
        str(scene.alert_ids["db"])
    ]
    assert 'id="resolved-alerts"' not in on_db.text
    of_incident = await client.get("/ui/alerts", params={"incident": "INC-3"})
    assert 'id="firing-empty"' in of_incident.text
    assert rows_of(section(of_incident.text, "resolved-table"), "data-alert") != []
    silenced = await client.get("/ui/alerts", params={"silenced": "yes"})
    assert 'id="firing-empty"' in silenced.text and 'id="resolved-empty"' in silenced.text
    unknown = await client.get("/ui/alerts", params={"incident": "INC-404"})
    assert unknown.status_code == 200 and 'id="filter-problem"' in unknown.text


async def test_changes_page_lists_changes_and_frequency_per_service(
    app: FastAPI, scene: Scene, as_user: As
) -> None:
    now = utcnow()
    async with app.state.runtime.sessions() as s, s.begin():
        org_id = await org_of_admin(s)
        cache = await service(s, org_id, "cache")
        for days in (1, 2, 10, 20, 45):
            await change(s, org_id, cache, now - timedelta(days=days), type="config",
                         author="ops@loom.test")  # fmt: skip
        await change(s, org_id, None, now - timedelta(days=3), type="infrastructure")
    client = await as_user(VIEWER)
    page = await client.get("/ui/changes")
    assert page.status_code == 200
    table = section(page.text, "changes-table")
    assert len(rows_of(table, "data-change")) == 7
    assert rows_of(table, "data-type")[0] == "deployment"  # 45 min ago: the newest
    assert "<code>2.0.0</code> → <code>2.0.1</code>" in table
    frequency = section(page.text, "change-frequency")
    counts = dict(
        re.findall(r'data-service="([^"]*)">.*?class="week">(\d+)</td>', frequency, re.DOTALL)
    )
    assert counts == {"cache": "2", "db": "1", "": "1"}
    assert re.search(r'data-service="cache">.*?class="month">4 ', frequency, re.DOTALL)
    assert rows_of(frequency, "data-service")[0] == "cache"  # the most changed first
    on_db = await client.get("/ui/changes", params={"service": "db"})
    assert len(rows_of(section(on_db.text, "changes-table"), "data-change")) == 1
    configs = await client.get("/ui/changes", params={"type": "config"})
    assert set(rows_of(section(configs.text, "changes-table"), "data-type")) == {"config"}


async def test_operations_pages_keep_the_incidents_entry_current(scene: Scene, as_user: As) -> None:
    client = await as_user(VIEWER)
    for path, view in (("/ui/incidents", "incidents"), ("/ui/alerts", "alerts"),
                       ("/ui/changes", "changes")):  # fmt: skip
        text = (await client.get(path)).text
        assert '<a href="/ui/incidents" aria-current="page">Incidents</a>' in text, path
        assert f'data-view="{view}" aria-current="true"' in text, path


async def test_an_outage_grouped_by_the_pipeline_shows_its_root_cause(
    app: FastAPI, client: httpx.AsyncClient, admin_headers: dict[str, str], tenant: Tenant,
    as_user: As,
) -> None:  # fmt: skip
    """The real thing: a database failure fanning out through the shop's graph becomes
    one incident; its page names the database as the root cause, with the pipeline's own
    reasons and the text of why each alert joined."""
    await build_shop(client, admin_headers)
    await fire(app, tenant.org_id, [
        AlertSpec("DBDown", "orders-db"),
        AlertSpec("OrdersErrors", "orders", timedelta(minutes=1)),
        AlertSpec("ApiLatency", "api", timedelta(minutes=2), severity="warning"),
        AlertSpec("WebErrors", "web", timedelta(minutes=3)),
    ])  # fmt: skip
    viewer = await as_user(ADMIN_EMAIL)
    listed = await viewer.get("/ui/incidents")
    assert rows_of(section(listed.text, "open-table"), "data-incident") == ["1"]
    assert '<a href="/ui/services/orders-db" class="root-cause">orders-db</a>' in listed.text
    page = (await viewer.get("/ui/incidents/INC-1")).text
    box = section(page, "root-cause")
    assert 'id="root-cause-service"><strong>orders-db</strong>' in box
    assert rows_of(section(page, "other-causes"), "data-candidate")[0] == "orders"
    assert {"orders", "api", "web"} <= set(rows_of(section(page, "affected-services"),
                                                   "data-service"))  # fmt: skip
    alerts = section(page, "incident-alerts")
    assert alerts.count('class="joined"><small>') == 4 and "<small>—</small>" not in alerts
    assert "<code>orders</code> depends on <code>orders-db</code> (1 hop)" in alerts
    assert "<code>orders-db</code>" in box  # the reasons' names, as code
    kinds = rows_of(section(page, "timeline"), "data-kind")
    assert kinds[0] == "incident_created" and {"alert_fired", "root_cause"} <= set(kinds)
