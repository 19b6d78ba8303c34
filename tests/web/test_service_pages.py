"""The service registry in the portal: the list (filters, paging), a service's page and
its tabs (overview, dependencies, graph), the whole-system graph page, and changing a
service from the portal (operators of the owning team only; managed services never)."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from loom.web import services as service_list
from tests.conftest import Tenant
from tests.services.support import SERVICES, depend, make_managed, other_org_admin, register
from tests.web.conftest import csrf_of
from tests.web.support import SignedIn, give_passwords, signed_in_as
from tests.web.test_catalog_pages import Node, parse

__all__ = ["signed_in_as"]

LIST = "/ui/services"


@pytest.fixture
async def people(app: FastAPI, tenant: Tenant) -> Tenant:
    await give_passwords(app, tenant)
    return tenant


@pytest.fixture
async def shop(client: httpx.AsyncClient, people: Tenant) -> Tenant:
    """orders (team A) calls payments (team B) and a database; payments and ledger call
    each other round."""
    a, b = people.headers["operator-a"], people.headers["operator-b"]
    await register(
        client, a, "orders", name="Orders", tier=1, lifecycle="production", system="shop",
        domain="commerce", description="Takes the orders", tags=["checkout", "core"],
        repository_url="https://git.test/shop/orders", api_spec_url="https://git.test/api.yaml",
        links=[{"title": "Runbook", "url": "https://wiki.test/orders", "kind": "runbook"}],
        metadata={"pager": "orders-oncall", "slo": {"availability": 99.9}},
    )  # fmt: skip
    await register(client, b, "payments", team="team-b", name="Payments", tier=2)
    await register(client, b, "ledger", team="team-b", name="Ledger", lifecycle="deprecated")
    await depend(client, a, "orders", target="payments", kind="sync", criticality="high")
    await depend(client, a, "orders", target_resource="postgres:orders-db", kind="data")
    await depend(client, b, "payments", target="ledger", kind="async", criticality="low")
    await depend(client, b, "ledger", target="payments")
    return people


def listed(page: httpx.Response) -> list[str]:
    table = parse(page.text).by_id("services-table")
    return [
        row.get("data-service") or "" for row in table.find_all("tr") if row.has("data-service")
    ]


def chosen(doc: Node, select: str) -> str:
    return next(o.text for o in doc.by_id(select).find_all("option") if o.has("selected"))


async def as_user(signed_in_as: SignedIn, who: str) -> httpx.AsyncClient:
    return await signed_in_as(f"{who}@loom.test")


# --- the list ---------------------------------------------------------------------------


async def test_the_list_shows_every_service_with_its_owner_and_a_link(
    signed_in_as: SignedIn, shop: Tenant
) -> None:
    client = await as_user(signed_in_as, "viewer-b")
    page = await client.get(LIST)
    assert page.status_code == 200
    assert '<a href="/ui/services" aria-current="page">' in page.text
    assert "coming soon" not in page.text
    assert listed(page) == ["ledger", "orders", "payments"]
    row = next(r for r in parse(page.text).find_all("tr") if r.get("data-service") == "orders")
    assert row.find_all("a")[0].get("href") == "/ui/services/orders"
    assert "Team A" in row.text and "tier 1" in row.text and "production" in row.text
    # No check yet: every service's health is unknown (test_service_status_pages has more).
    assert row.find_all("td")[-1].get("data-health") == "unknown"


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"team": "team-b"}, ["ledger", "payments"]),
        ({"tier": "1"}, ["orders"]),
        ({"lifecycle": "deprecated"}, ["ledger"]),
        ({"q": "takes the"}, ["orders"]),
        ({"tag": "checkout"}, ["orders"]),
        ({"team": "team-b", "tier": "2"}, ["payments"]),
    ],
)
async def test_the_list_filters(
    signed_in: httpx.AsyncClient, shop: Tenant, query: dict[str, str], expected: list[str]
) -> None:
    page = await signed_in.get(LIST, params=query)
    assert page.status_code == 200
    assert listed(page) == expected
    assert 'id="clear-filters"' in page.text


async def test_no_match_says_so(signed_in: httpx.AsyncClient, shop: Tenant) -> None:
    page = await signed_in.get(LIST, params={"q": "nothing-like-this"})
    assert page.status_code == 200
    assert "No service matches these filters" in page.text


async def test_the_list_pages_by_cursor_keeping_its_filters(
    signed_in: httpx.AsyncClient, shop: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(service_list, "PAGE_SIZE", 1)
    first = await signed_in.get(LIST, params={"team": "team-b"})
    assert listed(first) == ["ledger"]
    next_url = parse(first.text).by_id("next-page").get("href") or ""
    assert next_url.startswith("/ui/services?team=team-b&cursor=")
    second = await signed_in.get(next_url)
    assert listed(second) == ["payments"]
    assert 'id="next-page"' not in second.text
    assert parse(second.text).by_id("first-page").get("href") == "/ui/services?team=team-b"


# --- the service page -------------------------------------------------------------------


async def test_the_overview_shows_every_field(signed_in_as: SignedIn, shop: Tenant) -> None:
    client = await as_user(signed_in_as, "viewer-b")
    page = await client.get("/ui/services/orders")
    assert page.status_code == 200
    doc = parse(page.text)
    assert doc.by_id("service-description").text == "Takes the orders"
    assert doc.by_id("service-owner").text == "Team A"
    assert doc.by_id("service-tier").text == "1"
    assert doc.by_id("service-lifecycle").text == "production"
    assert doc.by_id("service-system").text == "shop"
    assert doc.by_id("service-domain").text == "commerce"
    assert doc.by_id("service-repository").find_all("a")[0].get("href") == (
        "https://git.test/shop/orders"
    )
    assert "https://git.test/api.yaml" in doc.by_id("service-api-spec").text
    links = doc.by_id("service-links").find_all("a")
    assert links[0].get("href") == "https://wiki.test/orders" and links[0].text == "Runbook"
    assert [a.text for a in doc.by_id("service-tags").find_all("a")] == ["checkout", "core"]
    metadata = doc.by_id("service-metadata")
    pairs = [n.text for n in metadata.all() if n.tag in ("dt", "dd")]
    assert pairs == ["pager", "orders-oncall", "slo", '{"availability": 99.9}']
    assert "from catalog document" not in page.text


async def test_tabs_are_links_and_each_is_a_page(
    signed_in: httpx.AsyncClient, shop: Tenant
) -> None:
    page = await signed_in.get("/ui/services/orders/dependencies")
    assert page.status_code == 200
    tabs = {a.get("data-tab"): a for a in parse(page.text).find_all("a") if a.has("data-tab")}
    assert list(tabs) == ["overview", "dependencies", "graph", "versions", "health", "scorecard"]
    assert tabs["overview"].get("href") == "/ui/services/orders"
    assert tabs["graph"].get("href") == "/ui/services/orders/graph"
    assert tabs["dependencies"].get("aria-current") == "page"
    assert tabs["overview"].get("aria-current") is None
    missing = await signed_in.get("/ui/services/orders/no-such-tab")
    assert missing.status_code == 404


async def test_dependencies_tab_lists_both_directions(
    signed_in: httpx.AsyncClient, shop: Tenant
) -> None:
    page = await signed_in.get("/ui/services/payments/dependencies")
    doc = parse(page.text)
    [calls] = [r for r in doc.by_id("calls-table").find_all("tr") if r.has("data-dependency")]
    assert calls.find_all("a")[0].get("href") == "/ui/services/ledger"
    assert "async" in calls.text and "low" in calls.text
    callers = [r for r in doc.by_id("called-by-table").find_all("tr") if r.has("data-dependency")]
    assert [r.find_all("a")[0].text for r in callers] == ["ledger", "orders"]
    assert "high" in callers[1].text and "sync" in callers[1].text

    orders = parse((await signed_in.get("/ui/services/orders/dependencies")).text)
    text = orders.by_id("calls-table").text
    assert "postgres:orders-db" in text and "external" in text and "data" in text
    assert "No registered service calls it" in orders.by_id("called-by").text


async def test_graph_tab_lists_edges_and_loops_as_text(
    signed_in: httpx.AsyncClient, shop: Tenant
) -> None:
    page = await signed_in.get("/ui/services/orders/graph", params={"depth": "1"})
    assert page.status_code == 200
    doc = parse(page.text)
    box = doc.by_id("service-graph")
    assert box.get("data-graph-url") == "/api/v1/services/orders/graph"
    assert box.get("data-focus") == "orders"
    edges = [li.get("data-edge") for li in doc.by_id("graph-edges").find_all("li")]
    assert sorted(edges) == ["orders→payments", "orders→postgres:orders-db"]
    assert 'id="graph-cycles"' not in page.text
    assert chosen(doc, "graph-depth") == "1"

    deeper = parse((await signed_in.get("/ui/services/orders/graph?depth=3&direction=down")).text)
    edges = [li.get("data-edge") for li in deeper.by_id("graph-edges").find_all("li")]
    assert "ledger→payments" in edges and "payments→ledger" in edges
    loops = [li.get("data-cycle") for li in deeper.by_id("graph-cycles").find_all("li")]
    assert loops == ["ledger payments"]
    in_cycle = [li.get("data-edge") for li in deeper.find_all("li", **{"class": "in-cycle"})]
    assert sorted(in_cycle) == ["ledger→payments", "payments→ledger"]
    # Nothing calls orders: going up, it stands alone.
    up = parse((await signed_in.get("/ui/services/orders/graph?direction=up")).text)
    assert up.by_id("graph-edges").find_all("li") == []


async def test_a_bad_depth_shows_the_default_graph(
    signed_in: httpx.AsyncClient, shop: Tenant
) -> None:
    page = await signed_in.get("/ui/services/orders/graph?depth=99&direction=sideways")
    assert page.status_code == 200
    doc = parse(page.text)
    assert chosen(doc, "graph-depth") == "2"


async def test_the_system_graph_page_lists_every_dependency(
    signed_in: httpx.AsyncClient, shop: Tenant
) -> None:
    page = await signed_in.get("/ui/services/graph")
    assert page.status_code == 200
    doc = parse(page.text)
    assert doc.by_id("service-graph").get("data-graph-url") == "/api/v1/service-graph"
    assert doc.by_id("service-graph").get("data-node-count") == "3"
    edges = [li.get("data-edge") for li in doc.by_id("graph-edges").find_all("li")]
    assert len(edges) == 4
    assert [li.get("data-cycle") for li in doc.by_id("graph-cycles").find_all("li")] == [
        "ledger payments"
    ]
    assert '<script src="/static/vendor/cytoscape/cytoscape.min.js" defer></script>' in page.text


async def test_graph_assets_are_served(client: httpx.AsyncClient) -> None:
    for path in ("/static/service-graph.js", "/static/vendor/cytoscape/cytoscape.min.js",
                 "/static/vendor/cytoscape/cytoscape-dagre.js",
                 "/static/vendor/cytoscape/dagre.min.js"):  # fmt: skip
        assert (await client.get(path)).status_code == 200, path


# --- tenancy and escaping ---------------------------------------------------------------


async def test_another_organisations_service_is_not_found(
    app: FastAPI, client: httpx.AsyncClient, signed_in: httpx.AsyncClient, shop: Tenant
) -> None:
    theirs = await other_org_admin(app)
    await register(client, theirs, "secret-svc", name="Their secret")
    for path in ("/ui/services/secret-svc", "/ui/services/secret-svc/dependencies",
                 "/ui/services/secret-svc/graph"):  # fmt: skip
        response = await signed_in.get(path)
        assert response.status_code == 404, path
        assert "Their secret" not in response.text
    listing = await signed_in.get(LIST)
    assert "secret-svc" not in listing.text
    graph = await signed_in.get("/ui/services/graph")
    assert "secret-svc" not in graph.text


async def test_service_text_is_escaped(
    client: httpx.AsyncClient, signed_in: httpx.AsyncClient, people: Tenant
) -> None:
    evil = "<script>alert(1)</script>"
    await register(
        client, people.headers["operator-a"], "evil", name=evil, description=evil,
        metadata={"x": evil}, tags=["<b>t</b>"],
    )  # fmt: skip
    for path in ("/ui/services", "/ui/services/evil", "/ui/services/evil/graph"):
        page = await signed_in.get(path)
        assert evil not in page.text and "<b>t</b>" not in page.text, path
    page = await signed_in.get("/ui/services/evil")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text


# --- changing a service -----------------------------------------------------------------


async def _read(client: httpx.AsyncClient, headers: dict[str, str], slug: str) -> dict[str, object]:
    response = await client.get(f"{SERVICES}/{slug}", headers=headers)
    assert response.status_code == 200
    data: dict[str, object] = response.json()
    return data


@pytest.mark.parametrize("who", ["viewer-a", "operator-b"])
async def test_only_operators_of_the_owner_see_edit_actions_and_others_are_refused(
    client: httpx.AsyncClient, signed_in_as: SignedIn, shop: Tenant, who: str
) -> None:
    portal = await as_user(signed_in_as, who)
    overview = await portal.get("/ui/services/orders")
    assert 'id="edit-service"' not in overview.text
    deps = await portal.get("/ui/services/orders/dependencies")
    assert 'id="dependency-form"' not in deps.text and "data-remove" not in deps.text
    assert (await portal.get("/ui/services/orders/edit")).status_code == 403
    token = csrf_of(overview)
    posted = await portal.post(
        "/ui/services/orders/edit",
        data={"csrf_token": token, "name": "Hijacked", "lifecycle": "production", "tier": "1",
              "team": "team-a"},
    )  # fmt: skip
    assert posted.status_code == 403
    added = await portal.post(
        "/ui/services/orders/dependencies",
        data={"csrf_token": token, "target": "ledger", "kind": "sync", "criticality": "low"},
    )
    assert added.status_code == 403
    admin = shop.headers["admin-a"]
    assert (await _read(client, admin, "orders"))["name"] == "Orders"
    listed_deps = await client.get(f"{SERVICES}/orders/dependencies", headers=admin)
    assert len(listed_deps.json()["items"]) == 2


async def test_an_operator_edits_the_service_and_the_change_is_audited(
    client: httpx.AsyncClient, signed_in_as: SignedIn, shop: Tenant
) -> None:
    portal = await as_user(signed_in_as, "operator-a")
    overview = await portal.get("/ui/services/orders")
    assert parse(overview.text).by_id("edit-service").get("href") == "/ui/services/orders/edit"
    form = await portal.get("/ui/services/orders/edit")
    assert form.status_code == 200
    assert parse(form.text).by_id("field-tags").get("value") == "checkout, core"
    posted = await portal.post(
        "/ui/services/orders/edit",
        data={"csrf_token": csrf_of(form), "name": "Order service", "description": "New",
              "lifecycle": "deprecated", "tier": "2", "team": "team-a", "system": "",
              "domain": "commerce", "repository_url": "", "api_spec_url": "",
              "tags": "a, b"},
    )  # fmt: skip
    assert posted.status_code == 303
    assert posted.headers["location"] == "/ui/services/orders?done=updated"
    after = await _read(client, shop.headers["admin-a"], "orders")
    assert (after["name"], after["lifecycle"], after["tier"]) == ("Order service", "deprecated", 2)
    assert after["system"] is None and after["repository_url"] is None
    assert after["tags"] == ["a", "b"]
    assert after["links"]  # not in the form: left alone
    audit = await client.get(
        "/api/v1/audit", params={"action": "service.update"}, headers=shop.headers["admin-a"]
    )
    assert audit.json()["items"][0]["after"]["name"] == "Order service"
    shown = await portal.get(posted.headers["location"])
    assert parse(shown.text).by_id("service-notice").text == "Saved."


async def test_a_bad_edit_shows_the_form_again_with_the_field_named(
    client: httpx.AsyncClient, signed_in_as: SignedIn, shop: Tenant
) -> None:
    portal = await as_user(signed_in_as, "operator-a")
    form = await portal.get("/ui/services/orders/edit")
    posted = await portal.post(
        "/ui/services/orders/edit",
        data={"csrf_token": csrf_of(form), "name": "Renamed", "lifecycle": "production",
              "tier": "1", "team": "team-a", "repository_url": "not a url"},
    )  # fmt: skip
    assert posted.status_code == 422
    errors = parse(posted.text).by_id("form-errors").text
    assert "repository_url" in errors
    assert parse(posted.text).by_id("field-name").get("value") == "Renamed"  # kept
    assert (await _read(client, shop.headers["admin-a"], "orders"))["name"] == "Orders"


async def test_an_operator_adds_and_removes_dependencies(
    client: httpx.AsyncClient, signed_in_as: SignedIn, shop: Tenant
) -> None:
    portal = await as_user(signed_in_as, "operator-a")
    page = await portal.get("/ui/services/orders/dependencies")
    token = csrf_of(page)
    added = await portal.post(
        "/ui/services/orders/dependencies",
        data={"csrf_token": token, "target": "ledger", "kind": "async", "criticality": "low",
              "description": "<i>reads</i>"},
    )  # fmt: skip
    assert added.status_code == 303
    page = await portal.get(added.headers["location"])
    assert parse(page.text).by_id("service-notice").text == "Dependency added."
    rows = [
        r for r in parse(page.text).by_id("calls-table").find_all("tr") if r.has("data-dependency")
    ]
    assert len(rows) == 3 and "<i>reads</i>" not in page.text

    duplicate = await portal.post(
        "/ui/services/orders/dependencies",
        data={"csrf_token": token, "target": "ledger", "kind": "sync", "criticality": "low"},
    )
    assert duplicate.status_code == 422
    assert "already depends on ledger" in parse(duplicate.text).by_id("dependency-errors").text
    neither = await portal.post(
        "/ui/services/orders/dependencies",
        data={"csrf_token": token, "kind": "sync", "criticality": "low"},
    )
    assert neither.status_code == 422 and "exactly one" in neither.text

    ledger = next(r for r in rows if "ledger" in r.text)
    removed = await portal.post(
        f"/ui/services/orders/dependencies/{ledger.get('data-dependency')}/remove",
        data={"csrf_token": token},
    )
    assert removed.status_code == 303
    deps = await client.get(f"{SERVICES}/orders/dependencies", headers=shop.headers["admin-a"])
    assert sorted(d["target"] or d["target_resource"] for d in deps.json()["items"]) == [
        "payments", "postgres:orders-db"
    ]  # fmt: skip
    actions = await client.get(
        "/api/v1/audit", params={"action": "service.dependency.remove"},
        headers=shop.headers["admin-a"],
    )  # fmt: skip
    assert len(actions.json()["items"]) == 1


async def test_a_post_without_the_csrf_token_is_refused(
    client: httpx.AsyncClient, signed_in_as: SignedIn, shop: Tenant
) -> None:
    portal = await as_user(signed_in_as, "operator-a")
    posted = await portal.post(
        "/ui/services/orders/dependencies", data={"target": "ledger", "kind": "sync"}
    )
    assert posted.status_code == 403
    deps = await client.get(f"{SERVICES}/orders/dependencies", headers=shop.headers["admin-a"])
    assert len(deps.json()["items"]) == 2


async def test_a_managed_service_says_why_it_cannot_be_edited(
    app: FastAPI, client: httpx.AsyncClient, signed_in_as: SignedIn, shop: Tenant
) -> None:
    await make_managed(app, "orders")
    portal = await as_user(signed_in_as, "operator-a")
    overview = await portal.get("/ui/services/orders")
    doc = parse(overview.text)
    assert "from catalog document" in doc.by_id("managed-badge").text
    assert "catalog repository" in doc.by_id("managed-notice").text
    assert 'id="edit-service"' not in overview.text
    deps = await portal.get("/ui/services/orders/dependencies")
    assert 'id="dependency-form"' not in deps.text
    assert (await portal.get("/ui/services/orders/edit")).status_code == 409
    posted = await portal.post(
        "/ui/services/orders/edit",
        data={"csrf_token": csrf_of(overview), "name": "Hand edit", "lifecycle": "production",
              "tier": "1", "team": "team-a"},
    )  # fmt: skip
    assert posted.status_code == 409
    assert "managed by its catalog document" in posted.text
    added = await portal.post(
        "/ui/services/orders/dependencies",
        data={"csrf_token": csrf_of(overview), "target": "ledger", "kind": "sync",
              "criticality": "low"},
    )  # fmt: skip
    assert added.status_code == 409
    assert (await _read(client, shop.headers["admin-a"], "orders"))["name"] == "Orders"
