"""In a real browser: sign in to the portal, see the home page and its health, sign out;
a wrong password shows the error; /docs renders without leaving this machine."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Page, Request, expect

from loom.web.navigation import NAV
from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, LiveServer
from tests.e2e.conftest import Console

pytestmark = [pytest.mark.sqlite_only, pytest.mark.e2e]


def _sign_in(page: Page, base: str, password: str = ADMIN_PASSWORD) -> None:
    page.goto(f"{base}/ui")
    expect(page).to_have_url(f"{base}/ui/login")
    page.get_by_label("Email").fill(ADMIN_EMAIL)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def test_sign_in_shows_home_with_passing_health(
    page: Page, live_server: LiveServer, console: Console, tmp_path: Path
) -> None:
    _sign_in(page, live_server.url)

    expect(page).to_have_url(f"{live_server.url}/ui")
    expect(page.get_by_test_id("user-email")).to_have_text(ADMIN_EMAIL)
    expect(page.get_by_role("heading", name="Hello, Administrator")).to_be_visible()
    database = page.locator('tr[data-check="database"]')
    expect(database.locator(".badge")).to_have_text("ok")
    expect(page.locator("#health-status")).to_have_text("all checks pass")
    expect(page.get_by_role("navigation", name="Domains").get_by_role("link")).to_have_count(
        len(NAV)  # the admin sees every entry, the admin-only ones too
    )
    page.screenshot(path=tmp_path / "home.png", full_page=True)
    assert console.errors == []


def test_wrong_password_shows_the_error(
    page: Page, live_server: LiveServer, console: Console, tmp_path: Path
) -> None:
    _sign_in(page, live_server.url, password="not-the-password")

    expect(page.locator("#login-error")).to_have_text("Wrong email or password.")
    expect(page).to_have_url(f"{live_server.url}/ui/login")
    expect(page.get_by_label("Email")).to_have_value(ADMIN_EMAIL)
    page.screenshot(path=tmp_path / "login-error.png", full_page=True)
    # The 401 of the page itself is the only complaint.
    assert all("401" in error for error in console.errors), console.errors


def test_sign_in_returns_to_the_page_asked_for_and_sign_out_ends_it(
    page: Page, live_server: LiveServer
) -> None:
    base = live_server.url
    page.goto(f"{base}/ui/incidents")
    expect(page).to_have_url(re.compile(r"/ui/login\?next=%2Fui%2Fincidents$"))
    page.get_by_label("Email").fill(ADMIN_EMAIL)
    page.get_by_label("Password").fill(ADMIN_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{base}/ui/incidents")
    expect(page.get_by_role("heading", name="Incidents", exact=True)).to_be_visible()

    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(f"{base}/ui/login")
    page.goto(f"{base}/ui")
    expect(page).to_have_url(f"{base}/ui/login")


def test_health_panel_refreshes_itself(page: Page, live_server: LiveServer) -> None:
    _sign_in(page, live_server.url)
    expect(page).to_have_url(f"{live_server.url}/ui")
    with page.expect_response("**/ui/fragments/health", timeout=15_000) as refreshed:
        pass
    assert refreshed.value.status == 200
    expect(page.locator('tr[data-check="database"] .badge')).to_have_text("ok")


def test_docs_render_offline(page: Page, live_server: LiveServer, console: Console) -> None:
    host = urlsplit(live_server.url).netloc
    elsewhere: list[str] = []

    def only_this_server(request: Request) -> bool:
        return urlsplit(request.url).netloc == host or request.url.startswith("data:")

    page.route(
        "**/*",
        lambda route: (
            route.continue_()
            if only_this_server(route.request)
            else (elsewhere.append(route.request.url), route.abort())[1]
        ),
    )
    page.goto(f"{live_server.url}/docs")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("Loom")
    expect(page.locator(".opblock").first).to_be_visible()
    assert elsewhere == []
    assert console.errors == []
