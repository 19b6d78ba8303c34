"""In a real browser: the whole-system graph draws a node per service from the API's
JSON, loops in red; clicking a node opens its service page; the layout switch re-lays
the graph out; a service's graph tab follows its depth control; a failing health check
colours its service's node. No console errors (a CSP violation or a script error would
show up there)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, LiveServer
from tests.e2e.conftest import Console
from tests.e2e.test_catalog import shots

pytestmark = [pytest.mark.sqlite_only, pytest.mark.e2e]

SERVICES = ("orders", "payments", "ledger", "catalogue")


@pytest.fixture
def server(live_server: LiveServer) -> LiveServer:
    """orders → payments ⇄ ledger, orders → postgres:orders-db, catalogue alone."""
    with httpx.Client(base_url=live_server.url, timeout=30) as api:
        login = api.post(
            "/api/v1/auth/login", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}
        )
        assert login.status_code == 200, login.text

        def post(path: str, body: dict[str, Any]) -> None:
            response = api.post(path, json=body)
            assert response.status_code == 201, response.text

        post("/api/v1/teams", {"slug": "shop", "name": "Shop"})
        for slug in SERVICES:
            post("/api/v1/services", {"slug": slug, "name": slug.title(), "team": "shop",
                                      "lifecycle": "production", "tier": 2})  # fmt: skip
        post("/api/v1/services/orders/dependencies", {"target": "payments"})
        post("/api/v1/services/orders/dependencies", {"target_resource": "postgres:orders-db"})
        post("/api/v1/services/payments/dependencies", {"target": "ledger"})
        post("/api/v1/services/ledger/dependencies", {"target": "payments", "kind": "async"})
    return live_server


def _sign_in(page: Page, base: str, path: str) -> None:
    page.goto(f"{base}{path}")
    page.get_by_label("Email").fill(ADMIN_EMAIL)
    page.get_by_label("Password").fill(ADMIN_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{base}{path}")


def _drawn(page: Page) -> None:
    expect(page.locator("#service-graph")).to_have_attribute("data-ready", "true")


def _node_at(page: Page, slug: str) -> tuple[float, float]:
    """Where a service's node is on the screen (cytoscape's rendered position, plus the
    canvas box's place in the page)."""
    box = page.locator("#service-graph").bounding_box()
    assert box is not None
    spot = page.evaluate(
        "slug => window.loomGraph.getElementById('s:' + slug).renderedPosition()", slug
    )
    return box["x"] + spot["x"], box["y"] + spot["y"]


def test_the_system_graph_draws_every_service_and_opens_one_on_click(
    server: LiveServer, page: Page, console: Console, tmp_path: Path
) -> None:
    base = server.url
    _sign_in(page, base, "/ui/services/graph")
    _drawn(page)
    graph = page.locator("#service-graph")
    expect(graph).to_have_attribute("data-nodes", "4")
    expect(graph).to_have_attribute("data-layout", "dagre")
    slugs = page.evaluate("window.loomGraph.nodes('[slug]').map(n => n.data('slug')).sort()")
    assert slugs == sorted(SERVICES)
    # The outside resource is drawn too, and the two services calling each other round
    # are marked as a loop.
    assert page.evaluate("window.loomGraph.nodes('[?resource]').length") == 1
    looping = page.evaluate(
        "window.loomGraph.edges('.in-cycle').map(e => e.source().data('slug')).sort()"
    )
    assert looping == ["ledger", "payments"]
    # Every node has a health hook, "unknown" while no service has a health check.
    assert (
        page.evaluate("window.loomGraph.nodes('[slug]').map(n => n.data('health'))")
        == ["unknown"] * 4
    )
    page.screenshot(path=shots(tmp_path) / "service-graph.png", full_page=True)

    before = page.evaluate("window.loomGraph.getElementById('s:orders').position()")
    page.get_by_label("Layout").select_option("cose")
    expect(graph).to_have_attribute("data-layout", "cose")
    after = page.evaluate("window.loomGraph.getElementById('s:orders').position()")
    assert after != before

    x, y = _node_at(page, "payments")
    page.mouse.click(x, y)
    expect(page).to_have_url(f"{base}/ui/services/payments")
    expect(page.locator("h1")).to_contain_text("Payments")
    assert console.errors == []


def test_a_service_graph_tab_follows_its_depth(
    server: LiveServer, page: Page, console: Console
) -> None:
    base = server.url
    _sign_in(page, base, "/ui/services/orders/graph?depth=1&direction=down")
    _drawn(page)
    assert page.evaluate("window.loomGraph.nodes('[slug]').length") == 2  # orders, payments
    assert page.evaluate("window.loomGraph.nodes('[?focus]').map(n => n.data('slug'))") == [
        "orders"
    ]
    page.get_by_label("Depth").select_option("2")
    expect(page).to_have_url(re.compile(r".*/ui/services/orders/graph\?depth=2&direction=down$"))
    _drawn(page)
    assert page.evaluate("window.loomGraph.nodes('[slug]').length") == 3  # and ledger
    page.get_by_label("Colour by").select_option("tier")
    expect(page.locator("#service-graph")).to_have_attribute("data-colour", "tier")
    expect(page.locator("#graph-legend li")).to_contain_text(["tier 1", "tier 2", "tier 3"])
    assert console.errors == []


def test_graph_nodes_are_coloured_by_health_when_a_check_fails(
    server: LiveServer, page: Page, console: Console
) -> None:
    base = server.url
    with httpx.Client(base_url=base, timeout=30) as api:
        login = api.post(
            "/api/v1/auth/login", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}
        )
        assert login.status_code == 200, login.text
        # A host outside the allow-list: the run fails at once, no network needed.
        check = {"name": "ping", "url": "http://10.1.2.3:9/health"}
        assert api.post("/api/v1/services/orders/checks", json=check).status_code == 201
        assert api.post("/api/v1/services/orders/checks/run").status_code == 200
    _sign_in(page, base, "/ui/services/graph")
    _drawn(page)
    # A known status: the graph starts coloured by health, failing in red.
    expect(page.locator("#service-graph")).to_have_attribute("data-colour", "health")
    painted = page.evaluate(
        "Object.fromEntries(window.loomGraph.nodes('[slug]')"
        ".map(n => [n.data('slug'), [n.data('health'), n.data('colour')]]))"
    )
    assert painted["orders"] == ["failing", "#cf222e"]
    assert {slug: health for slug, (health, _c) in painted.items() if slug != "orders"} == {
        "payments": "unknown", "ledger": "unknown", "catalogue": "unknown",
    }  # fmt: skip
    expect(page.locator("#graph-legend li")).to_contain_text(["passing", "degraded", "failing"])
    assert console.errors == []
